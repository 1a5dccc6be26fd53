/*
 * main: orgd's entry point. Reads the configuration from the environment
 * (config.h, API.md "Operations") and runs the master.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "orgd/config.h"
#include "orgd/db.h"
#include "orgd/mailer.h"
#include "orgd/master.h"
#include "orgd/pay.h"

static const char usage[] =
	"usage: orgd [--mailer]\n"
	"  The AI Rule Engine's account and billing backend: a FastCGI master and workers.\n"
	"  Configured by environment variables (ORGD_SOCKET, ORGD_WORKERS, ORGD_DB_*,\n"
	"  ORGD_KEY_DIR, ...): see README.md. Stop with SIGTERM; reload keys with SIGHUP.\n"
	"  --mailer: deliver the outbox over SMTP (ORGD_SMTP_URL) instead.\n";

int main(int argc, char **argv)
{
	bool mailer = argc == 2 && strcmp(argv[1], "--mailer") == 0;
	if (argc > 1 && !mailer) {
		fputs(usage, strcmp(argv[1], "--help") == 0 ? stdout : stderr);
		return strcmp(argv[1], "--help") == 0 ? 0 : 2;
	}
	if (config_load(&cfg) != 0)
		return 2;
	config_apply(&cfg);
	if (db_library_init() != ERR_OK || pay_global_init() != ERR_OK) {
		fputs("orgd: cannot initialise the MySQL or curl client library\n", stderr);
		return 1;
	}
	int status = mailer ? mailer_main() : master_run();
	pay_global_end();
	db_library_end();
	return status;
}
