/*
 * cron: the three sweeps cron calls (API.md "Auto-recharge (cron)"), behind
 * the cron secret (AUTH_CRON), and the auto-recharge settings
 * (PUT /v1/org/billing/auto-recharge). A sweep claims its batch in one
 * transaction (db_cron.h), charges each claim with no transaction open, and
 * settles them, a chunk of charges per transaction, through the path every
 * purchase takes (db_purchases_settle), then answers with its counts;
 * `remaining` tells the caller to call again.
 */
#include <stddef.h>
#include <string.h>

#include "orgd/api.h"
#include "orgd/clock.h"
#include "orgd/db_cron.h"
#include "orgd/db_pay.h"
#include "orgd/metrics.h"
#include "orgd/pay.h"

const struct jfield sweep_fields[2] = {
	{"limit", JF_INT, 0, 1, 1000, offsetof(struct sweep_in, limit)},
	/* scripts/auto-recharge: organizations attempted since its start wait for its next run */
	{"since", JF_INT, 0, 0, INT64_C(1) << 40, offsetof(struct sweep_in, since)},
};

const struct jfield auto_recharge_fields[3] = {
	{"enabled", JF_BOOL, JF_REQUIRED, 0, 0, offsetof(struct auto_recharge_in, enabled)},
	{"threshold_credits", JF_INT, JF_REQUIRED, 1, 1000000000,
	 offsetof(struct auto_recharge_in, threshold_credits)},
	/* a recharge is a purchase: its bounds are POST /v1/org/billing/credits' */
	{"recharge_credits", JF_INT, JF_REQUIRED, 500, 1000000,
	 offsetof(struct auto_recharge_in, recharge_credits)},
};

err_t api_auto_recharge_set(struct req *r)
{
	const struct auto_recharge_in *in = r->in;
	struct auto_recharge want = {in->enabled, in->threshold_credits, in->recharge_credits, 0};
	struct auto_recharge now;
	err_t err = db_auto_recharge_set(r->caller.org_id, r->caller.user_id, &want, clock_now(),
					 &r->arena, &now);
	if (err == ERR_CONFLICT) {
		r->err_field = "enabled";
		r->err_msg = "Auto-recharge needs a saved payment method "
			     "(PUT /v1/org/billing/payment-method).";
	}
	if (err == ERR_OK)
		api_write_auto_recharge(&r->w, &now);
	return err;
}

/* What one sweep did. */
struct sweep_counts {
	int64_t scanned, succeeded, failed, remaining;
};

/* Claims charged before their settlements are applied, in one transaction for them all:
   a commit per chunk, not per charge (scripts/bench-cron) */
#define SETTLE_CHUNK 32

/* Charge every claim of batch, then settle them a chunk at a time, counting how each ended. */
static err_t charge_batch(struct req *r, const struct cron_batch *batch, struct sweep_counts *c)
{
	c->scanned = (int64_t)batch->n + batch->failed;
	c->failed = batch->failed;
	for (size_t i = 0; i < batch->n; i += SETTLE_CHUNK) {
		size_t n = batch->n - i < SETTLE_CHUNK ? batch->n - i : SETTLE_CHUNK;
		struct pay_result res[SETTLE_CHUNK];
		struct settlement s[SETTLE_CHUNK];
		struct settle_item items[SETTLE_CHUNK];
		for (size_t k = 0; k < n; k++) {
			api_charge(&batch->calls[i + k], &res[k], &s[k]);
			items[k] = (struct settle_item){&batch->calls[i + k].p, &s[k], NULL};
		}
		/* on an error these and the rest stay pending: reconciliation settles them */
		err_t err = db_purchases_settle(items, n, clock_now(), &r->arena);
		if (err != ERR_OK)
			return err;
		for (size_t k = 0; k < n; k++) {
			c->succeeded += strcmp(items[k].status, "succeeded") == 0;
			c->failed += strcmp(items[k].status, "failed") == 0;
		}
	}
	return ERR_OK;
}

static void write_counts(struct req *r, const char *done, const struct sweep_counts *c)
{
	metrics_add(MET_SWEPT_SUCCEEDED, (uint64_t)c->succeeded);
	metrics_add(MET_SWEPT_FAILED, (uint64_t)c->failed);
	jw_obj(&r->w);
	jw_kint(&r->w, "scanned", c->scanned);
	jw_kint(&r->w, done, c->succeeded);
	jw_kint(&r->w, "failed", c->failed);
	jw_kint(&r->w, "remaining", c->remaining);
	jw_obj_end(&r->w);
}

static int64_t sweep_limit(const struct req *r)
{
	const struct sweep_in *in = r->in;
	return in && (r->present & 1u) ? in->limit : 500;
}

err_t api_sweep_auto_recharge(struct req *r)
{
	const struct sweep_in *in = r->in;
	int64_t now = clock_now();
	int64_t since = in && (r->present & 2u) ? in->since : now + 1;
	struct cron_batch batch;
	struct sweep_counts c = {0};
	err_t err = db_cron_auto_recharge(now, since, sweep_limit(r), &r->arena, &batch);
	if (err == ERR_OK)
		err = charge_batch(r, &batch, &c);
	if (err == ERR_OK)
		err = db_cron_auto_recharge_left(since, &c.remaining);
	if (err == ERR_OK)
		write_counts(r, "charged", &c);
	metrics_add(MET_SWEEP_AUTO_RECHARGE, 1);
	return err;
}

err_t api_sweep_renewals(struct req *r)
{
	int64_t now = clock_now();
	struct cron_batch batch;
	struct sweep_counts c = {0};
	err_t err = db_cron_renewals(now, sweep_limit(r), &r->arena, &batch);
	if (err == ERR_OK)
		err = charge_batch(r, &batch, &c);
	if (err == ERR_OK)
		err = db_cron_renewals_left(now, &c.remaining);
	if (err == ERR_OK)
		write_counts(r, "renewed", &c);
	metrics_add(MET_SWEEP_RENEWALS, 1);
	return err;
}

err_t api_sweep_reconcile(struct req *r)
{
	int64_t now = clock_now();
	struct cron_batch batch;
	struct sweep_counts c = {0};
	err_t err = db_cron_reconcile(now, sweep_limit(r), &r->arena, &batch);
	if (err == ERR_OK)
		err = charge_batch(r, &batch, &c);
	if (err == ERR_OK)
		err = db_cron_reconcile_left(now, &c.remaining);
	if (err == ERR_OK)
		write_counts(r, "settled", &c);
	metrics_add(MET_SWEEP_RECONCILE, 1);
	return err;
}
