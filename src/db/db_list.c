/*
 * db_list: the table of paged lists (see db_list.h). Each row's converter
 * lives with its resource (db_org.c, db_project.c, ...).
 */
#include "orgd/db_list.h"

#include "orgd/db_audit.h"
#include "orgd/db_org.h"
#include "orgd/db_pay.h"
#include "orgd/db_project.h"
#include "orgd/db_usage.h"

#include "orgd/clock.h"

#include "dbi.h"

static const struct {
	enum stmt st;
	size_t size;
	db_row_fn conv;
	unsigned key_cols; /* bit c: column c is a name a cursor may give */
	bool timed;        /* the statement also takes the time (after owner) */
} lists[LIST__MAX] = {
	[LIST_ORGS] = {STMT_ORGS_PAGE, sizeof(struct org_ref), db_org_ref_row, 1u << 0},
	[LIST_MEMBERS] = {STMT_MEMBERS_PAGE, sizeof(struct member), db_member_row,
			  1u << 0 | 1u << 1 | 1u << 6},
	[LIST_AUDIT] = {STMT_AUDIT_PAGE, sizeof(struct audit_entry), db_audit_row, 1u << 0},
	[LIST_PROJECTS] = {STMT_PROJECTS_PAGE, sizeof(struct project), db_project_row, 1u << 0},
	[LIST_ENVS] = {STMT_ENVS_PAGE, sizeof(struct environment), db_env_row, 1u << 0},
	[LIST_LEDGER] = {STMT_LEDGER_PAGE, sizeof(struct ledger_entry), db_ledger_row, 1u << 0},
	[LIST_PURCHASES] = {STMT_PURCHASES_PAGE, sizeof(struct purchase), db_purchase_row, 1u << 0},
	[LIST_INVITATIONS] = {STMT_INVITES_PAGE, sizeof(struct invitation), db_invitation_row,
			      1u << 0, true},
};

err_t db_list_page(enum db_list which, const char *owner, const char *after, int64_t limit,
		   struct arena *a, struct db_page *out)
{
	*out = (struct db_page){.size = lists[which].size};
	void *items = NULL;
	struct dbv now = DB_INT(clock_now());
	err_t err = db_page(lists[which].st, owner, lists[which].timed ? &now : NULL, after, limit,
			    a, lists[which].size, lists[which].conv, lists[which].key_cols, &items,
			    &out->n);
	out->items = items;
	return err;
}
