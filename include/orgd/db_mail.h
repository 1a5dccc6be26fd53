/*
 * db_mail: the outbox (API.md "Email"): a message is a row written in the
 * transaction of the change that causes it, and delivered afterwards by the
 * mailer, which claims due rows with SKIP LOCKED under a lease (so mailers on
 * several hosts never take one row at once), and marks each sent (its body
 * is then emptied: it held a token's link) or due again after a backoff.
 * Password-reset requests are turned into tokens and messages here too, by
 * the mailer, so that the request itself does the same work for every email.
 */
#ifndef ORGD_DB_MAIL_H
#define ORGD_DB_MAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orgd/digest.h"
#include "orgd/error.h"
#include "orgd/mem.h"

/* A message to queue. */
struct db_mail {
	const char *to, *subject, *body;
	const char *message_id; /* "<...@...>": the same for every attempt */
};

/* A queued message, as the mailer claims it. */
struct outbox_row {
	int64_t id, created, attempts;
	const char *message_id, *to, *subject, *body;
};

/*
 * Claim up to limit due messages for lease seconds (each attempt counted),
 * in one transaction; *n of them in *out.
 */
err_t db_outbox_claim(int64_t now, int64_t lease, int64_t limit, struct arena *a,
		      struct outbox_row **out, size_t *n);
/* Message id was delivered. */
err_t db_outbox_sent(int64_t id, int64_t now);
/* Message id failed: due again at next, or (give_up) never again. */
err_t db_outbox_retry(int64_t id, int64_t next, bool give_up, int64_t now);
/* Messages not yet sent nor given up (*n), and those given up (*failed). */
err_t db_outbox_backlog(int64_t *n, int64_t *failed);

/*
 * What the mailer issues for a reset request: fills *t and *m for the user
 * (token and message, the message's strings in a); returns ERR_OK.
 */
struct user;
struct email_token;
typedef err_t (*db_reset_fn)(void *ctx, const struct user *u, struct email_token *t,
			     struct db_mail *m, struct arena *a);

/*
 * Take the oldest unhandled password-reset request, in one transaction: if
 * its email has an account and made at most five requests in a day, make(ctx,
 * ...) gives the token and message, written with it. *done is false when
 * there was none.
 */
err_t db_reset_next(int64_t now, db_reset_fn make, void *ctx, struct arena *a, bool *done);

#endif
