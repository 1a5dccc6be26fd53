/*
 * role: the roles a member holds in an organization, ordered by power, and
 * their names in the API. The database stores them as these numbers.
 */
#ifndef ORGD_ROLE_H
#define ORGD_ROLE_H

#include <stddef.h>

enum role { ROLE_NONE, ROLE_MEMBER, ROLE_ADMIN, ROLE_OWNER, ROLE__MAX };

/*
 * The names by enum role, NULL-terminated: role_names + ROLE_MEMBER is the
 * list a JF_ENUM field of roles takes (with min ROLE_MEMBER, json.h).
 */
extern const char *const role_names[ROLE__MAX + 1];

/* "owner", "admin", "member" (or "" for ROLE_NONE). */
const char *role_name(enum role role);
/* The role named s[0..len), or ROLE_NONE. */
enum role role_parse(const char *s, size_t len);

#endif
