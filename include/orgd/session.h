/*
 * session: who is calling. Turns a request's bearer token into a struct
 * caller (token.h's checks, then the session row: one database round trip),
 * checks the cron secret, issues session tokens, and publishes the
 * verification keys. Owns the worker's key ring pointer (the master owns the
 * ring itself) and the settings of sessions and passwords.
 */
#ifndef ORGD_SESSION_H
#define ORGD_SESSION_H

#include <stdint.h>

#include "orgd/caller.h"
#include "orgd/error.h"
#include "orgd/json.h"
#include "orgd/mem.h"

struct keyring;

struct auth_settings {
	const char *iss, *aud;   /* ORGD_TOKEN_ISS, ORGD_TOKEN_AUD */
	int64_t session_ttl;     /* ORGD_SESSION_TTL, seconds */
	int scrypt_log2n;        /* ORGD_SCRYPT_LOG2N (14..20) */
	const char *cron_secret; /* ORGD_CRON_SECRET; NULL: the sweeps refuse everyone */
};

/* Keep s (its strings borrowed) for the life of the process; once, before the workers. */
void session_configure(const struct auth_settings *s);
/* The settings session_configure() was given. */
const struct auth_settings *session_settings(void);

/* Use keys for signing and verifying from now on (borrowed, not freed). */
void session_init(struct keyring *keys);

/*
 * A valid, unrevoked session of an existing user from the Authorization
 * header's bearer token, into *c (email and name in a); else
 * ERR_UNAUTHENTICATED. c->role is the membership in c->org_id as the
 * database says now (ROLE_NONE if none or no active organization).
 */
err_t session_authenticate(const char *authorization, struct arena *a, struct caller *c);

/*
 * As session_authenticate, in the same one round trip, with every active
 * membership of the user in c->orgs (c->role: the one of c->org_id, if any).
 */
err_t session_authenticate_orgs(const char *authorization, struct arena *a, struct caller *c);

/*
 * As session_authenticate, and the token names an active organization of
 * which the user is, now, an active member. No active organization, or no
 * longer a member: ERR_FORBIDDEN with *msg saying which.
 */
err_t session_authenticate_org(const char *authorization, struct arena *a, struct caller *c,
			       const char **msg);

/* ERR_OK if authorization is "Bearer <the cron secret>" (constant time), else ERR_UNAUTHENTICATED.
 */
err_t session_cron(const char *authorization);

/* Sign a session token for the given claims into out. */
err_t session_token(const char *user_id, const char *session_id, const char *org_id, enum role role,
		    int64_t iat, int64_t exp, struct buf *out);

/* Write the JWK Set of the live verification keys. */
void session_jwks(struct jw *w);

#endif
