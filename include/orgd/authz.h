/*
 * authz: the role x operation matrix, deny by default, aware of the target.
 * The dispatcher asks it before every handler under /v1/org/: once with what
 * the route alone tells (the {id}), and again once the route's finder has
 * loaded the target and the body's granted role is known. No handler checks
 * roles itself; the owner rules are decided again under row locks by the
 * data layer, which is the authority against races (db_org.h).
 */
#ifndef ORGD_AUTHZ_H
#define ORGD_AUTHZ_H

#include "orgd/caller.h"
#include "orgd/error.h"

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
	OP_BILLING_READ,  /* billing state, purchases, the ledger; the dashboard's billing part */
	OP_BILLING_WRITE, /* payment method, credits, auto-recharge: billing-sensitive writes */
	OP__MAX
};

/* What the matrix says for a role on an operation. */
enum grant {
	DENY = 0,
	ALLOW,
	ALLOW_SELF,        /* only on the caller's own membership (leaving) */
	ALLOW_BELOW_OWNER, /* not on an owner target, and never granting owner */
};

/*
 * The target of an operation, as far as it is known: the route's {id}, the
 * target member's role (ROLE_NONE: not loaded yet), the role the body grants
 * (ROLE_NONE: none, or not decoded yet). Unknown parts never deny.
 */
struct authz_target {
	const char *id;
	enum role role;
	enum role grant;
};

/* ERR_OK if caller may perform op on target (NULL: none), else ERR_FORBIDDEN. */
err_t authz_check(enum op op, const struct caller *c, const struct authz_target *target);

#endif
