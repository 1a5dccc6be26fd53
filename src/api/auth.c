/*
 * auth: sign-up, email verification, sign-in (with its throttle and the
 * bound on hashes at once), password reset and change, switching
 * organization, sign-out, the caller (/v1/me) and the JWK Set (API.md,
 * "Sessions").
 */
#include <stddef.h>
#include <string.h>

#include "orgd/api.h"
#include "orgd/clock.h"
#include "orgd/db_list.h"
#include "orgd/db_org.h"
#include "orgd/db_user.h"
#include "orgd/hashgate.h"
#include "orgd/id.h"
#include "orgd/password.h"
#include "orgd/session.h"

#define LOGIN_WINDOW        (15 * 60) /* seconds the failures of a sign-in count */
#define ORGS_IN_SESSION_MAX 1000
#define VERIFY_TTL          (24 * 3600)
#define RESET_TTL           3600

/* The throttle of API.md: failures within LOGIN_WINDOW that make the next attempt 429. */
static const struct login_counts login_max = {.pair = 5, .email = 50, .addr = 100};

const struct jfield signup_fields[3] = {
	{"email", JF_EMAIL, JF_REQUIRED, 0, 0, offsetof(struct signup_in, email)},
	{"password", JF_STRING, JF_REQUIRED, 10, 128, offsetof(struct signup_in, password)},
	{"name", JF_STRING, JF_REQUIRED, 1, 100, offsetof(struct signup_in, name)},
};
const struct jfield login_fields[2] = {
	{"email", JF_STRING, JF_REQUIRED, 1, 254, offsetof(struct login_in, email)},
	{"password", JF_STRING, JF_REQUIRED, 1, 1024, offsetof(struct login_in, password)},
};
const struct jfield switch_fields[1] = {
	{"org_id", JF_ID, JF_REQUIRED, 0, 0, offsetof(struct switch_in, org_id)},
};
const struct jfield token_fields[1] = {
	{"token", JF_STRING, JF_REQUIRED | JF_ASCII, 1, 64, offsetof(struct token_in, token)},
};
const struct jfield reset_fields[1] = {
	{"email", JF_STRING, JF_REQUIRED, 1, 254, offsetof(struct reset_in, email)},
};
const struct jfield reset_confirm_fields[2] = {
	{"token", JF_STRING, JF_REQUIRED | JF_ASCII, 1, 64,
	 offsetof(struct reset_confirm_in, token)},
	{"password", JF_STRING, JF_REQUIRED, 10, 128, offsetof(struct reset_confirm_in, password)},
};
const struct jfield password_fields[2] = {
	{"current_password", JF_STRING, JF_REQUIRED, 1, 1024,
	 offsetof(struct password_in, current_password)},
	{"new_password", JF_STRING, JF_REQUIRED, 10, 128,
	 offsetof(struct password_in, new_password)},
};

static void write_user(struct jw *w, const struct user *u)
{
	jw_obj(w);
	jw_kstr(w, "id", u->id);
	jw_kstr(w, "email", u->email);
	jw_kstr(w, "name", u->name);
	jw_kbool(w, "email_verified", u->email_verified);
	jw_obj_end(w);
}

/* {"user":{...}} */
static void write_user_answer(struct req *r, const struct user *u)
{
	jw_obj(&r->w);
	jw_key(&r->w, "user");
	write_user(&r->w, u);
	jw_obj_end(&r->w);
}

/* The organizations of user_id (as GET /v1/orgs lists them), at most ORGS_IN_SESSION_MAX. */
static err_t user_orgs(struct req *r, const char *user_id, const struct org_ref **orgs, size_t *n)
{
	struct db_page page;
	err_t err = db_list_page(LIST_ORGS, user_id, "", ORGS_IN_SESSION_MAX, &r->arena, &page);
	*orgs = (const struct org_ref *)(const void *)page.items;
	*n = err == ERR_OK ? page.n : 0;
	return err;
}

/* "organizations":[...],"active_org":{...}|null */
static void write_orgs(struct jw *w, const struct org_ref *orgs, size_t n,
		       const struct org_ref *active)
{
	jw_key(w, "organizations");
	jw_arr(w);
	for (size_t i = 0; i < n; i++)
		api_write_org_ref(w, &orgs[i]);
	jw_arr_end(w);
	jw_key(w, "active_org");
	if (active)
		api_write_org_ref(w, active);
	else
		jw_null(w);
}

/* The scrypt parameters of new hashes. */
static struct pw_params pw_params(void)
{
	struct pw_params pp = PW_PARAMS_DEFAULT;
	pp.log2n = session_settings()->scrypt_log2n;
	return pp;
}

/* A place among the hashes at once of the host, or 503 at once. */
static err_t hash_place(struct req *r)
{
	if (hashgate_enter())
		return ERR_OK;
	r->err_msg = "Too many sign-ins at once; try again in a moment.";
	return ERR_UNAVAILABLE;
}

/* Hash pw for storing, within the host's bound. */
static err_t hash_new(struct req *r, const struct jstr *pw, char out[PASSWORD_HASH_MAX])
{
	err_t err = hash_place(r);
	if (err != ERR_OK)
		return err;
	struct pw_params pp = pw_params();
	err = password_hash(pw->s, pw->len, &pp, out, PASSWORD_HASH_MAX);
	hashgate_leave();
	return err;
}

err_t api_signup(struct req *r)
{
	const struct signup_in *in = r->in;
	char hash[PASSWORD_HASH_MAX], id[ID_LEN_MAX + 1], token[API_TOKEN_LEN + 1];
	err_t err = hash_new(r, &in->password, hash);
	if (err != ERR_OK)
		return err;
	id_new(id, "usr");
	struct user u = {.id = id, .email = in->email.s, .name = in->name.s, .password_hash = hash};
	int64_t now = clock_now();
	struct email_token t;
	struct db_mail m;
	err = api_email_token(&t, now + VERIFY_TTL, token);
	if (err == ERR_OK)
		err = api_mail_verify(u.email, u.name, token, &r->arena, &m);
	if (err == ERR_OK)
		err = db_user_signup(&u, now, &t, &m);
	if (err == ERR_CONFLICT) {
		r->err_field = "email";
		r->err_msg = "An account with this email already exists.";
	}
	if (err != ERR_OK)
		return err;
	r->status = 201;
	write_user_answer(r, &u);
	return ERR_OK;
}

/* A token of the body, unknown, used or expired: 400 naming it. */
static err_t bad_token(struct req *r)
{
	r->err_field = "token";
	r->err_msg = "This token is unknown, used or expired.";
	return ERR_INVALID;
}

err_t api_verify_email(struct req *r)
{
	const struct token_in *in = r->in;
	unsigned char h[DIGEST_LEN];
	api_token_hash(in->token.s, in->token.len, h);
	struct user u;
	err_t err = db_email_verify(h, clock_now(), &r->arena, &u);
	if (err == ERR_NOT_FOUND)
		return bad_token(r);
	if (err == ERR_OK)
		write_user_answer(r, &u);
	return err;
}

err_t api_verify_resend(struct req *r)
{
	char token[API_TOKEN_LEN + 1];
	int64_t now = clock_now();
	struct email_token t;
	struct db_mail m;
	err_t err = api_email_token(&t, now + VERIFY_TTL, token);
	if (err == ERR_OK)
		err = api_mail_verify(r->caller.email, r->caller.name, token, &r->arena, &m);
	if (err == ERR_OK)
		err = db_verify_resend(r->caller.user_id, now, &t, &m);
	if (err == ERR_CONFLICT)
		r->err_msg = "This email address is verified already.";
	else if (err == ERR_RATE_LIMITED)
		r->err_msg = "A verification email was sent less than a minute ago, or ten today.";
	if (err == ERR_OK)
		r->status = 202;
	return err;
}

err_t api_login(struct req *r)
{
	const struct login_in *in = r->in;
	int64_t now = clock_now();
	char *email = json_email_normalise(in->email.s, in->email.len, &r->arena);
	struct pw_params pp = pw_params();
	err_t err;
	if (!email) { /* not an address: no account can match, at the same cost */
		if ((err = hash_place(r)) != ERR_OK)
			return err;
		password_burn(in->password.s, in->password.len, &pp);
		hashgate_leave();
		return ERR_UNAUTHENTICATED;
	}
	/*
	 * The attempt is written before the password is checked, and before a place
	 * among the hashes is sought, and counted with it: parallel guesses cannot
	 * all slip under the limits, and a flood is soon refused by the database
	 * alone (429) rather than by the bound on hashes (503). A success or a 429
	 * takes it back; a failure, or a 503, leaves it.
	 */
	int64_t attempt;
	struct login_counts seen;
	const char *addr = r->remote_addr ? r->remote_addr : "";
	err = db_login_attempt(email, addr, now, now - LOGIN_WINDOW, &r->arena, &attempt, &seen);
	if (err != ERR_OK)
		return err;
	if (seen.pair > login_max.pair || seen.email > login_max.email ||
	    seen.addr > login_max.addr) {
		err = db_login_attempt_forget(attempt);
		r->err_msg = "Too many failed sign-ins; try again later.";
		return err == ERR_OK ? ERR_RATE_LIMITED : err;
	}
	if ((err = hash_place(r)) != ERR_OK)
		return err;
	struct user u;
	bool ok = false;
	err = db_user_by_email(email, &r->arena, &u);
	if (err == ERR_OK)
		err = password_verify(in->password.s, in->password.len, u.password_hash, &ok);
	else if (err == ERR_NOT_FOUND)
		password_burn(in->password.s, in->password.len, &pp);
	hashgate_leave();
	if (err != ERR_OK && err != ERR_NOT_FOUND)
		return err;
	if (!ok) {
		r->err_msg = "Wrong email or password.";
		return ERR_UNAUTHENTICATED;
	}
	if ((err = db_login_attempt_forget(attempt)) != ERR_OK)
		return err;
	const struct org_ref *orgs;
	size_t n;
	if ((err = user_orgs(r, u.id, &orgs, &n)) != ERR_OK)
		return err;
	const struct org_ref *active = n == 1 ? &orgs[0] : NULL;
	char sid[ID_LEN_MAX + 1];
	id_new(sid, "ses");
	int64_t exp = now + session_settings()->session_ttl;
	if ((err = db_session_create(sid, u.id, now, exp)) != ERR_OK)
		return err;
	struct buf tok = {0};
	err = session_token(u.id, sid, active ? active->id : NULL,
			    active ? active->role : ROLE_NONE, now, exp, &tok);
	if (err == ERR_OK) {
		jw_obj(&r->w);
		jw_key(&r->w, "token");
		jw_strn(&r->w, tok.p, tok.len);
		jw_key(&r->w, "user");
		write_user(&r->w, &u);
		write_orgs(&r->w, orgs, n, active);
		jw_obj_end(&r->w);
	}
	buf_free(&tok);
	return err;
}

/*
 * 202 whatever the address: one row written either way, so neither the answer
 * nor its time tells whether it has an account; the mailer issues the token.
 */
err_t api_password_reset(struct req *r)
{
	const struct reset_in *in = r->in;
	const char *email = json_email_normalise(in->email.s, in->email.len, &r->arena);
	err_t err = db_reset_request(email ? email : "", clock_now());
	if (err == ERR_OK)
		r->status = 202;
	return err;
}

err_t api_password_reset_confirm(struct req *r)
{
	const struct reset_confirm_in *in = r->in;
	char hash[PASSWORD_HASH_MAX];
	unsigned char h[DIGEST_LEN];
	api_token_hash(in->token.s, in->token.len, h);
	err_t err = hash_new(r, &in->password, hash);
	if (err == ERR_OK)
		err = db_reset_confirm(h, hash, clock_now());
	if (err == ERR_NOT_FOUND)
		return bad_token(r);
	if (err == ERR_OK)
		r->status = 204;
	return err;
}

err_t api_password_change(struct req *r)
{
	const struct password_in *in = r->in;
	struct user u;
	bool ok = false;
	err_t err = db_user_by_id(r->caller.user_id, &r->arena, &u);
	if (err == ERR_NOT_FOUND)
		err = ERR_UNAUTHENTICATED;
	if (err == ERR_OK && (err = hash_place(r)) == ERR_OK) {
		err = password_verify(in->current_password.s, in->current_password.len,
				      u.password_hash, &ok);
		hashgate_leave();
	}
	if (err != ERR_OK)
		return err;
	if (!ok) {
		r->err_field = "current_password";
		r->err_msg = "The current password is wrong.";
		return ERR_FORBIDDEN;
	}
	char hash[PASSWORD_HASH_MAX];
	err = hash_new(r, &in->new_password, hash);
	if (err == ERR_OK)
		err = db_password_change(u.id, r->caller.session_id, hash, clock_now());
	if (err == ERR_OK)
		r->status = 204;
	return err;
}

/* {"token":...} scoped to org_id with role, for the caller's session. */
static err_t write_token(struct req *r, const char *org_id, enum role role)
{
	struct buf tok = {0};
	err_t err = session_token(r->caller.user_id, r->caller.session_id, org_id, role,
				  clock_now(), r->caller.exp, &tok);
	if (err == ERR_OK) {
		jw_key(&r->w, "token");
		jw_strn(&r->w, tok.p, tok.len);
	}
	buf_free(&tok);
	return err;
}

err_t api_switch(struct req *r)
{
	const struct switch_in *in = r->in;
	struct org_ref org;
	err_t err = db_org_membership(in->org_id.s, r->caller.user_id, &r->arena, &org);
	if (err == ERR_NOT_FOUND) {
		r->err_field = "org_id";
		r->err_msg = "No such organization.";
	}
	if (err != ERR_OK)
		return err;
	jw_obj(&r->w);
	err = write_token(r, org.id, org.role);
	jw_obj_end(&r->w);
	return err;
}

err_t api_logout(struct req *r)
{
	err_t err = db_session_revoke(r->caller.session_id, clock_now());
	if (err == ERR_OK)
		r->status = 204;
	return err;
}

err_t api_jwks(struct req *r)
{
	session_jwks(&r->w);
	return ERR_OK;
}

err_t api_me(struct req *r)
{
	/* the user and the memberships as the authentication query read them: one round trip */
	const struct user u = {.id = r->caller.user_id,
			       .email = r->caller.email,
			       .name = r->caller.name,
			       .email_verified = r->caller.email_verified};
	const struct org_ref *orgs = r->caller.orgs;
	size_t n = r->caller.norgs;
	const struct org_ref *active = NULL;
	for (size_t i = 0; i < n && r->caller.org_id[0]; i++)
		if (strcmp(orgs[i].id, r->caller.org_id) == 0)
			active = &orgs[i];
	jw_obj(&r->w);
	jw_key(&r->w, "user");
	write_user(&r->w, &u);
	write_orgs(&r->w, orgs, n, active);
	jw_obj_end(&r->w);
	return ERR_OK;
}

/* {id,org:{id,name},role,invited_by:{name},expires_at} */
static void write_invitation(struct jw *w, const struct invitation *inv)
{
	jw_obj(w);
	jw_kstr(w, "id", inv->id);
	jw_key(w, "org");
	jw_obj(w);
	jw_kstr(w, "id", inv->org_id);
	jw_kstr(w, "name", inv->org_name);
	jw_obj_end(w);
	jw_kstr(w, "role", role_name(inv->role));
	jw_key(w, "invited_by");
	jw_obj(w);
	jw_kstr(w, "name", inv->invited_by);
	jw_obj_end(w);
	jw_kstr(w, "expires_at", inv->expires_at);
	jw_obj_end(w);
}

static void write_invitation_item(struct jw *w, const void *item)
{
	write_invitation(w, item);
}

err_t api_invitations_list(struct req *r)
{
	return api_list(r, LIST_INVITATIONS, r->caller.email, write_invitation_item);
}

/* accept or decline: the invitation must be the caller's, pending and unexpired (else 404) */
static err_t answer(struct req *r, bool accept)
{
	struct org_ref org;
	err_t err = db_invitation_answer(r->path_id, r->caller.user_id, r->caller.email, accept,
					 clock_now(), &r->arena, &org);
	if (err == ERR_CONFLICT)
		r->err_msg = "You are a member of this organization already.";
	if (err != ERR_OK)
		return err;
	if (!accept) {
		r->status = 204;
		return ERR_OK;
	}
	jw_obj(&r->w);
	jw_key(&r->w, "org");
	api_write_org_ref(&r->w, &org);
	err = write_token(r, org.id, org.role);
	jw_obj_end(&r->w);
	return err;
}

err_t api_invitation_accept(struct req *r)
{
	return answer(r, true);
}

err_t api_invitation_decline(struct req *r)
{
	return answer(r, false);
}
