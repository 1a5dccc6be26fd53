/*
 * db_user: the users, email_tokens, sessions and login_failures tables (see
 * db_user.h).
 */
#include "orgd/db_user.h"

#include "orgd/db_org.h"

#include <assert.h>

#include "dbi.h"

#define VERIFY_PER_MINUTE 1
#define VERIFY_PER_DAY    10

err_t db_outbox_add_in_tx(const struct db_mail *m, int64_t now)
{
	assert(db_in_tx());
	return db_exec(STMT_OUTBOX_INSERT,
		       DB_ARGS(DB_STR(m->message_id), DB_STR(m->to), DB_STR(m->subject),
			       DB_STR(m->body), DB_INT(now), DB_INT(now)),
		       NULL);
}

err_t db_token_add_in_tx(const struct email_token *t, const char *user_id, const char *kind,
			 int64_t now)
{
	assert(db_in_tx());
	return db_exec(STMT_TOKEN_INSERT,
		       DB_ARGS(DB_STRN((const char *)t->hash, DIGEST_LEN), DB_STR(user_id),
			       DB_STR(kind), DB_INT(now), DB_INT(t->expires)),
		       NULL);
}

struct signup {
	const struct user *u;
	int64_t now;
	const struct email_token *t;
	const struct db_mail *m;
};

static err_t signup_tx(void *arg)
{
	const struct signup *s = arg;
	err_t err = db_exec(STMT_USER_INSERT,
			    DB_ARGS(DB_STR(s->u->id), DB_STR(s->u->email), DB_STR(s->u->name),
				    DB_STR(s->u->password_hash), DB_INT(s->now)),
			    NULL);
	if (err == ERR_OK)
		err = db_token_add_in_tx(s->t, s->u->id, "verify", s->now);
	if (err == ERR_OK)
		err = db_outbox_add_in_tx(s->m, s->now);
	return err;
}

err_t db_user_signup(const struct user *u, int64_t now, const struct email_token *t,
		     const struct db_mail *m)
{
	struct signup s = {u, now, t, m};
	return db_tx(signup_tx, &s);
}

/* The one user st finds, or ERR_NOT_FOUND. */
static err_t user_query(enum stmt st, const char *key, struct arena *a, struct user *u)
{
	struct db_rows rows;
	err_t err = db_query(st, DB_ARGS(DB_STR(key)), a, &rows);
	if (err != ERR_OK)
		return err;
	if (rows.n == 0)
		return ERR_NOT_FOUND;
	*u = (struct user){
		.id = DB_CELL(&rows, 0, 0)->s,
		.email = DB_CELL(&rows, 0, 1)->s,
		.name = DB_CELL(&rows, 0, 2)->s,
		.password_hash = DB_CELL(&rows, 0, 3)->s,
		.email_verified = DB_CELL(&rows, 0, 4)->i != 0,
	};
	return ERR_OK;
}

err_t db_user_by_email(const char *email, struct arena *a, struct user *u)
{
	return user_query(STMT_USER_BY_EMAIL, email, a, u);
}

err_t db_user_by_id(const char *id, struct arena *a, struct user *u)
{
	return user_query(STMT_USER_BY_ID, id, a, u);
}

/* The user of an unused, unexpired token of kind, locked; ERR_NOT_FOUND if none. */
static err_t token_use_in_tx(const unsigned char hash[DIGEST_LEN], const char *kind, int64_t now,
			     struct arena *a, struct user *u)
{
	struct db_rows rows;
	const struct dbv h = DB_STRN((const char *)hash, DIGEST_LEN);
	err_t err = db_query(STMT_TOKEN_LOCK, DB_ARGS(h, DB_STR(kind), DB_INT(now)), a, &rows);
	if (err == ERR_OK && rows.n == 0)
		err = ERR_NOT_FOUND;
	if (err == ERR_OK)
		err = db_exec(STMT_TOKEN_USE, DB_ARGS(DB_INT(now), h), NULL);
	if (err == ERR_OK)
		err = user_query(STMT_USER_LOCK, DB_CELL(&rows, 0, 0)->s, a, u);
	return err;
}

struct verify {
	const unsigned char *hash;
	int64_t now;
	struct arena *a;
	struct user *out;
};

static err_t verify_tx(void *arg)
{
	struct verify *c = arg;
	err_t err = token_use_in_tx(c->hash, "verify", c->now, c->a, c->out);
	if (err == ERR_OK)
		err = db_exec(STMT_USER_VERIFIED, DB_ARGS(DB_STR(c->out->id)), NULL);
	c->out->email_verified = true;
	return err;
}

err_t db_email_verify(const unsigned char hash[DIGEST_LEN], int64_t now, struct arena *a,
		      struct user *out)
{
	struct verify c = {hash, now, a, out};
	return db_tx(verify_tx, &c);
}

struct resend {
	const char *user_id;
	int64_t now;
	const struct email_token *t;
	const struct db_mail *m;
	struct arena a;
};

static err_t resend_tx(void *arg)
{
	struct resend *c = arg;
	struct user u;
	struct db_rows rows;
	err_t err = user_query(STMT_USER_LOCK, c->user_id, &c->a, &u); /* one resend at a time */
	if (err == ERR_NOT_FOUND)
		err = ERR_UNAUTHENTICATED;
	if (err == ERR_OK && u.email_verified)
		err = ERR_CONFLICT;
	if (err == ERR_OK)
		err = db_query(STMT_TOKENS_RECENT,
			       DB_ARGS(DB_INT(c->now - 60), DB_STR(c->user_id), DB_STR("verify"),
				       DB_INT(c->now - 86400)),
			       &c->a, &rows);
	if (err == ERR_OK && (DB_CELL(&rows, 0, 0)->i >= VERIFY_PER_MINUTE ||
			      DB_CELL(&rows, 0, 1)->i >= VERIFY_PER_DAY))
		err = ERR_RATE_LIMITED;
	if (err == ERR_OK)
		err = db_token_add_in_tx(c->t, c->user_id, "verify", c->now);
	if (err == ERR_OK)
		err = db_outbox_add_in_tx(c->m, c->now);
	return err;
}

err_t db_verify_resend(const char *user_id, int64_t now, const struct email_token *t,
		       const struct db_mail *m)
{
	struct resend c = {user_id, now, t, m, {0}};
	err_t err = db_tx(resend_tx, &c);
	arena_free(&c.a);
	return err;
}

err_t db_reset_request(const char *email, int64_t now)
{
	return db_exec(STMT_RESET_INSERT, DB_ARGS(DB_STR(email), DB_INT(now)), NULL);
}

struct reset {
	const unsigned char *token;
	const char *hash;
	int64_t now;
	struct arena a;
};

static err_t reset_tx(void *arg)
{
	struct reset *c = arg;
	struct user u;
	err_t err = token_use_in_tx(c->token, "reset", c->now, &c->a, &u);
	if (err == ERR_OK)
		err = db_exec(STMT_USER_SET_PASSWORD, DB_ARGS(DB_STR(c->hash), DB_STR(u.id)), NULL);
	if (err == ERR_OK)
		err = db_exec(STMT_SESSIONS_REVOKE_ALL,
			      DB_ARGS(DB_INT(c->now), DB_STR(u.id), DB_STR("")), NULL);
	if (err == ERR_OK)
		err = db_exec(STMT_LOGIN_FAILURES_CLEAR, DB_ARGS(DB_STR(u.email)), NULL);
	return err;
}

err_t db_reset_confirm(const unsigned char token[DIGEST_LEN], const char *hash, int64_t now)
{
	struct reset c = {token, hash, now, {0}};
	err_t err = db_tx(reset_tx, &c);
	arena_free(&c.a);
	return err;
}

struct password_change {
	const char *user_id, *keep_sid, *hash;
	int64_t now;
};

static err_t password_change_tx(void *arg)
{
	struct password_change *c = arg;
	err_t err =
		db_exec(STMT_USER_SET_PASSWORD, DB_ARGS(DB_STR(c->hash), DB_STR(c->user_id)), NULL);
	if (err == ERR_OK)
		err = db_exec(STMT_SESSIONS_REVOKE_ALL,
			      DB_ARGS(DB_INT(c->now), DB_STR(c->user_id), DB_STR(c->keep_sid)),
			      NULL);
	return err;
}

err_t db_password_change(const char *user_id, const char *keep_sid, const char *hash, int64_t now)
{
	struct password_change c = {user_id, keep_sid, hash, now};
	return db_tx(password_change_tx, &c);
}

err_t db_session_create(const char *sid, const char *user_id, int64_t now, int64_t exp)
{
	return db_exec(STMT_SESSION_INSERT,
		       DB_ARGS(DB_STR(sid), DB_STR(user_id), DB_INT(now), DB_INT(exp)), NULL);
}

err_t db_session_member(const char *sid, const char *user_id, const char *org_id, struct arena *a,
			struct session_user *out)
{
	struct db_rows rows;
	err_t err = db_query(STMT_SESSION_MEMBER,
			     DB_ARGS(DB_STR(org_id), DB_STR(sid), DB_STR(user_id)), a, &rows);
	if (err != ERR_OK)
		return err;
	if (rows.n != 1)
		return ERR_UNAUTHENTICATED;
	*out = (struct session_user){
		.role = db_role(DB_CELL(&rows, 0, 0)),
		.email = DB_CELL(&rows, 0, 1)->s,
		.name = DB_CELL(&rows, 0, 2)->s,
		.email_verified = DB_CELL(&rows, 0, 3)->i != 0,
	};
	return ERR_OK;
}

err_t db_session_orgs(const char *sid, const char *user_id, int64_t max, struct arena *a,
		      struct session_user *out, struct org_ref **orgs, size_t *n)
{
	struct db_rows rows;
	err_t err = db_query(STMT_SESSION_ORGS, DB_ARGS(DB_STR(sid), DB_STR(user_id), DB_INT(max)),
			     a, &rows);
	*n = 0;
	if (err != ERR_OK)
		return err;
	if (rows.n == 0) /* no membership, or no session: the session and the user alone */
		return db_session_member(sid, user_id, "", a, out);
	*out = (struct session_user){
		.role = ROLE_NONE,
		.email = DB_CELL(&rows, 0, 0)->s,
		.name = DB_CELL(&rows, 0, 1)->s,
		.email_verified = DB_CELL(&rows, 0, 2)->i != 0,
	};
	*orgs = arena_alloc(a, rows.n * sizeof **orgs);
	if (!*orgs)
		return ERR_INTERNAL;
	for (size_t i = 0; i < rows.n; i++)
		(*orgs)[(*n)++] = (struct org_ref){DB_CELL(&rows, i, 3)->s, DB_CELL(&rows, i, 4)->s,
						   db_role(DB_CELL(&rows, i, 5))};
	return ERR_OK;
}

err_t db_session_revoke(const char *sid, int64_t now)
{
	return db_exec(STMT_SESSION_REVOKE, DB_ARGS(DB_INT(now), DB_STR(sid)), NULL);
}

err_t db_login_attempt(const char *email, const char *addr, int64_t now, int64_t since,
		       struct arena *a, int64_t *id, struct login_counts *count)
{
	err_t err = db_exec(STMT_LOGIN_FAILURE_INSERT,
			    DB_ARGS(DB_STR(email), DB_STR(addr), DB_INT(now)), NULL);
	if (err != ERR_OK)
		return err;
	*id = (int64_t)db_last_id();
	struct db_rows rows;
	err = db_query(STMT_LOGIN_FAILURES_COUNT,
		       DB_ARGS(DB_STR(email), DB_STR(addr), DB_INT(since), DB_STR(email),
			       DB_INT(since), DB_STR(addr), DB_INT(since)),
		       a, &rows);
	*count = (struct login_counts){0};
	if (err == ERR_OK && rows.n)
		*count = (struct login_counts){DB_CELL(&rows, 0, 0)->i, DB_CELL(&rows, 0, 1)->i,
					       DB_CELL(&rows, 0, 2)->i};
	return err;
}

err_t db_login_attempt_forget(int64_t id)
{
	return db_exec(STMT_LOGIN_FAILURE_DELETE, DB_ARGS(DB_INT(id)), NULL);
}
