/*
 * session: who is calling. Turns a request's bearer token into req->caller
 * (token.h's checks, then the session row: at most one database round trip),
 * issues session tokens, and publishes the verification keys. Owns the
 * worker's key ring pointer (the master owns the ring itself).
 */
#ifndef ORGD_SESSION_H
#define ORGD_SESSION_H

#include "orgd/http.h"
#include "orgd/json.h"

struct keyring;

/* Use keys for signing and verifying from now on (borrowed, not freed). */
void session_init(struct keyring *keys);

/* AUTH_SESSION: a valid, unrevoked session of an existing user; else ERR_UNAUTHENTICATED. */
err_t session_authenticate(struct req *r);

/*
 * AUTH_ORG: as session_authenticate, and the token names an active
 * organization of which the user is, in the database now, an active member
 * (caller.role is that membership's role). No active organization, or no
 * longer a member: ERR_FORBIDDEN.
 */
err_t session_authenticate_org(struct req *r);

/* Sign a session token for the given claims into out. */
err_t session_token(const char *user_id, const char *session_id, const char *org_id, enum role role,
		    int64_t iat, int64_t exp, struct buf *out);

/* Write the JWK Set of the live verification keys. */
void session_jwks(struct jw *w);

#endif
