/*
 * db_list: every paged list of API.md in one call (the members, the
 * organizations of a user, projects, environments, the audit log, the
 * ledger, purchases). A list is a row of the table in src/db/db_list.c: its
 * statement, the struct each row becomes, and the columns a cursor names.
 */
#ifndef ORGD_DB_LIST_H
#define ORGD_DB_LIST_H

#include <stddef.h>
#include <stdint.h>

#include "orgd/error.h"
#include "orgd/mem.h"

enum db_list {
	LIST_ORGS,        /* struct org_ref (db_org.h), of a user */
	LIST_MEMBERS,     /* struct member (db_org.h); a cursor is a user id or an email */
	LIST_AUDIT,       /* struct audit_entry (db_audit.h), newest first */
	LIST_PROJECTS,    /* struct project (db_project.h) */
	LIST_ENVS,        /* struct environment (db_project.h) */
	LIST_LEDGER,      /* struct ledger_entry (db_usage.h), newest first */
	LIST_PURCHASES,   /* struct purchase (db_pay.h), newest first */
	LIST_INVITATIONS, /* struct invitation (db_org.h), pending, of an email (the owner) */
	LIST__MAX
};

/* A page: n items of size bytes each (the list's struct), in arena memory. */
struct db_page {
	const char *items;
	size_t n, size;
};

/*
 * Up to limit items of list `which` of owner (an organization, or the user
 * for LIST_ORGS) after the one named `after` ("": from the start).
 * ERR_NOT_FOUND if `after` names no row of this list.
 */
err_t db_list_page(enum db_list which, const char *owner, const char *after, int64_t limit,
		   struct arena *a, struct db_page *out);

#endif
