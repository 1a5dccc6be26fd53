/*
 * db_audit: the audit_log table (see db_audit.h).
 */
#include "orgd/db_audit.h"

#include "orgd/db.h"
#include "orgd/id.h"

err_t db_audit_add(const char *org_id, const char *actor, const char *action,
		   const char *target, const char *detail, int64_t now)
{
	char id[ID_LEN_MAX + 1];
	id_new(id, "aud");
	return db_exec(STMT_AUDIT_INSERT,
		       DB_ARGS(DB_STR(id), DB_STR(org_id), DB_INT(now),
			       actor ? DB_STR(actor) : DB_NULL, DB_STR(action), DB_STR(target),
			       DB_STR(detail ? detail : "")),
		       NULL);
}

err_t db_audit_page(const char *org_id, const char *after, int64_t limit, struct arena *a,
		    struct audit_entry **out, size_t *n)
{
	struct db_rows rows;
	err_t err = db_query(STMT_AUDIT_PAGE,
			     DB_ARGS(DB_STR(org_id), DB_STR(org_id), DB_STR(after), DB_STR(after),
				     DB_INT(limit)),
			     a, &rows);
	if (err != ERR_OK)
		return err;
	*out = arena_alloc(a, (rows.n ? rows.n : 1) * sizeof **out);
	if (!*out)
		return ERR_INTERNAL;
	for (size_t i = 0; i < rows.n; i++)
		(*out)[i] = (struct audit_entry){
			.id = DB_CELL(&rows, i, 0)->s,
			.at = DB_CELL(&rows, i, 1)->s,
			.actor_user_id = DB_CELL(&rows, i, 2)->s,
			.action = DB_CELL(&rows, i, 3)->s,
			.target = DB_CELL(&rows, i, 4)->s,
			.detail = DB_CELL(&rows, i, 5)->s,
		};
	*n = rows.n;
	return ERR_OK;
}
