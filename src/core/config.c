/*
 * config: reading orgd's environment into struct config, and the clock.
 */
#include "orgd/config.h"
#include "orgd/mem.h"

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

int config_load(struct config *c)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int64_t workers, port, ttl, log2n, offset;
	if (env_int("ORGD_WORKERS", ncpu > 0 ? ncpu : 2, 1, 256, &workers) ||
	    env_int("ORGD_DB_PORT", 3306, 1, 65535, &port) ||
	    env_int("ORGD_SESSION_TTL", 43200, 60, 30 * 86400, &ttl) ||
	    env_int("ORGD_SCRYPT_LOG2N", 17, 14, 20, &log2n) ||
	    env_int("ORGD_CLOCK_OFFSET", 0, -(int64_t)100 * 365 * 86400, (int64_t)100 * 365 * 86400,
		    &offset))
		return -1;
	*c = (struct config){
		.socket = env_str("ORGD_SOCKET", "var/run/orgd.sock"),
		.socket_user = env_str("ORGD_SOCKET_USER", NULL),
		.workers = (int)workers,
		.db_host = env_str("ORGD_DB_HOST", NULL),
		.db_socket = env_str("ORGD_DB_SOCKET", NULL),
		.db_name = env_str("ORGD_DB_NAME", "orgd"),
		.db_user = env_str("ORGD_DB_USER", "orgd"),
		.db_password = env_str("ORGD_DB_PASSWORD", NULL),
		.db_port = (unsigned)port,
		.key_dir = env_str("ORGD_KEY_DIR", "var/keys"),
		.session_ttl = ttl,
		.token_iss = env_str("ORGD_TOKEN_ISS", "orgd"),
		.token_aud = env_str("ORGD_TOKEN_AUD", "rule-engine"),
		.scrypt_log2n = (int)log2n,
		.cron_secret = env_str("ORGD_CRON_SECRET", NULL),
		.pay_api_base = env_str("ORGD_PAY_API_BASE", NULL),
		.pay_secret = env_str("ORGD_PAY_SECRET_KEY", NULL),
		.webhook_secret = env_str("ORGD_PAY_WEBHOOK_SECRET", NULL),
		.clock_offset = offset,
	};
	return 0;
}

int64_t clock_now(void)
{
	return (int64_t)time(NULL) + cfg.clock_offset;
}

const char *clock_rfc3339(int64_t t, struct arena *a)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char s[32];
	gmtime_r(&tt, &tm);
	strftime(s, sizeof s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return arena_strndup(a, s, strlen(s));
}
