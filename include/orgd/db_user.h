/*
 * db_user: users, sessions and failed sign-ins. Returned strings are arena
 * memory of the caller.
 */
#ifndef ORGD_DB_USER_H
#define ORGD_DB_USER_H

#include <stdint.h>

#include "orgd/error.h"
#include "orgd/role.h"
#include "orgd/mem.h"

struct user {
	const char *id, *email, *name;
	const char *password_hash; /* never serialised */
};

/*
 * Insert a user and, in the same transaction, turn every invitation of that
 * email into an active membership. ERR_CONFLICT if the email is taken.
 */
err_t db_user_signup(const char *id, const char *email, const char *name, const char *hash,
		     int64_t now);
/* The user with this (normalised) email, or ERR_NOT_FOUND. */
err_t db_user_by_email(const char *email, struct arena *a, struct user *u);

/* Record a new session of user_id lasting until exp. */
err_t db_session_create(const char *sid, const char *user_id, int64_t now, int64_t exp);
/* What the authentication query learns of the caller besides "the session is live". */
struct session_user {
	enum role role;           /* the active membership in org_id now; ROLE_NONE if none */
	const char *email, *name; /* the user's */
};

/*
 * One round trip for every authenticated request: ERR_OK if sid is a live
 * session of user_id and the user exists (else ERR_UNAUTHENTICATED), with
 * the user's email and name and their role in org_id (org_id may be "").
 */
err_t db_session_member(const char *sid, const char *user_id, const char *org_id, struct arena *a,
			struct session_user *out);
/* Revoke sid (idempotent). */
err_t db_session_revoke(const char *sid, int64_t now);

/*
 * Record a sign-in attempt for email (*id names it), and count the attempts
 * after since, this one included, in *count. An attempt that stays recorded
 * is a failure; db_sweep() drops them after a day.
 */
err_t db_login_attempt(const char *email, int64_t now, int64_t since, struct arena *a, int64_t *id,
		       int64_t *count);
/* Take back attempt id: it succeeded, or was refused before it was tried. */
err_t db_login_attempt_forget(int64_t id);

#endif
