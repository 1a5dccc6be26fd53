/*
 * config: orgd's configuration, read once from the environment (API.md,
 * "Operations"), and handed to each layer that needs a part of it. The
 * strings point into the environment, which lives as long as the process.
 */
#ifndef ORGD_CONFIG_H
#define ORGD_CONFIG_H

#include <stdint.h>

#include "orgd/api.h"
#include "orgd/db.h"
#include "orgd/mail.h"
#include "orgd/pay.h"
#include "orgd/session.h"

struct config {
	const char *socket;        /* ORGD_SOCKET: the FastCGI unix socket */
	const char *socket_user;   /* ORGD_SOCKET_USER: its owner (nginx's worker user), or NULL */
	int workers;               /* ORGD_WORKERS */
	const char *key_dir;       /* ORGD_KEY_DIR */
	int64_t clock_offset;      /* ORGD_CLOCK_OFFSET: seconds added to the clock (tests) */
	struct db_settings db;     /* ORGD_DB_* */
	struct auth_settings auth; /* sessions, passwords, the cron secret */
	struct pay_settings pay;   /* ORGD_PAY_* */
	struct mail_settings mail; /* ORGD_SMTP_*, ORGD_MAIL_FROM */
	struct api_settings api;   /* ORGD_APP_URL, ORGD_INVITE_TTL */
	int hash_limit;            /* ORGD_HASH_CONCURRENCY: password hashes at once on a host */
};

/* Fill c from the environment; on a bad value print why to stderr and return -1. */
int config_load(struct config *c);

/* Hand each layer its part of c (db, session, pay, the clock); once, before any fork. */
void config_apply(const struct config *c);

/* The process-wide configuration, set once by main before any worker starts. */
extern struct config cfg;

#endif
