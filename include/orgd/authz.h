/*
 * authz: the role x operation matrix, deny by default. The dispatcher asks it
 * once, before every handler under /v1/org/; no handler checks roles itself.
 */
#ifndef ORGD_AUTHZ_H
#define ORGD_AUTHZ_H

#include <stdbool.h>

#include "orgd/http.h"

/* Every operation a route of /v1/org/ performs. */
enum op {
	OP_NONE, /* not an organization operation (public, session-only, cron, webhook) */
	OP_ORG_READ,
	OP_ORG_UPDATE,
	OP_MEMBERS_READ,
	OP_MEMBERS_ADD,
	OP_MEMBERS_UPDATE,
	OP_MEMBERS_REMOVE,
	OP_AUDIT_READ,
	OP_PROJECTS_READ,
	OP_PROJECTS_WRITE,
	OP_ENVS_READ,
	OP_ENVS_WRITE,
	OP_PLAN_SET,
	OP_RUNS_CREATE,
	OP_USAGE_READ,
	OP_DASHBOARD_READ,
	OP_BILLING_READ, /* also: the dashboard's billing part */
	OP__MAX
};

/* What the matrix says for a role on an operation. */
enum grant {
	DENY = 0,
	ALLOW,
	ALLOW_SELF, /* only when the route's {id} is the caller's own user id */
};

/* ERR_OK if caller may perform op on a route whose {id} is target (may be ""). */
err_t authz_check(enum op op, const struct caller *c, const char *target);

#endif
