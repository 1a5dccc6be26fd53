/*
 * db_cron: what the cron sweeps claim (API.md "Auto-recharge (cron)"):
 * organizations below their auto-recharge threshold, paid plans whose period
 * has ended, purchases pending for over five minutes. Each claim is one
 * transaction that takes its batch with FOR UPDATE SKIP LOCKED, so sweeps
 * running at once on several workers or hosts split the work, and writes
 * what makes a second sweep pass the same thing by (a pending purchase, a
 * time of last attempt or of last asking). The charges then go through the
 * provider with no transaction open, and db_purchases_settle() applies them.
 */
#ifndef ORGD_DB_CRON_H
#define ORGD_DB_CRON_H

#include <stddef.h>
#include <stdint.h>

#include "orgd/db_pay.h"
#include "orgd/error.h"
#include "orgd/mem.h"

/* A claimed batch: the purchases to charge, and those that ended without a charge. */
struct cron_batch {
	struct purchase_call *calls;
	size_t n;
	int64_t failed; /* renewals of an organization with no payment method: counted failed */
};

/*
 * Claim up to limit organizations whose auto-recharge is on, whose balance
 * is below the threshold, that have no recharge in flight and whose last
 * attempt began before `since`; write each a pending auto_recharge purchase
 * (provider key: organization, dip, attempt).
 */
err_t db_cron_auto_recharge(int64_t now, int64_t since, int64_t limit, struct arena *a,
			    struct cron_batch *out);
/* How many are eligible as db_cron_auto_recharge() says, now, counted up to 1,000. */
err_t db_cron_auto_recharge_left(int64_t since, int64_t *n);

/*
 * Claim up to limit organizations on a paid plan whose period ended by now,
 * not declined within the last day, with no plan charge in flight; write each
 * a pending plan purchase renewing that period (key: organization, period,
 * attempt).
 */
err_t db_cron_renewals(int64_t now, int64_t limit, struct arena *a, struct cron_batch *out);
err_t db_cron_renewals_left(int64_t now, int64_t *n);

/* Claim up to limit purchases pending for over 5 minutes and not asked about in the last minute. */
err_t db_cron_reconcile(int64_t now, int64_t limit, struct arena *a, struct cron_batch *out);
err_t db_cron_reconcile_left(int64_t now, int64_t *n);

#endif
