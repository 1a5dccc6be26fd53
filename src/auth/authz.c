/*
 * authz: the role x operation matrix. A cell not written is DENY, so an
 * operation missing from the matrix is refused for every role.
 */
#include "orgd/authz.h"

#include <stddef.h>
#include <string.h>

/* Shorthands for a row: who of member, admin, owner may. ROLE_NONE is never granted. */
/* clang-format off */
#define MEMBERS {[ROLE_MEMBER] = ALLOW, [ROLE_ADMIN] = ALLOW, [ROLE_OWNER] = ALLOW}
#define ADMINS  {[ROLE_ADMIN] = ALLOW, [ROLE_OWNER] = ALLOW}
/* admins, but an admin neither touches an owner nor makes one; owners may */
#define ADMINS_BELOW_OWNER {[ROLE_ADMIN] = ALLOW_BELOW_OWNER, [ROLE_OWNER] = ALLOW}
/* clang-format on */

static const enum grant matrix[OP__MAX][ROLE__MAX] = {
	[OP_NONE] = {DENY},
	[OP_ORG_READ] = MEMBERS,
	[OP_ORG_UPDATE] = ADMINS,
	[OP_MEMBERS_READ] = MEMBERS,
	[OP_MEMBERS_ADD] = ADMINS_BELOW_OWNER,
	[OP_MEMBERS_UPDATE] = ADMINS_BELOW_OWNER,
	/* a member may remove only themself: leaving */
	[OP_MEMBERS_REMOVE] = {[ROLE_MEMBER] = ALLOW_SELF,
			       [ROLE_ADMIN] = ALLOW_BELOW_OWNER,
			       [ROLE_OWNER] = ALLOW},
	[OP_AUDIT_READ] = ADMINS,
	[OP_PROJECTS_READ] = MEMBERS,
	[OP_PROJECTS_WRITE] = MEMBERS,
	[OP_ENVS_READ] = MEMBERS,
	[OP_ENVS_WRITE] = ADMINS,
	[OP_PLAN_SET] = ADMINS,
	[OP_RUNS_CREATE] = MEMBERS,
	[OP_USAGE_READ] = MEMBERS,
	[OP_DASHBOARD_READ] = MEMBERS,
	[OP_BILLING_READ] = ADMINS,
	[OP_BILLING_WRITE] = ADMINS,
};

err_t authz_check(enum op op, const struct caller *c, const struct authz_target *t)
{
	static const struct authz_target none = {NULL, ROLE_NONE, ROLE_NONE};
	if (!t)
		t = &none;
	if ((unsigned)op >= OP__MAX || (unsigned)c->role >= ROLE__MAX)
		return ERR_FORBIDDEN;
	switch (matrix[op][c->role]) {
	case ALLOW:
		return ERR_OK;
	case ALLOW_SELF:
		return t->id && strcmp(t->id, c->user_id) == 0 ? ERR_OK : ERR_FORBIDDEN;
	case ALLOW_BELOW_OWNER:
		return t->role == ROLE_OWNER || t->grant == ROLE_OWNER ? ERR_FORBIDDEN : ERR_OK;
	case DENY:
		break;
	}
	return ERR_FORBIDDEN;
}
