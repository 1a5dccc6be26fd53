/*
 * db_org: organizations and memberships. Every function taking an org_id is
 * bound to that organization inside its SQL: a row of another organization
 * is never seen (tenant isolation). Returned strings are arena memory.
 */
#ifndef ORGD_DB_ORG_H
#define ORGD_DB_ORG_H

#include <stddef.h>
#include <stdint.h>

#include "orgd/error.h"
#include "orgd/http.h"
#include "orgd/mem.h"

/* An organization as one of its members sees it in lists. */
struct org_ref {
	const char *id, *name;
	enum role role;
};

/* The active organizations of user_id, oldest membership first; at most max. */
err_t db_org_list_for_user(const char *user_id, size_t max, struct arena *a,
			   struct org_ref **out, size_t *n);

/* user_id's active membership in org_id (name and role), or ERR_NOT_FOUND. */
err_t db_org_membership(const char *org_id, const char *user_id, struct arena *a,
			struct org_ref *out);

#endif
