/*
 * caller: who is calling, as the gate establishes it from the session token
 * and the database (session.c), and what the role matrix (authz.c) decides on.
 */
#ifndef ORGD_CALLER_H
#define ORGD_CALLER_H

#include <stdbool.h>
#include <stdint.h>

#include "orgd/db_org.h"
#include "orgd/id.h"
#include "orgd/role.h"

struct caller {
	char user_id[ID_LEN_MAX + 1];
	char session_id[ID_LEN_MAX + 1];
	char org_id[ID_LEN_MAX + 1]; /* "" when the token has no active organization */
	enum role role;              /* the membership in org_id as it stands in the database */
	int64_t exp;                 /* the token's expiry */
	const char *email, *name;    /* the user's, as the database has them (arena memory) */
	bool email_verified;
	/* with session_authenticate_orgs(): every active membership (oldest first) */
	const struct org_ref *orgs;
	size_t norgs;
};

#endif
