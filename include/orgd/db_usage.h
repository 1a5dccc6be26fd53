/*
 * db_usage: the plan catalog, metering rule runs, the credit ledger and the
 * dashboard's reads. A balance change and its ledger row are always written
 * in one transaction, behind the organization's row lock.
 */
#ifndef ORGD_DB_USAGE_H
#define ORGD_DB_USAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orgd/db_org.h"
#include "orgd/db_pay.h"
#include "orgd/error.h"
#include "orgd/mem.h"

/* The catalog, in its order; *plans is worker memory, valid until the next call. */
err_t db_plans(const struct plan **plans, size_t *n);
/* The plan called id[0..len): ERR_OK with *out, ERR_NOT_FOUND, or the catalog's error. */
err_t db_plan_find(const char *id, size_t len, const struct plan **out);

/*
 * Move org_id to plan, a plan without a price, at once (audited as done by
 * actor); its period ends with it. A paid plan is bought (db_pay.h).
 */
err_t db_org_set_plan(const char *org_id, const char *actor, const struct plan *plan, int64_t now,
		      struct arena *a);

/* What metering one run did. */
struct run_result {
	bool overage;
	int64_t credits_charged;
	int64_t runs, limit; /* the period's count after this run, and the plan's limit */
	int64_t credit_balance;
};

/*
 * Meter run run_id of project_id on environment_id in period, in one
 * transaction of its own behind the organization's row lock, with the
 * Idempotency-Key step of idem (db_idem.h). Within the plan's monthly limit
 * it is included; beyond, it takes the plan's overage credits with a ledger
 * row. Without a key: ERR_NOT_FOUND if the project or environment is not the
 * organization's, ERR_INSUFFICIENT_CREDITS if the balance is too low (nothing
 * written either way). With a key those outcomes are rendered and stored,
 * and ERR_OK returned with the answer in idem->out.
 */
struct db_idem;
err_t db_run_record(const char *org_id, const char *run_id, const char *project_id,
		    const char *environment_id, const char *period, int64_t now, struct arena *a,
		    struct db_idem *idem, struct run_result *out);

struct usage_month {
	const char *period;
	int64_t runs, overage_runs;
};

/* The 13 latest months with usage, newest first. */
err_t db_usage_history(const char *org_id, struct arena *a, struct usage_month **out, size_t *n);

struct ledger_entry {
	const char *id, *at, *reason, *ref;
	int64_t delta, balance_after;
};

struct dashboard {
	const char *org_id, *org_name;
	const struct plan *plan;
	int64_t credit_balance, members, owners, admins, period_runs;
	const char *pm_brand, *pm_last4; /* NULL when no payment method is saved */
	struct auto_recharge ar;
	struct environment_ref {
		const char *id, *name, *kind, *status;
	} * envs;
	size_t nenvs; /* the first 100 (sql.c); GET /v1/org/environments lists all */
};

/* The home view in one query (two for an organization without environments): the
   organization's row with its counts, and its environments. */
err_t db_dashboard(const char *org_id, const char *period, struct arena *a, struct dashboard *d);

#endif
