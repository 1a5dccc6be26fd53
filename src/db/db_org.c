/*
 * db_org: the orgs and memberships tables (see db_org.h).
 */
#include "orgd/db_org.h"

#include "orgd/db.h"

static enum role role_of(const struct dbv *v)
{
	return v->t == DBV_INT && v->i > ROLE_NONE && v->i < ROLE__MAX ? (enum role)v->i
								      : ROLE_NONE;
}

static void org_ref_row(const struct db_rows *rows, size_t i, struct org_ref *o)
{
	o->id = DB_CELL(rows, i, 0)->s;
	o->name = DB_CELL(rows, i, 1)->s;
	o->role = role_of(DB_CELL(rows, i, 2));
}

err_t db_org_list_for_user(const char *user_id, size_t max, struct arena *a,
			   struct org_ref **out, size_t *n)
{
	struct db_rows rows;
	err_t err = db_query(STMT_ORG_LIST_FOR_USER, DB_ARGS(DB_STR(user_id), DB_INT((int64_t)max)),
			     a, &rows);
	if (err != ERR_OK)
		return err;
	*out = arena_alloc(a, (rows.n ? rows.n : 1) * sizeof **out);
	if (!*out)
		return ERR_INTERNAL;
	for (size_t i = 0; i < rows.n; i++)
		org_ref_row(&rows, i, &(*out)[i]);
	*n = rows.n;
	return ERR_OK;
}

err_t db_org_membership(const char *org_id, const char *user_id, struct arena *a,
			struct org_ref *out)
{
	struct db_rows rows;
	err_t err = db_query(STMT_ORG_MEMBERSHIP, DB_ARGS(DB_STR(org_id), DB_STR(user_id)), a,
			     &rows);
	if (err != ERR_OK)
		return err;
	if (rows.n == 0)
		return ERR_NOT_FOUND;
	org_ref_row(&rows, 0, out);
	return ERR_OK;
}
