/*
 * session: from a bearer token to a struct caller, and back (see session.h).
 * Authentication costs at most one database round trip: the token's
 * signature, claims and times are checked in memory (token.c, with its cache
 * of verified signatures), then one query checks the session row, the user
 * and, for organization routes, the membership as it stands now.
 */
#include "orgd/session.h"

#include <string.h>
#include <strings.h>

#include "orgd/clock.h"
#include "orgd/db_user.h"
#include "orgd/digest.h"
#include "orgd/keyring.h"
#include "orgd/token.h"

static struct keyring *ring;
static struct auth_settings settings;

void session_configure(const struct auth_settings *s)
{
	settings = *s;
}

const struct auth_settings *session_settings(void)
{
	return &settings;
}

void session_init(struct keyring *keys)
{
	ring = keys;
}

static struct token_cfg token_config(void)
{
	return (struct token_cfg){.iss = settings.iss, .aud = settings.aud, .leeway = 60};
}

/* The token of "Authorization: Bearer <token>" (scheme case-insensitive, one space). */
static const char *bearer(const char *h)
{
	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return NULL;
	return h + 7;
}

/* Verify the token and fill the caller's ids; no database yet. */
static err_t verify(const char *authorization, struct arena *a, struct caller *who)
{
	const char *tok = bearer(authorization);
	if (!tok || !ring)
		return ERR_UNAUTHENTICATED;
	struct claims c;
	struct token_cfg tc = token_config();
	if (token_verify(ring, &tc, tok, strlen(tok), clock_now(), a, &c) != ERR_OK)
		return ERR_UNAUTHENTICATED;
	if (strlen(c.sub) > ID_LEN_MAX || strlen(c.sid) > ID_LEN_MAX || strlen(c.org) > ID_LEN_MAX)
		return ERR_UNAUTHENTICATED; /* no user, session or organization of ours */
	memcpy(who->user_id, c.sub, sizeof who->user_id);
	memcpy(who->session_id, c.sid, sizeof who->session_id);
	memcpy(who->org_id, c.org, sizeof who->org_id);
	who->role = ROLE_NONE; /* the token's role is a hint for clients only */
	who->exp = c.exp;
	return ERR_OK;
}

err_t session_authenticate(const char *authorization, struct arena *a, struct caller *who)
{
	*who = (struct caller){0};
	err_t err = verify(authorization, a, who);
	if (err != ERR_OK)
		return err;
	struct session_user su;
	err = db_session_member(who->session_id, who->user_id, who->org_id, a, &su);
	if (err == ERR_OK) {
		who->role = su.role;
		who->email = su.email;
		who->name = su.name;
		who->email_verified = su.email_verified;
	}
	return err;
}

#define ORGS_OF_A_SESSION_MAX 1000

err_t session_authenticate_orgs(const char *authorization, struct arena *a, struct caller *who)
{
	*who = (struct caller){0};
	err_t err = verify(authorization, a, who);
	if (err != ERR_OK)
		return err;
	struct session_user su;
	struct org_ref *orgs = NULL;
	size_t n = 0;
	err = db_session_orgs(who->session_id, who->user_id, ORGS_OF_A_SESSION_MAX, a, &su, &orgs,
			      &n);
	if (err != ERR_OK)
		return err;
	who->email = su.email;
	who->name = su.name;
	who->email_verified = su.email_verified;
	who->orgs = orgs;
	who->norgs = n;
	for (size_t i = 0; i < n && who->org_id[0]; i++)
		if (strcmp(orgs[i].id, who->org_id) == 0)
			who->role = orgs[i].role;
	return ERR_OK;
}

err_t session_authenticate_org(const char *authorization, struct arena *a, struct caller *who,
			       const char **msg)
{
	err_t err = session_authenticate(authorization, a, who);
	if (err != ERR_OK)
		return err;
	if (!who->org_id[0] || who->role == ROLE_NONE) {
		*msg = who->org_id[0] ? "You are not a member of this organization."
				      : "Choose an organization first (POST /v1/auth/switch).";
		return ERR_FORBIDDEN;
	}
	return ERR_OK;
}

err_t session_cron(const char *authorization)
{
	const char *tok = bearer(authorization);
	const char *want = settings.cron_secret;
	if (!tok || !want || !*want)
		return ERR_UNAUTHENTICATED;
	/* compare digests: equal lengths, and nothing about the secret's length leaks */
	unsigned char h1[DIGEST_LEN], h2[DIGEST_LEN];
	size_t l1 = strlen(tok), l2 = strlen(want);
	digest_sha256((const void *const[]){tok}, &l1, 1, h1);
	digest_sha256((const void *const[]){want}, &l2, 1, h2);
	return digest_equal(h1, h2, DIGEST_LEN) ? ERR_OK : ERR_UNAUTHENTICATED;
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
