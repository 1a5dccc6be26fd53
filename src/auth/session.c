/*
 * session: from a bearer token to req->caller, and back (see session.h).
 * Authentication costs at most one database round trip: the token's
 * signature, claims and times are checked in memory (token.c, with its cache
 * of verified signatures), then one query checks the session row, the user
 * and, for organization routes, the membership as it stands now.
 */
#include "orgd/session.h"

#include <string.h>
#include <strings.h>

#include "orgd/config.h"
#include "orgd/db_user.h"
#include "orgd/keyring.h"
#include "orgd/token.h"

static struct keyring *ring;

void session_init(struct keyring *keys)
{
	ring = keys;
}

static struct token_cfg token_config(void)
{
	return (struct token_cfg){.iss = cfg.token_iss, .aud = cfg.token_aud, .leeway = 60};
}

/* The token of "Authorization: Bearer <token>" (scheme case-insensitive, one space). */
static const char *bearer(const char *h)
{
	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return NULL;
	return h + 7;
}

/* Verify the token and fill the caller's ids; no database yet. */
static err_t verify(struct req *r)
{
	const char *tok = bearer(r->authorization);
	if (!tok || !ring)
		return ERR_UNAUTHENTICATED;
	struct claims c;
	struct token_cfg tc = token_config();
	if (token_verify(ring, &tc, tok, strlen(tok), clock_now(), &r->arena, &c) != ERR_OK)
		return ERR_UNAUTHENTICATED;
	struct caller *who = &r->caller;
	memcpy(who->user_id, c.sub, sizeof who->user_id);
	memcpy(who->session_id, c.sid, sizeof who->session_id);
	memcpy(who->org_id, c.org, sizeof who->org_id);
	who->role = ROLE_NONE; /* the token's role is a hint for clients only */
	who->exp = c.exp;
	return ERR_OK;
}

err_t session_authenticate(struct req *r)
{
	err_t err = verify(r);
	if (err != ERR_OK)
		return err;
	struct caller *who = &r->caller;
	struct session_user su;
	err = db_session_member(who->session_id, who->user_id, who->org_id, &r->arena, &su);
	if (err == ERR_OK) {
		who->role = su.role;
		who->email = su.email;
		who->name = su.name;
	}
	return err;
}

err_t session_authenticate_org(struct req *r)
{
	err_t err = session_authenticate(r);
	if (err != ERR_OK)
		return err;
	if (!r->caller.org_id[0] || r->caller.role == ROLE_NONE) {
		r->err_msg = r->caller.org_id[0]
				     ? "You are not a member of this organization."
				     : "Choose an organization first (POST /v1/auth/switch).";
		return ERR_FORBIDDEN;
	}
	return ERR_OK;
}

err_t session_token(const char *user_id, const char *session_id, const char *org_id, enum role role,
		    int64_t iat, int64_t exp, struct buf *out)
{
	struct claims c = {.iat = iat, .exp = exp};
	if (strlen(user_id) > TOKEN_ID_MAX || strlen(session_id) > TOKEN_ID_MAX ||
	    (org_id && strlen(org_id) > TOKEN_ID_MAX))
		return ERR_INTERNAL;
	strcpy(c.sub, user_id);
	strcpy(c.sid, session_id);
	if (org_id && role != ROLE_NONE) {
		strcpy(c.org, org_id);
		strcpy(c.role, role_name(role));
	}
	struct token_cfg tc = token_config();
	return token_sign(ring, &tc, &c, out);
}

void session_jwks(struct jw *w)
{
	keyring_jwks(ring, w);
}
