/*
 * authz: the role x operation matrix. A cell not written is DENY, so an
 * operation missing from the matrix is refused for every role.
 */
#include "orgd/authz.h"

#include <string.h>

static const enum grant matrix[OP__MAX][ROLE__MAX] = {
	[OP_NONE] = {DENY},
};

err_t authz_check(enum op op, const struct caller *c, const char *target)
{
	if ((unsigned)op >= OP__MAX || (unsigned)c->role >= ROLE__MAX)
		return ERR_FORBIDDEN;
	switch (matrix[op][c->role]) {
	case ALLOW:
		return ERR_OK;
	case ALLOW_SELF:
		return target && strcmp(target, c->user_id) == 0 ? ERR_OK : ERR_FORBIDDEN;
	case DENY:
		break;
	}
	return ERR_FORBIDDEN;
}
