/*
 * db_audit: the audit_log table (see db_audit.h).
 */
#include "orgd/db_audit.h"

#include "orgd/db.h"
#include "orgd/id.h"

err_t db_audit_add(const char *org_id, const char *actor, const char *action, const char *target,
		   const char *detail, int64_t now)
{
	char id[ID_LEN_MAX + 1];
	id_new(id, "aud");
	return db_exec(STMT_AUDIT_INSERT,
		       DB_ARGS(DB_STR(id), DB_STR(org_id), DB_INT(now),
			       actor ? DB_STR(actor) : DB_NULL, DB_STR(action), DB_STR(target),
			       DB_STR(detail ? detail : "")),
		       NULL);
}

static void audit_row(const struct db_rows *rows, size_t i, void *item)
{
	*(struct audit_entry *)item = (struct audit_entry){
		.id = DB_CELL(rows, i, 0)->s,
		.at = DB_CELL(rows, i, 1)->s,
		.actor_user_id = DB_CELL(rows, i, 2)->s,
		.action = DB_CELL(rows, i, 3)->s,
		.target = DB_CELL(rows, i, 4)->s,
		.detail = DB_CELL(rows, i, 5)->s,
	};
}

err_t db_audit_page(const char *org_id, const char *after, int64_t limit, struct arena *a,
		    struct audit_entry **out, size_t *n)
{
	void *items;
	err_t err = db_page(STMT_AUDIT_PAGE, org_id, after, limit, a, sizeof **out, audit_row,
			    &items, n);
	*out = items;
	return err;
}
