/*
 * db_project: an organization's projects (rule sets) and environments (the
 * targets where rules run). Every statement is bound to org_id: another
 * organization's id is ERR_NOT_FOUND. Environment changes are audited in the
 * same transaction. Returned strings are arena memory.
 */
#ifndef ORGD_DB_PROJECT_H
#define ORGD_DB_PROJECT_H

#include <stddef.h>
#include <stdint.h>

#include "orgd/error.h"
#include "orgd/mem.h"

struct project {
	const char *id, *name, *description, *created_at;
};

struct environment {
	const char *id, *name, *kind, *region, *status, *created_at;
};

err_t db_project_get(const char *org_id, const char *id, struct arena *a, struct project *out);
/* ERR_CONFLICT if the name is taken in the organization. */
err_t db_project_create(const char *org_id, const char *id, const char *name,
			const char *description, int64_t now);
/* Change the fields that are not NULL. ERR_NOT_FOUND, ERR_CONFLICT. */
err_t db_project_update(const char *org_id, const char *id, const char *name,
			const char *description);
err_t db_project_delete(const char *org_id, const char *id);

err_t db_env_get(const char *org_id, const char *id, struct arena *a, struct environment *out);
/* Create (status "active"), audited as done by actor. ERR_CONFLICT on a taken name. */
err_t db_env_create(const char *org_id, const char *actor, const struct environment *e,
		    int64_t now);
/* Change the fields of e that are not NULL, audited. */
err_t db_env_update(const char *org_id, const char *actor, const struct environment *e,
		    int64_t now);
err_t db_env_delete(const char *org_id, const char *actor, const char *id, int64_t now);

#endif
