/*
 * db_user: users, their email tokens (verification, password reset),
 * sessions and failed sign-ins. Returned strings are arena memory of the
 * caller. A write that causes a message writes its outbox row in its own
 * transaction (db_mail.h): the message is sent afterwards by the mailer.
 */
#ifndef ORGD_DB_USER_H
#define ORGD_DB_USER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orgd/db_mail.h"
#include "orgd/digest.h"
#include "orgd/error.h"
#include "orgd/mem.h"
#include "orgd/role.h"

struct user {
	const char *id, *email, *name;
	const char *password_hash; /* never serialised */
	bool email_verified;
};

/* An email token as stored: only its SHA-256, and when it stops working. */
struct email_token {
	unsigned char hash[DIGEST_LEN];
	int64_t expires;
};

/*
 * Insert a user (email not yet verified) with its verification token and
 * email, in one transaction. ERR_CONFLICT if the email is taken.
 */
err_t db_user_signup(const struct user *u, int64_t now, const struct email_token *t,
		     const struct db_mail *m);
/* The user with this (normalised) email, or ERR_NOT_FOUND. */
err_t db_user_by_email(const char *email, struct arena *a, struct user *u);
/* The user with this id, or ERR_NOT_FOUND. */
err_t db_user_by_id(const char *id, struct arena *a, struct user *u);

/*
 * Use a verification token: its user's email is verified from now on, and
 * *out is that user. ERR_NOT_FOUND: unknown, used or expired.
 */
err_t db_email_verify(const unsigned char hash[DIGEST_LEN], int64_t now, struct arena *a,
		      struct user *out);
/*
 * A new verification token and email for user_id: ERR_CONFLICT if verified
 * already, ERR_RATE_LIMITED past one a minute or ten a day (sign-up's counts).
 */
err_t db_verify_resend(const char *user_id, int64_t now, const struct email_token *t,
		       const struct db_mail *m);

/* Record a password-reset request for email (the mailer issues its token, or nothing). */
err_t db_reset_request(const char *email, int64_t now);
/*
 * Use a reset token: the password becomes hash, every session of the user is
 * revoked and the sign-in throttle of their email cleared. ERR_NOT_FOUND: a
 * bad token.
 */
err_t db_reset_confirm(const unsigned char token[DIGEST_LEN], const char *hash, int64_t now);
/* Set user_id's password to hash and revoke every session but keep_sid. */
err_t db_password_change(const char *user_id, const char *keep_sid, const char *hash, int64_t now);

/* Record a new session of user_id lasting until exp. */
err_t db_session_create(const char *sid, const char *user_id, int64_t now, int64_t exp);
/* What the authentication query learns of the caller besides "the session is live". */
struct session_user {
	enum role role;           /* the active membership in org_id now; ROLE_NONE if none */
	const char *email, *name; /* the user's */
	bool email_verified;
};

/*
 * One round trip for every authenticated request: ERR_OK if sid is a live
 * session of user_id and the user exists (else ERR_UNAUTHENTICATED), with
 * the user's email and name and their role in org_id (org_id may be "").
 */
err_t db_session_member(const char *sid, const char *user_id, const char *org_id, struct arena *a,
			struct session_user *out);
struct org_ref;
/*
 * As db_session_member, in the same one round trip, with the user's active
 * memberships (at most max, oldest first) instead of one organization's role
 * (a user without any membership costs a second round trip).
 */
err_t db_session_orgs(const char *sid, const char *user_id, int64_t max, struct arena *a,
		      struct session_user *out, struct org_ref **orgs, size_t *n);
/* Revoke sid (idempotent). */
err_t db_session_revoke(const char *sid, int64_t now);

/* The failed sign-ins within the window, counted as the throttle of API.md does. */
struct login_counts {
	int64_t pair, email, addr; /* this email from this address; this email; this address */
};

/*
 * Record a sign-in attempt for email from addr (*id names it), and count the
 * attempts since `since`, this one included.
 */
err_t db_login_attempt(const char *email, const char *addr, int64_t now, int64_t since,
		       struct arena *a, int64_t *id, struct login_counts *count);
/* Take back attempt id: it succeeded, or was refused before it was tried. */
err_t db_login_attempt_forget(int64_t id);

#endif
