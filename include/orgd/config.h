/*
 * config: orgd's configuration, read once from the environment (API.md,
 * "Operations"). The struct owns its strings (copies of the environment).
 */
#ifndef ORGD_CONFIG_H
#define ORGD_CONFIG_H

#include <stdint.h>

struct config {
	const char *socket;      /* ORGD_SOCKET: the FastCGI unix socket */
	const char *socket_user; /* ORGD_SOCKET_USER: its owner (nginx's worker user), or NULL */
	int workers;             /* ORGD_WORKERS */
	const char *db_host, *db_socket, *db_name, *db_user, *db_password;
	unsigned db_port;
	const char *key_dir;        /* ORGD_KEY_DIR */
	int64_t session_ttl;        /* ORGD_SESSION_TTL, seconds */
	const char *token_iss;      /* ORGD_TOKEN_ISS */
	const char *token_aud;      /* ORGD_TOKEN_AUD */
	int scrypt_log2n;           /* ORGD_SCRYPT_LOG2N (14..20) */
	const char *cron_secret;    /* ORGD_CRON_SECRET */
	const char *pay_api_base;   /* ORGD_PAY_API_BASE */
	const char *pay_secret;     /* ORGD_PAY_SECRET_KEY */
	const char *webhook_secret; /* ORGD_PAY_WEBHOOK_SECRET */
	int64_t clock_offset;       /* ORGD_CLOCK_OFFSET: seconds added to the clock (tests) */
};

/* Fill c from the environment; on a bad value print why to stderr and return -1. */
int config_load(struct config *c);

/* The process-wide configuration, set once by main before any worker starts. */
extern struct config cfg;

/* Seconds since the epoch as orgd sees them: the clock plus ORGD_CLOCK_OFFSET. */
int64_t clock_now(void);

/* t as an RFC 3339 UTC string ("2026-11-27T22:19:00Z") in arena memory. */
struct arena;
const char *clock_rfc3339(int64_t t, struct arena *a);

#endif
