/*
 * config: reading orgd's environment into struct config (see config.h).
 */
#include "orgd/config.h"

#include "orgd/clock.h"

#include <errno.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

struct config cfg;

static const char *env_str(const char *name, const char *def)
{
	const char *v = getenv(name);
	return v && *v ? v : def;
}

static int env_int(const char *name, int64_t def, int64_t min, int64_t max, int64_t *out)
{
	const char *v = getenv(name);
	if (!v || !*v) {
		*out = def;
		return 0;
	}
	char *end;
	errno = 0;
	long long n = strtoll(v, &end, 10);
	if (errno || *end || n < min || n > max) {
		fprintf(stderr, "orgd: %s must be an integer in %lld..%lld\n", name, (long long)min,
			(long long)max);
		return -1;
	}
	*out = n;
	return 0;
}

#define WORKERS_PER_CPU 8
#define WORKERS_MAX     64 /* by default: each holds a database connection */

int config_load(struct config *c)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int64_t workers, port, ttl, log2n, offset, connect_ms, timeout_ms, smtp_ms, invite_ttl,
		hashes;
	/* blocking workers: each waits on the database much of the time, and more than the
	   cores serve more (tests/bench/README.md: 8 per core served best) */
	int64_t per_cpu = (ncpu > 0 ? ncpu : 1) * WORKERS_PER_CPU;
	if (env_int("ORGD_WORKERS", per_cpu < WORKERS_MAX ? per_cpu : WORKERS_MAX, 1, 256,
		    &workers) ||
	    env_int("ORGD_DB_PORT", 3306, 1, 65535, &port) ||
	    env_int("ORGD_SESSION_TTL", 43200, 60, 30 * 86400, &ttl) ||
	    env_int("ORGD_SCRYPT_LOG2N", 17, 14, 20, &log2n) ||
	    env_int("ORGD_CLOCK_OFFSET", 0, -(int64_t)100 * 365 * 86400, (int64_t)100 * 365 * 86400,
		    &offset) ||
	    env_int("ORGD_PAY_CONNECT_TIMEOUT_MS", 2000, 100, 60000, &connect_ms) ||
	    env_int("ORGD_PAY_TIMEOUT_MS", 5000, 100, 120000, &timeout_ms) ||
	    env_int("ORGD_SMTP_TIMEOUT_MS", 10000, 100, 120000, &smtp_ms) ||
	    env_int("ORGD_INVITE_TTL", 7 * 86400, 60, 365 * 86400, &invite_ttl))
		return -1;
	/* hashes at once: half the workers (the others keep serving), at most the cores */
	int64_t half = workers / 2 > 0 ? workers / 2 : 1;
	if (env_int("ORGD_HASH_CONCURRENCY", half < ncpu ? half : (ncpu > 0 ? ncpu : 1), 1, 256,
		    &hashes))
		return -1;
	*c = (struct config){
		.socket = env_str("ORGD_SOCKET", "var/run/orgd.sock"),
		.socket_user = env_str("ORGD_SOCKET_USER", NULL),
		.workers = (int)workers,
		.key_dir = env_str("ORGD_KEY_DIR", "var/keys"),
		.clock_offset = offset,
		.db =
			{
				.host = env_str("ORGD_DB_HOST", NULL),
				.socket = env_str("ORGD_DB_SOCKET", NULL),
				.name = env_str("ORGD_DB_NAME", "orgd"),
				.user = env_str("ORGD_DB_USER", "orgd"),
				.password = env_str("ORGD_DB_PASSWORD", NULL),
				.port = (unsigned)port,
			},
		.auth =
			{
				.iss = env_str("ORGD_TOKEN_ISS", "orgd"),
				.aud = env_str("ORGD_TOKEN_AUD", "rule-engine"),
				.session_ttl = ttl,
				.scrypt_log2n = (int)log2n,
				.cron_secret = env_str("ORGD_CRON_SECRET", NULL),
			},
		.pay =
			{
				.api_base = env_str("ORGD_PAY_API_BASE", NULL),
				.secret_key = env_str("ORGD_PAY_SECRET_KEY", NULL),
				.webhook_secret = env_str("ORGD_PAY_WEBHOOK_SECRET", NULL),
				.connect_timeout_ms = (long)connect_ms,
				.timeout_ms = (long)timeout_ms,
			},
		.mail =
			{
				.smtp_url = env_str("ORGD_SMTP_URL", NULL),
				.user = env_str("ORGD_SMTP_USER", NULL),
				.password = env_str("ORGD_SMTP_PASSWORD", NULL),
				.from = env_str("ORGD_MAIL_FROM", "orgd <no-reply@localhost>"),
				.timeout_ms = (long)smtp_ms,
			},
		.api =
			{
				.app_url = env_str("ORGD_APP_URL", "http://127.0.0.1:8080"),
				.mail_from = env_str("ORGD_MAIL_FROM", "orgd <no-reply@localhost>"),
				.invite_ttl = invite_ttl,
			},
		.hash_limit = (int)hashes,
	};
	return 0;
}

void config_apply(const struct config *c)
{
	clock_set_offset(c->clock_offset);
	db_configure(&c->db);
	session_configure(&c->auth);
	pay_configure(&c->pay);
	mail_configure(&c->mail);
	api_configure(&c->api);
}
