/*
 * role: the names of the roles (see role.h).
 */
#include "orgd/role.h"

#include <string.h>

const char *const role_names[ROLE__MAX + 1] = {
	[ROLE_NONE] = "",       [ROLE_MEMBER] = "member", [ROLE_ADMIN] = "admin",
	[ROLE_OWNER] = "owner", [ROLE__MAX] = NULL,
};

const char *role_name(enum role role)
{
	return (unsigned)role < ROLE__MAX ? role_names[role] : "";
}

enum role role_parse(const char *s, size_t len)
{
	for (int r = ROLE_MEMBER; r < ROLE__MAX; r++)
		if (strlen(role_names[r]) == len && memcmp(role_names[r], s, len) == 0)
			return (enum role)r;
	return ROLE_NONE;
}
