/*
 * db_audit: the audit log of each organization (API.md: every membership,
 * role, plan, payment-method, purchase, auto-recharge and environment change).
 * db_audit_add() is called inside the transaction of the change it records.
 */
#ifndef ORGD_DB_AUDIT_H
#define ORGD_DB_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "orgd/error.h"
#include "orgd/mem.h"

struct audit_entry {
	const char *id, *at, *actor_user_id, *action, *target, *detail;
};

/* Record one entry; actor may be NULL (the system, e.g. cron). */
err_t db_audit_add(const char *org_id, const char *actor, const char *action, const char *target,
		   const char *detail, int64_t now);
/* A page of org_id's entries, newest first, older than the entry `after`. */
err_t db_audit_page(const char *org_id, const char *after, int64_t limit, struct arena *a,
		    struct audit_entry **out, size_t *n);

#endif
