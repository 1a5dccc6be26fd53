/*
 * db_user: the users, sessions and login_failures tables (see db_user.h).
 */
#include "orgd/db_user.h"

#include "dbi.h"

struct signup {
	const char *id, *email, *name, *hash;
	int64_t now;
};

static err_t signup_tx(void *arg)
{
	const struct signup *s = arg;
	err_t err = db_exec(STMT_USER_INSERT,
			    DB_ARGS(DB_STR(s->id), DB_STR(s->email), DB_STR(s->name),
				    DB_STR(s->hash), DB_INT(s->now)),
			    NULL);
	if (err != ERR_OK)
		return err;
	return db_exec(STMT_INVITES_ACCEPT, DB_ARGS(DB_STR(s->id), DB_STR(s->email)), NULL);
}

err_t db_user_signup(const char *id, const char *email, const char *name, const char *hash,
		     int64_t now)
{
	struct signup s = {id, email, name, hash, now};
	return db_tx(signup_tx, &s);
}

err_t db_user_by_email(const char *email, struct arena *a, struct user *u)
{
	struct db_rows rows;
	err_t err = db_query(STMT_USER_BY_EMAIL, DB_ARGS(DB_STR(email)), a, &rows);
	if (err != ERR_OK)
		return err;
	if (rows.n == 0)
		return ERR_NOT_FOUND;
	*u = (struct user){
		.id = DB_CELL(&rows, 0, 0)->s,
		.email = DB_CELL(&rows, 0, 1)->s,
		.name = DB_CELL(&rows, 0, 2)->s,
		.password_hash = DB_CELL(&rows, 0, 3)->s,
	};
	return ERR_OK;
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
	const struct dbv *r = DB_CELL(&rows, 0, 0);
	*out = (struct session_user){
		.role = db_role(r),
		.email = DB_CELL(&rows, 0, 1)->s,
		.name = DB_CELL(&rows, 0, 2)->s,
	};
	return ERR_OK;
}

err_t db_session_revoke(const char *sid, int64_t now)
{
	return db_exec(STMT_SESSION_REVOKE, DB_ARGS(DB_INT(now), DB_STR(sid)), NULL);
}

err_t db_login_attempt(const char *email, int64_t now, int64_t since, struct arena *a, int64_t *id,
		       int64_t *count)
{
	err_t err = db_exec(STMT_LOGIN_FAILURE_INSERT, DB_ARGS(DB_STR(email), DB_INT(now)), NULL);
	if (err != ERR_OK)
		return err;
	*id = (int64_t)db_last_id();
	struct db_rows rows;
	err = db_query(STMT_LOGIN_FAILURES_COUNT, DB_ARGS(DB_STR(email), DB_INT(since)), a, &rows);
	*count = err == ERR_OK && rows.n ? DB_CELL(&rows, 0, 0)->i : 0;
	return err;
}

err_t db_login_attempt_forget(int64_t id)
{
	return db_exec(STMT_LOGIN_FAILURE_DELETE, DB_ARGS(DB_INT(id)), NULL);
}
