/*
 * db_audit: the audit log of each organization (API.md: every membership,
 * role, plan, payment-method, purchase, auto-recharge and environment change).
 * An entry is written inside the transaction of the change it records
 * (db_audit_add_in_tx(), private to src/db/).
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

#endif
