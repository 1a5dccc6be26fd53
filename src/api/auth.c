/*
 * auth: sign-up, sign-in, switching organization, sign-out, the caller
 * (/v1/me) and the JWK Set (API.md, "Sessions").
 */
#include <stddef.h>
#include <string.h>

#include "orgd/api.h"
#include "orgd/clock.h"
#include "orgd/db_list.h"
#include "orgd/db_org.h"
#include "orgd/db_user.h"
#include "orgd/id.h"
#include "orgd/password.h"
#include "orgd/session.h"

#define LOGIN_WINDOW        (15 * 60) /* seconds the failures of an email count */
#define LOGIN_FAILURES_MAX  5
#define ORGS_IN_SESSION_MAX 1000

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

static void write_user(struct jw *w, const struct user *u)
{
	jw_obj(w);
	jw_kstr(w, "id", u->id);
	jw_kstr(w, "email", u->email);
	jw_kstr(w, "name", u->name);
	jw_obj_end(w);
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

err_t api_signup(struct req *r)
{
	const struct signup_in *in = r->in;
	const char *email = in->email.s;
	char hash[PASSWORD_HASH_MAX];
	struct pw_params pp = PW_PARAMS_DEFAULT;
	pp.log2n = session_settings()->scrypt_log2n;
	err_t err = password_hash(in->password.s, in->password.len, &pp, hash, sizeof hash);
	if (err != ERR_OK)
		return err;
	struct user u = {.email = email, .name = in->name.s};
	char id[ID_LEN_MAX + 1];
	id_new(id, "usr");
	u.id = id;
	err = db_user_signup(id, email, in->name.s, hash, clock_now());
	if (err == ERR_CONFLICT) {
		r->err_field = "email";
		r->err_msg = "An account with this email already exists.";
		return err;
	}
	if (err != ERR_OK)
		return err;
	r->status = 201;
	jw_obj(&r->w);
	jw_key(&r->w, "user");
	write_user(&r->w, &u);
	jw_obj_end(&r->w);
	return ERR_OK;
}

err_t api_login(struct req *r)
{
	const struct login_in *in = r->in;
	int64_t now = clock_now();
	char *email = json_email_normalise(in->email.s, in->email.len, &r->arena);
	struct pw_params pp = PW_PARAMS_DEFAULT;
	pp.log2n = session_settings()->scrypt_log2n;
	if (!email) { /* not an address: no account can match, at the same cost */
		password_burn(in->password.s, in->password.len, &pp);
		return ERR_UNAUTHENTICATED;
	}
	/*
	 * The attempt is written before the password is checked and counted with
	 * it, so parallel guesses cannot all slip under the limit; a success or a
	 * refusal takes it back, a failure leaves it.
	 */
	int64_t attempt, attempts;
	err_t err =
		db_login_attempt(email, now, now - LOGIN_WINDOW, &r->arena, &attempt, &attempts);
	if (err != ERR_OK)
		return err;
	if (attempts > LOGIN_FAILURES_MAX) {
		if ((err = db_login_attempt_forget(attempt)) != ERR_OK)
			return err;
		r->err_msg = "Too many failed sign-ins for this email; try again later.";
		return ERR_RATE_LIMITED;
	}
	struct user u;
	bool ok = false;
	err = db_user_by_email(email, &r->arena, &u);
	if (err == ERR_OK)
		err = password_verify(in->password.s, in->password.len, u.password_hash, &ok);
	else if (err == ERR_NOT_FOUND)
		password_burn(in->password.s, in->password.len, &pp);
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
	struct buf tok = {0};
	err = session_token(r->caller.user_id, r->caller.session_id, org.id, org.role, clock_now(),
			    r->caller.exp, &tok);
	if (err == ERR_OK) {
		jw_obj(&r->w);
		jw_key(&r->w, "token");
		jw_strn(&r->w, tok.p, tok.len);
		jw_obj_end(&r->w);
	}
	buf_free(&tok);
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
	/* the user as the authentication query read it: one round trip fewer */
	const struct user u = {
		.id = r->caller.user_id, .email = r->caller.email, .name = r->caller.name};
	const struct org_ref *orgs;
	size_t n;
	err_t err = user_orgs(r, u.id, &orgs, &n);
	if (err != ERR_OK)
		return err;
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
