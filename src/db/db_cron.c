/*
 * db_cron: the sweeps' claims (see db_cron.h).
 */
#include "orgd/db_cron.h"

#include <string.h>

#include "orgd/db_usage.h"
#include "orgd/id.h"
#include "orgd/json.h"

#include "dbi.h"

#define RECONCILE_AFTER 300 /* seconds a purchase stays pending before reconciliation asks */
#define RECONCILE_EVERY 60  /* and at most this often for one purchase */

/* Room for n claimed purchases in out. */
static err_t batch_alloc(struct cron_batch *out, size_t n, struct arena *a)
{
	*out = (struct cron_batch){0};
	out->calls = arena_alloc(a, (n ? n : 1) * sizeof *out->calls);
	return out->calls ? ERR_OK : ERR_INTERNAL;
}

/* A pending purchase of the claim: inserted, and kept in the batch to charge. */
static err_t claim_one(struct cron_batch *out, const char *org_id, const struct purchase_new *p,
		       const char *key, const char *customer, const char *pm, int64_t period_from,
		       int64_t now, struct arena *a)
{
	char *id = arena_alloc(a, ID_LEN_MAX + 1);
	if (!id || !key)
		return ERR_INTERNAL;
	id_new(id, "pur");
	err_t err =
		db_purchase_insert_in_tx(id, org_id, p, key, NULL, customer, pm, period_from, now);
	if (err == ERR_CONFLICT) /* that key was charged already: its purchase settles it */
		return ERR_OK;
	if (err != ERR_OK)
		return err;
	out->calls[out->n++].p = (struct purchase){
		.id = id,
		.org_id = org_id,
		.kind = purchase_kinds[p->kind],
		.plan_id = p->plan_id,
		.status = "pending",
		.provider_key = key,
		.credits = p->credits,
		.amount_cents = p->amount_cents,
		.customer_id = customer,
		.pm_id = pm,
		.period_from = period_from,
	};
	return ERR_OK;
}

struct claim {
	int64_t now, since, limit;
	struct arena *a;
	struct cron_batch *out;
};

/* Row i of the candidates as the pending auto_recharge purchase to write (id and key in a). */
static err_t ar_purchase(const struct db_rows *rows, size_t i, struct arena *a, struct purchase *p)
{
	const char *org = DB_CELL(rows, i, 0)->s;
	char *id = arena_alloc(a, ID_LEN_MAX + 1);
	/* a new attempt after a decline has a key of its own; a retry of a timeout
	   (reconciliation) reuses its purchase's */
	const char *key = arena_printf(a, "ar:%s:%lld:%lld", org, (long long)DB_CELL(rows, i, 2)->i,
				       (long long)DB_CELL(rows, i, 3)->i + 1);
	if (!id || !key)
		return ERR_INTERNAL;
	id_new(id, "pur");
	*p = (struct purchase){
		.id = id,
		.org_id = org,
		.kind = purchase_kinds[PURCHASE_AUTO_RECHARGE],
		.status = "pending",
		.provider_key = key,
		.credits = DB_CELL(rows, i, 1)->i,
		.amount_cents = DB_CELL(rows, i, 1)->i,
		.customer_id = DB_CELL(rows, i, 4)->s,
		.pm_id = DB_CELL(rows, i, 5)->s,
	};
	return ERR_OK;
}

/* The claimed purchases as the JSON array of STMT_AR_CLAIM_PURCHASES (sql.c). */
static void ar_claimed_json(const struct cron_batch *b, struct buf *out)
{
	struct jw w;
	jw_init(&w, out);
	jw_arr(&w);
	for (size_t i = 0; i < b->n; i++) {
		const struct purchase *p = &b->calls[i].p;
		jw_obj(&w);
		jw_kstr(&w, "i", p->id);
		jw_kstr(&w, "o", p->org_id);
		jw_kint(&w, "c", p->credits);
		jw_kstr(&w, "k", p->provider_key);
		jw_kstr(&w, "u", p->customer_id);
		jw_kstr(&w, "p", p->pm_id);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
}

static err_t auto_recharge_tx(void *arg)
{
	struct claim *c = arg;
	struct db_rows rows;
	err_t err = db_query(STMT_AR_CANDIDATES, DB_ARGS(DB_INT(c->since), DB_INT(c->limit)), c->a,
			     &rows);
	if (err == ERR_OK)
		err = batch_alloc(c->out, rows.n, c->a);
	for (size_t i = 0; i < rows.n && err == ERR_OK; i++)
		err = ar_purchase(&rows, i, c->a, &c->out->calls[c->out->n++].p);
	if (err != ERR_OK || c->out->n == 0)
		return err;
	/* the batch's attempts stamped and its purchases written in one statement each */
	struct buf json = {0};
	ar_claimed_json(c->out, &json);
	err = json.oom ? ERR_INTERNAL
		       : db_exec(STMT_AR_CLAIM_ATTEMPTS,
				 DB_ARGS(DB_STRN(json.p, json.len), DB_INT(c->now)), NULL);
	if (err == ERR_OK)
		err = db_exec(STMT_AR_CLAIM_PURCHASES,
			      DB_ARGS(DB_INT(c->now), DB_STRN(json.p, json.len)), NULL);
	buf_free(&json);
	if (err != ERR_CONFLICT)
		return err;
	/* a key charged already (that purchase settles it): the batch one purchase at a
	   time, without those (the failed statement left nothing behind) */
	size_t n = c->out->n;
	c->out->n = 0;
	for (size_t i = 0; i < n; i++) {
		const struct purchase *p = &c->out->calls[i].p;
		struct purchase_new pn = {PURCHASE_AUTO_RECHARGE, p->credits, p->amount_cents,
					  NULL};
		err = db_purchase_insert_in_tx(p->id, p->org_id, &pn, p->provider_key, NULL,
					       p->customer_id, p->pm_id, 0, c->now);
		if (err == ERR_CONFLICT)
			continue;
		if (err != ERR_OK)
			return err;
		c->out->calls[c->out->n++].p = *p;
	}
	return ERR_OK;
}

err_t db_cron_auto_recharge(int64_t now, int64_t since, int64_t limit, struct arena *a,
			    struct cron_batch *out)
{
	struct claim c = {now, since, limit, a, out};
	return db_tx(auto_recharge_tx, &c);
}

/* The one count st answers with args. */
static err_t count(enum stmt st, const struct dbv *args, size_t nargs, int64_t *n)
{
	struct arena a = {0};
	struct db_rows rows;
	err_t err = db_query(st, args, nargs, &a, &rows);
	*n = err == ERR_OK && rows.n ? DB_CELL(&rows, 0, 0)->i : 0;
	arena_free(&a);
	return err;
}

err_t db_cron_auto_recharge_left(int64_t since, int64_t *n)
{
	return count(STMT_AR_REMAINING, DB_ARGS(DB_INT(since)), n);
}

static err_t renewals_tx(void *arg)
{
	struct claim *c = arg;
	struct db_rows rows;
	err_t err =
		db_query(STMT_RENEWAL_CANDIDATES,
			 DB_ARGS(DB_INT(c->now), DB_INT(c->now), DB_INT(c->limit)), c->a, &rows);
	if (err == ERR_OK)
		err = batch_alloc(c->out, rows.n, c->a);
	for (size_t i = 0; i < rows.n && err == ERR_OK; i++) {
		const char *org = DB_CELL(&rows, i, 0)->s;
		int64_t period_end = DB_CELL(&rows, i, 2)->i;
		int64_t failures = DB_CELL(&rows, i, 4)->i;
		const char *customer = DB_CELL(&rows, i, 5)->s, *pm = DB_CELL(&rows, i, 6)->s;
		if (!customer || !pm) { /* nothing to charge: a failed renewal all the same */
			err = db_renewal_failed_in_tx(org, failures, c->now);
			c->out->failed++;
			continue;
		}
		const struct dbv *plan_id = DB_CELL(&rows, i, 1);
		const struct plan *plan;
		err = db_plan_find(plan_id->s, plan_id->len, &plan);
		if (err != ERR_OK)
			return err == ERR_NOT_FOUND ? ERR_INTERNAL : err;
		if (plan->price_cents <= 0) /* a period on a free plan: nothing to renew */
			continue;
		struct purchase_new p = {PURCHASE_PLAN, 0, plan->price_cents, plan->id};
		const char *key = arena_printf(c->a, "renew:%s:%lld:%lld", org,
					       (long long)period_end, (long long)failures + 1);
		err = claim_one(c->out, org, &p, key, customer, pm, period_end, c->now, c->a);
	}
	return err;
}

err_t db_cron_renewals(int64_t now, int64_t limit, struct arena *a, struct cron_batch *out)
{
	struct claim c = {now, 0, limit, a, out};
	return db_tx(renewals_tx, &c);
}

err_t db_cron_renewals_left(int64_t now, int64_t *n)
{
	return count(STMT_RENEWAL_REMAINING, DB_ARGS(DB_INT(now), DB_INT(now)), n);
}

static err_t reconcile_tx(void *arg)
{
	struct claim *c = arg;
	struct db_rows rows;
	err_t err = db_query(STMT_RECONCILE_CANDIDATES,
			     DB_ARGS(DB_INT(c->now - RECONCILE_AFTER),
				     DB_INT(c->now - RECONCILE_EVERY), DB_INT(c->limit)),
			     c->a, &rows);
	if (err == ERR_OK)
		err = batch_alloc(c->out, rows.n, c->a);
	for (size_t i = 0; i < rows.n && err == ERR_OK; i++) {
		struct purchase *p = &c->out->calls[c->out->n++].p;
		db_purchase_row(&rows, i, p);
		err = db_exec(STMT_RECONCILE_CHECKED, DB_ARGS(DB_INT(c->now), DB_STR(p->id)), NULL);
	}
	return err;
}

err_t db_cron_reconcile(int64_t now, int64_t limit, struct arena *a, struct cron_batch *out)
{
	struct claim c = {now, 0, limit, a, out};
	return db_tx(reconcile_tx, &c);
}

err_t db_cron_reconcile_left(int64_t now, int64_t *n)
{
	return count(STMT_RECONCILE_REMAINING,
		     DB_ARGS(DB_INT(now - RECONCILE_AFTER), DB_INT(now - RECONCILE_EVERY)), n);
}
