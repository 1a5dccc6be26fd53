/*
 * db_mail: the outbox and reset_requests tables (see db_mail.h).
 */
#include "orgd/db_mail.h"

#include "orgd/db_user.h"

#include "dbi.h"

#define RESETS_PER_DAY 5

struct claim {
	int64_t now, lease, limit;
	struct arena *a;
	struct outbox_row **out;
	size_t *n;
};

static err_t claim_tx(void *arg)
{
	struct claim *c = arg;
	struct db_rows rows;
	err_t err =
		db_query(STMT_OUTBOX_DUE, DB_ARGS(DB_INT(c->now), DB_INT(c->limit)), c->a, &rows);
	if (err != ERR_OK)
		return err;
	*c->out = arena_alloc(c->a, (rows.n ? rows.n : 1) * sizeof **c->out);
	if (!*c->out)
		return ERR_INTERNAL;
	*c->n = 0;
	for (size_t i = 0; i < rows.n && err == ERR_OK; i++) {
		struct outbox_row *o = &(*c->out)[(*c->n)++];
		*o = (struct outbox_row){
			.id = DB_CELL(&rows, i, 0)->i,
			.message_id = DB_CELL(&rows, i, 1)->s,
			.to = DB_CELL(&rows, i, 2)->s,
			.subject = DB_CELL(&rows, i, 3)->s,
			.body = DB_CELL(&rows, i, 4)->s,
			.created = DB_CELL(&rows, i, 5)->i,
			.attempts = DB_CELL(&rows, i, 6)->i + 1,
		};
		err = db_exec(STMT_OUTBOX_LEASE, DB_ARGS(DB_INT(c->now + c->lease), DB_INT(o->id)),
			      NULL);
	}
	return err;
}

err_t db_outbox_claim(int64_t now, int64_t lease, int64_t limit, struct arena *a,
		      struct outbox_row **out, size_t *n)
{
	struct claim c = {now, lease, limit, a, out, n};
	*n = 0;
	return db_tx(claim_tx, &c);
}

err_t db_outbox_sent(int64_t id, int64_t now)
{
	return db_exec(STMT_OUTBOX_SENT, DB_ARGS(DB_INT(now), DB_INT(id)), NULL);
}

err_t db_outbox_retry(int64_t id, int64_t next, bool give_up, int64_t now)
{
	return db_exec(STMT_OUTBOX_RETRY,
		       DB_ARGS(DB_INT(next), give_up ? DB_INT(now) : DB_NULL, DB_INT(id)), NULL);
}

err_t db_outbox_backlog(int64_t *n, int64_t *failed)
{
	struct arena a = {0};
	struct db_rows rows;
	err_t err = db_query(STMT_OUTBOX_BACKLOG, NULL, 0, &a, &rows);
	*n = err == ERR_OK && rows.n ? DB_CELL(&rows, 0, 0)->i : 0;
	*failed = err == ERR_OK && rows.n ? DB_CELL(&rows, 0, 1)->i : 0;
	arena_free(&a);
	return err;
}

struct reset_next {
	int64_t now;
	db_reset_fn make;
	void *ctx;
	struct arena *a;
	bool *done;
};

static err_t reset_next_tx(void *arg)
{
	struct reset_next *c = arg;
	struct db_rows rows, count;
	*c->done = false;
	err_t err = db_query(STMT_RESET_NEXT, NULL, 0, c->a, &rows);
	if (err != ERR_OK || rows.n == 0)
		return err;
	*c->done = true;
	int64_t id = DB_CELL(&rows, 0, 0)->i;
	const char *email = DB_CELL(&rows, 0, 1)->s;
	err = db_query(STMT_RESET_COUNT, DB_ARGS(DB_STR(email), DB_INT(c->now - 86400), DB_INT(id)),
		       c->a, &count);
	struct user u;
	err_t found = err == ERR_OK ? db_user_by_email(email, c->a, &u) : err;
	if (found != ERR_OK && found != ERR_NOT_FOUND)
		return found;
	if (found == ERR_OK && DB_CELL(&count, 0, 0)->i <= RESETS_PER_DAY) {
		struct email_token t;
		struct db_mail m;
		err = c->make(c->ctx, &u, &t, &m, c->a);
		if (err == ERR_OK)
			err = db_token_add_in_tx(&t, u.id, "reset", c->now);
		if (err == ERR_OK)
			err = db_outbox_add_in_tx(&m, c->now);
	}
	if (err == ERR_OK)
		err = db_exec(STMT_RESET_DONE, DB_ARGS(DB_INT(c->now), DB_INT(id)), NULL);
	return err;
}

err_t db_reset_next(int64_t now, db_reset_fn make, void *ctx, struct arena *a, bool *done)
{
	struct reset_next c = {now, make, ctx, a, done};
	return db_tx(reset_next_tx, &c);
}
