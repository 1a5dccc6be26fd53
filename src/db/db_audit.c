/*
 * db_audit: the audit_log table (see db_audit.h).
 */
#include "orgd/db_audit.h"

#include <assert.h>

#include "dbi.h"
#include "orgd/id.h"

err_t db_audit_add_in_tx(const char *org_id, const char *actor, const char *action,
			 const char *target, const char *detail, int64_t now)
{
	assert(db_in_tx());
	char id[ID_LEN_MAX + 1];
	id_new(id, "aud");
	return db_exec(STMT_AUDIT_INSERT,
		       DB_ARGS(DB_STR(id), DB_STR(org_id), DB_INT(now),
			       actor ? DB_STR(actor) : DB_NULL, DB_STR(action), DB_STR(target),
			       DB_STR(detail ? detail : "")),
		       NULL);
}

void db_audit_row(const struct db_rows *rows, size_t i, void *item)
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
