/*
 * db_project: the projects and environments tables (see db_project.h).
 */
#include "orgd/db_project.h"

#include "orgd/db_audit.h"

#include "dbi.h"

#define OPT_STR(s) ((s) ? DB_STR(s) : DB_NULL)

void db_project_row(const struct db_rows *rows, size_t i, void *item)
{
	*(struct project *)item = (struct project){
		.id = DB_CELL(rows, i, 0)->s,
		.name = DB_CELL(rows, i, 1)->s,
		.description = DB_CELL(rows, i, 2)->s,
		.created_at = DB_CELL(rows, i, 3)->s,
	};
}

void db_env_row(const struct db_rows *rows, size_t i, void *item)
{
	*(struct environment *)item = (struct environment){
		.id = DB_CELL(rows, i, 0)->s,
		.name = DB_CELL(rows, i, 1)->s,
		.kind = DB_CELL(rows, i, 2)->s,
		.region = DB_CELL(rows, i, 3)->s,
		.status = DB_CELL(rows, i, 4)->s,
		.created_at = DB_CELL(rows, i, 5)->s,
	};
}

err_t db_project_get(const char *org_id, const char *id, struct arena *a, struct project *out)
{
	struct db_rows rows;
	err_t err = db_query(STMT_PROJECT_GET, DB_ARGS(DB_STR(org_id), DB_STR(id)), a, &rows);
	if (err == ERR_OK && rows.n == 0)
		err = ERR_NOT_FOUND;
	if (err == ERR_OK)
		db_project_row(&rows, 0, out);
	return err;
}

err_t db_project_create(const char *org_id, const char *id, const char *name,
			const char *description, int64_t now)
{
	return db_exec(
		STMT_PROJECT_INSERT,
		DB_ARGS(DB_STR(id), DB_STR(org_id), DB_STR(name), DB_STR(description), DB_INT(now)),
		NULL);
}

err_t db_project_update(const char *org_id, const char *id, const char *name,
			const char *description)
{
	return db_exec(STMT_PROJECT_UPDATE,
		       DB_ARGS(OPT_STR(name), OPT_STR(description), DB_STR(org_id), DB_STR(id)),
		       NULL);
}

err_t db_project_delete(const char *org_id, const char *id)
{
	uint64_t n = 0;
	err_t err = db_exec(STMT_PROJECT_DELETE, DB_ARGS(DB_STR(org_id), DB_STR(id)), &n);
	return err == ERR_OK && n == 0 ? ERR_NOT_FOUND : err;
}

err_t db_env_get(const char *org_id, const char *id, struct arena *a, struct environment *out)
{
	struct db_rows rows;
	err_t err = db_query(STMT_ENV_GET, DB_ARGS(DB_STR(org_id), DB_STR(id)), a, &rows);
	if (err == ERR_OK && rows.n == 0)
		err = ERR_NOT_FOUND;
	if (err == ERR_OK)
		db_env_row(&rows, 0, out);
	return err;
}

struct env_change {
	const char *org_id, *actor;
	const struct environment *e;
	int64_t now;
	enum stmt st;
};

static err_t env_change_tx(void *arg)
{
	const struct env_change *c = arg;
	const struct environment *e = c->e;
	uint64_t n = 0;
	err_t err;
	const char *action;
	switch (c->st) {
	case STMT_ENV_INSERT:
		err = db_exec(c->st,
			      DB_ARGS(DB_STR(e->id), DB_STR(c->org_id), DB_STR(e->name),
				      DB_STR(e->kind), DB_STR(e->region), DB_INT(c->now)),
			      &n);
		action = "environment.created";
		break;
	case STMT_ENV_UPDATE:
		err = db_exec(c->st,
			      DB_ARGS(OPT_STR(e->name), OPT_STR(e->kind), OPT_STR(e->region),
				      OPT_STR(e->status), DB_STR(c->org_id), DB_STR(e->id)),
			      &n);
		action = "environment.updated";
		break;
	default:
		err = db_exec(c->st, DB_ARGS(DB_STR(c->org_id), DB_STR(e->id)), &n);
		action = "environment.deleted";
		break;
	}
	if (err == ERR_OK && n == 0)
		err = ERR_NOT_FOUND;
	if (err != ERR_OK)
		return err;
	return db_audit_add_in_tx(c->org_id, c->actor, action, e->id, e->name ? e->name : "",
				  c->now);
}

static err_t env_change(const char *org_id, const char *actor, const struct environment *e,
			int64_t now, enum stmt st)
{
	struct env_change c = {org_id, actor, e, now, st};
	return db_tx(env_change_tx, &c);
}

err_t db_env_create(const char *org_id, const char *actor, const struct environment *e, int64_t now)
{
	return env_change(org_id, actor, e, now, STMT_ENV_INSERT);
}

err_t db_env_update(const char *org_id, const char *actor, const struct environment *e, int64_t now)
{
	return env_change(org_id, actor, e, now, STMT_ENV_UPDATE);
}

err_t db_env_delete(const char *org_id, const char *actor, const char *id, int64_t now)
{
	struct environment e = {.id = id};
	return env_change(org_id, actor, &e, now, STMT_ENV_DELETE);
}
