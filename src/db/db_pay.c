/*
 * db_pay: the org_billing, purchases and webhook_events tables (see
 * db_pay.h). Every transaction here takes the organization's row lock first
 * (STMT_BILLING_LOCK; STMT_SETTLE_LOCK with its purchase's), as metering
 * does, so one organization's money changes queue instead of deadlocking.
 */
#include "orgd/db_pay.h"

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orgd/clock.h"
#include "orgd/db_idem.h"
#include "orgd/digest.h"
#include "orgd/id.h"
#include "orgd/json.h"
#include "orgd/log.h"

#include "dbi.h"

const char *const purchase_kinds[PURCHASE__MAX + 1] = {
	[PURCHASE_CREDITS] = "credits",
	[PURCHASE_AUTO_RECHARGE] = "auto_recharge",
	[PURCHASE_PLAN] = "plan",
	[PURCHASE__MAX] = NULL,
};

#define OPT_STR(s) ((s) ? DB_STR(s) : DB_NULL)

err_t db_billing_get(const char *org_id, struct arena *a, struct billing *out)
{
	struct db_rows rows;
	err_t err = db_query(STMT_BILLING_GET, DB_ARGS(DB_STR(org_id)), a, &rows);
	if (err == ERR_OK && rows.n == 0)
		err = ERR_NOT_FOUND;
	if (err != ERR_OK)
		return err;
	*out = (struct billing){
		.credit_balance = DB_CELL(&rows, 0, 0)->i,
		.customer_id = DB_CELL(&rows, 0, 1)->s,
		.pm_id = DB_CELL(&rows, 0, 2)->s,
		.pm_brand = DB_CELL(&rows, 0, 3)->s,
		.pm_last4 = DB_CELL(&rows, 0, 4)->s,
		.ar = db_auto_recharge(&rows, 0, 5),
		.plan_id = DB_CELL(&rows, 0, 9)->s,
		.current_period_end = DB_CELL(&rows, 0, 10)->s,
		.renewal_failures = DB_CELL(&rows, 0, 11)->i,
	};
	return ERR_OK;
}

struct ar_set {
	const char *org_id, *actor;
	const struct auto_recharge *ar;
	int64_t now;
	struct arena *a;
	struct auto_recharge *out;
};

static err_t ar_set_tx(void *arg)
{
	struct ar_set *c = arg;
	struct db_rows rows;
	err_t err = db_query(STMT_BILLING_LOCK, DB_ARGS(DB_STR(c->org_id)), c->a, &rows);
	if (err == ERR_OK && rows.n == 0)
		err = ERR_NOT_FOUND;
	if (err == ERR_OK && c->ar->enabled && DB_CELL(&rows, 0, 3)->t == DBV_NULL)
		err = ERR_CONFLICT; /* enabling needs a saved payment method */
	if (err == ERR_OK)
		err = db_exec(STMT_BILLING_ENSURE, DB_ARGS(DB_STR(c->org_id)), NULL);
	if (err == ERR_OK)
		err = db_exec(STMT_AR_SET,
			      DB_ARGS(DB_INT(c->ar->enabled), DB_INT(c->ar->threshold),
				      DB_INT(c->ar->recharge), DB_INT(c->ar->enabled),
				      DB_STR(c->org_id)),
			      NULL);
	const char *detail =
		arena_printf(c->a, "%s threshold %lld recharge %lld", c->ar->enabled ? "on" : "off",
			     (long long)c->ar->threshold, (long long)c->ar->recharge);
	if (err == ERR_OK)
		err = db_audit_add_in_tx(c->org_id, c->actor, "auto_recharge.updated", c->org_id,
					 detail ? detail : "", c->now);
	struct billing b;
	if (err == ERR_OK)
		err = db_billing_get(c->org_id, c->a, &b);
	if (err == ERR_OK)
		*c->out = b.ar;
	return err;
}

err_t db_auto_recharge_set(const char *org_id, const char *actor, const struct auto_recharge *ar,
			   int64_t now, struct arena *a, struct auto_recharge *out)
{
	struct ar_set c = {org_id, actor, ar, now, a, out};
	return db_tx(ar_set_tx, &c);
}

err_t db_customer_set(const char *org_id, const char *customer_id)
{
	err_t err = db_exec(STMT_BILLING_ENSURE, DB_ARGS(DB_STR(org_id)), NULL);
	if (err == ERR_OK)
		err = db_exec(STMT_CUSTOMER_SET, DB_ARGS(DB_STR(customer_id), DB_STR(org_id)),
			      NULL);
	return err;
}

struct pm_change {
	const char *org_id, *actor, *pm_id, *brand, *last4;
	int64_t now;
	struct arena a;
};

static err_t pm_change_tx(void *arg)
{
	struct pm_change *c = arg;
	struct db_rows rows;
	err_t err = db_query(STMT_BILLING_LOCK, DB_ARGS(DB_STR(c->org_id)), &c->a, &rows);
	if (err == ERR_OK && rows.n == 0)
		err = ERR_NOT_FOUND;
	if (err == ERR_OK)
		err = db_exec(STMT_BILLING_ENSURE, DB_ARGS(DB_STR(c->org_id)), NULL);
	if (err != ERR_OK)
		return err;
	if (c->pm_id) {
		err = db_exec(STMT_PM_SET,
			      DB_ARGS(DB_STR(c->pm_id), DB_STR(c->brand), DB_STR(c->last4),
				      DB_STR(c->org_id)),
			      NULL);
		const char *detail = arena_printf(&c->a, "%s %s", c->brand, c->last4);
		if (err == ERR_OK)
			err = db_audit_add_in_tx(c->org_id, c->actor, "payment_method.updated",
						 c->org_id, detail ? detail : "", c->now);
		return err;
	}
	bool had = DB_CELL(&rows, 0, 3)->t != DBV_NULL;
	err = db_exec(STMT_PM_DELETE, DB_ARGS(DB_STR(c->org_id)), NULL);
	if (err == ERR_OK && had)
		err = db_audit_add_in_tx(c->org_id, c->actor, "payment_method.removed", c->org_id,
					 "auto-recharge off", c->now);
	return err;
}

err_t db_payment_method_set(const char *org_id, const char *actor, const char *pm_id,
			    const char *brand, const char *last4, int64_t now)
{
	struct pm_change c = {org_id, actor, pm_id, brand, last4, now, {0}};
	err_t err = db_tx(pm_change_tx, &c);
	arena_free(&c.a);
	return err;
}

err_t db_payment_method_delete(const char *org_id, const char *actor, int64_t now)
{
	struct pm_change c = {org_id, actor, NULL, NULL, NULL, now, {0}};
	err_t err = db_tx(pm_change_tx, &c);
	arena_free(&c.a);
	return err;
}

struct auto_recharge db_auto_recharge(const struct db_rows *rows, size_t i, size_t col)
{
	return (struct auto_recharge){
		.enabled = DB_CELL(rows, i, col)->i != 0,
		.threshold = DB_CELL(rows, i, col + 1)->i,
		.recharge = DB_CELL(rows, i, col + 2)->i,
		.failures = DB_CELL(rows, i, col + 3)->i,
	};
}

/* Row i's purchase, its columns (PURCHASE_COLS) from column c on. */
static void purchase_at(const struct db_rows *rows, size_t i, size_t c, struct purchase *out)
{
	*out = (struct purchase){
		.id = DB_CELL(rows, i, c)->s,
		.org_id = DB_CELL(rows, i, c + 1)->s,
		.kind = DB_CELL(rows, i, c + 2)->s,
		.plan_id = DB_CELL(rows, i, c + 3)->s,
		.status = DB_CELL(rows, i, c + 4)->s,
		.failure_code = DB_CELL(rows, i, c + 5)->s,
		.provider_key = DB_CELL(rows, i, c + 6)->s,
		.intent_id = DB_CELL(rows, i, c + 7)->s,
		.created_at = DB_CELL(rows, i, c + 8)->s,
		.settled_at = DB_CELL(rows, i, c + 9)->s,
		.credits = DB_CELL(rows, i, c + 10)->i,
		.amount_cents = DB_CELL(rows, i, c + 11)->i,
		.customer_id = DB_CELL(rows, i, c + 12)->s,
		.pm_id = DB_CELL(rows, i, c + 13)->s,
		.period_from = DB_CELL(rows, i, c + 14)->i,
	};
}

void db_purchase_row(const struct db_rows *rows, size_t i, void *item)
{
	purchase_at(rows, i, 0, item);
}

/* The one purchase st finds with args, or ERR_NOT_FOUND. */
static err_t purchase_query(enum stmt st, const struct dbv *args, size_t n, struct arena *a,
			    struct purchase *out)
{
	struct db_rows rows;
	err_t err = db_query(st, args, n, a, &rows);
	if (err == ERR_OK && rows.n == 0)
		err = ERR_NOT_FOUND;
	if (err == ERR_OK)
		db_purchase_row(&rows, 0, out);
	return err;
}

struct begin {
	const char *org_id, *actor;
	const struct purchase_new *p;
	struct db_idem *idem;
	int64_t now;
	struct arena *a;
	struct purchase_call *out;
};

/* A new pending purchase of c, its provider key from what it buys and which attempt it is. */
static err_t purchase_insert(struct begin *c, const char *customer, const char *pm)
{
	char id[ID_LEN_MAX + 1];
	id_new(id, "pur");
	const char *key;
	if (c->p->kind == PURCHASE_PLAN) {
		struct db_rows rows;
		err_t err =
			db_query(STMT_PLAN_ATTEMPTS,
				 DB_ARGS(DB_STR(c->org_id), DB_STR(c->p->plan_id)), c->a, &rows);
		if (err != ERR_OK)
			return err;
		/* a new attempt after a decline: the provider replays a decline for a used key */
		key = arena_printf(c->a, "plan:%s:%s:%lld", c->org_id, c->p->plan_id,
				   (long long)DB_CELL(&rows, 0, 0)->i + 1);
	} else {
		key = arena_printf(c->a, "purchase:%s", id);
	}
	if (!key)
		return ERR_INTERNAL;
	err_t err = db_purchase_insert_in_tx(id, c->org_id, c->p, key, c->idem->key, customer, pm,
					     0, c->now);
	const char *detail = arena_printf(c->a, "%s %lld cents", purchase_kinds[c->p->kind],
					  (long long)c->p->amount_cents);
	if (err == ERR_OK)
		err = db_audit_add_in_tx(c->org_id, c->actor, "purchase.created", id,
					 detail ? detail : "", c->now);
	if (err == ERR_OK)
		err = purchase_query(STMT_PURCHASE_LOCK, DB_ARGS(DB_STR(id)), c->a, &c->out->p);
	return err;
}

static err_t begin_tx(void *arg)
{
	struct begin *c = arg;
	struct db_rows rows;
	err_t err = db_query(STMT_BILLING_LOCK, DB_ARGS(DB_STR(c->org_id)), c->a, &rows);
	if (err == ERR_OK && rows.n == 0)
		err = ERR_NOT_FOUND;
	if (err == ERR_OK)
		err = db_idem_claim_in_tx(c->org_id, c->idem, c->now, c->a);
	if (err != ERR_OK || c->idem->replayed)
		return err;
	const char *customer = DB_CELL(&rows, 0, 2)->s, *pm = DB_CELL(&rows, 0, 3)->s;
	if (c->idem->key && c->idem->pending) { /* its first request died: carry it on */
		err = purchase_query(STMT_PURCHASE_BY_IDEM,
				     DB_ARGS(DB_STR(c->org_id), DB_STR(c->idem->key)), c->a,
				     &c->out->p);
		if (err != ERR_NOT_FOUND)
			return err;
	}
	if (!pm || !customer)
		return db_idem_settle_in_tx(c->org_id, c->idem, ERR_CONFLICT);
	if (c->p->kind == PURCHASE_PLAN) { /* a retry of a pending plan charge reuses its key */
		err = purchase_query(STMT_PLAN_PENDING,
				     DB_ARGS(DB_STR(c->org_id), DB_STR(c->p->plan_id)), c->a,
				     &c->out->p);
		if (err != ERR_NOT_FOUND)
			return err;
	}
	return purchase_insert(c, customer, pm);
}

err_t db_purchase_insert_in_tx(const char *id, const char *org_id, const struct purchase_new *p,
			       const char *key, const char *idem_key, const char *customer,
			       const char *pm, int64_t period_from, int64_t now)
{
	assert(db_in_tx());
	return db_exec(STMT_PURCHASE_INSERT,
		       DB_ARGS(DB_STR(id), DB_STR(org_id), DB_STR(purchase_kinds[p->kind]),
			       DB_INT(p->credits), DB_INT(p->amount_cents), OPT_STR(p->plan_id),
			       DB_STR(key), OPT_STR(idem_key), DB_STR(customer), DB_STR(pm),
			       period_from ? DB_INT(period_from) : DB_NULL, DB_INT(now)),
		       NULL);
}

err_t db_purchase_begin(const char *org_id, const char *actor, const struct purchase_new *p,
			struct db_idem *idem, int64_t now, struct arena *a,
			struct purchase_call *out)
{
	struct begin c = {org_id, actor, p, idem, now, a, out};
	*out = (struct purchase_call){0};
	return db_tx(begin_tx, &c);
}

static char lock_name[64];

err_t db_purchase_lock(const char *org_id, const char *key, int timeout_s)
{
	unsigned char h[DIGEST_LEN];
	const void *parts[] = {org_id, key ? key : ""};
	size_t lens[] = {strlen(org_id) + 1, key ? strlen(key) : 0};
	digest_sha256(parts, lens, 2, h);
	int n = snprintf(lock_name, sizeof lock_name, "orgd:%s:", key ? "idem" : "plan");
	for (int i = 0; i < 16 && n + 2 < (int)sizeof lock_name; i++)
		n += snprintf(lock_name + n, sizeof lock_name - (size_t)n, "%02x", h[i]);
	struct arena a = {0};
	struct db_rows rows;
	err_t err =
		db_query(STMT_NAMED_LOCK, DB_ARGS(DB_STR(lock_name), DB_INT(timeout_s)), &a, &rows);
	if (err == ERR_OK &&
	    (rows.n != 1 || DB_CELL(&rows, 0, 0)->t != DBV_INT || DB_CELL(&rows, 0, 0)->i != 1))
		err = ERR_RETRY; /* not had in time: the other request still runs */
	arena_free(&a);
	if (err != ERR_OK)
		lock_name[0] = '\0';
	return err;
}

void db_purchase_unlock(void)
{
	if (!lock_name[0])
		return;
	struct arena a = {0};
	struct db_rows rows;
	db_query(STMT_NAMED_UNLOCK, DB_ARGS(DB_STR(lock_name)), &a, &rows);
	arena_free(&a);
	lock_name[0] = '\0';
}

/* Does what the provider charged match the purchase (webhooks and answers alike)? */
static bool matches(const struct purchase *p, const struct settlement *s)
{
	if (!s->check)
		return true;
	return s->amount == p->amount_cents && s->currency && strcmp(s->currency, "usd") == 0 &&
	       s->org_id && strcmp(s->org_id, p->org_id) == 0;
}

struct settle {
	const char *org_id, *purchase_id;
	const struct settlement *s;
	struct db_idem *idem;
	int64_t now;
	struct arena *a;
	struct purchase *out;
	int64_t *balance;
	bool mismatch, applied;
};

/* A succeeded purchase's effect: credits with their ledger row, or the plan and its period. */
static err_t apply_success(struct settle *c, const struct db_rows *lock)
{
	const struct purchase *p = c->out;
	int64_t balance = DB_CELL(lock, 0, 0)->i;
	err_t err;
	if (strcmp(p->kind, "plan") == 0) {
		/* an upgrade's period starts now; a renewal's where the last one ended */
		int64_t end = clock_add_month(p->period_from ? p->period_from : c->now);
		err = db_exec(STMT_ORG_PLAN_PERIOD,
			      DB_ARGS(DB_STR(p->plan_id), DB_INT(end), DB_STR(c->org_id)), NULL);
		if (err == ERR_OK && p->period_from)
			err = db_exec(STMT_RENEWAL_RESULT,
				      DB_ARGS(DB_INT(0), DB_NULL, DB_STR(c->org_id)), NULL);
		if (err == ERR_OK)
			err = db_audit_add_in_tx(c->org_id, NULL,
						 p->period_from ? "plan.renewed" : "plan.changed",
						 c->org_id, p->plan_id, c->now);
		*c->balance = balance;
		return err;
	}
	/* an auto-recharge's failures clear with the credit, the next dip is a new one */
	bool auto_recharge = strcmp(p->kind, "auto_recharge") == 0;
	uint64_t n = 0; /* rows matched: the organization's (and an auto-recharge's billing row) */
	err = db_exec(auto_recharge ? STMT_AR_CREDIT : STMT_BALANCE_ADD,
		      DB_ARGS(DB_INT(p->credits), DB_STR(c->org_id)), &n);
	if (err == ERR_OK && (n < 1 || n > (auto_recharge ? 2u : 1u))) /* locked above */
		err = ERR_INTERNAL;
	char ledger_id[ID_LEN_MAX + 1];
	id_new(ledger_id, "led");
	if (err == ERR_OK)
		err = db_exec(STMT_LEDGER_INSERT,
			      DB_ARGS(DB_STR(ledger_id), DB_STR(c->org_id), DB_INT(c->now),
				      DB_INT(p->credits), DB_INT(balance + p->credits),
				      DB_STR(auto_recharge ? "auto_recharge" : "purchase"),
				      DB_STR(p->id)),
			      NULL);
	*c->balance = balance + p->credits;
	return err;
}

#define FAILURES_MAX 3 /* declines in a row that end an auto-recharge or a paid plan */

/* A failed purchase's effect on the sweeps: the failures in a row, and the third's end. */
static err_t apply_failure(struct settle *c, const struct db_rows *lock)
{
	const struct purchase *p = c->out;
	err_t err = ERR_OK;
	if (strcmp(p->kind, "auto_recharge") == 0) {
		int64_t failures = DB_CELL(lock, 0, 4)->i + 1;
		bool stays = failures < FAILURES_MAX;
		err = db_exec(
			STMT_AR_RESULT,
			DB_ARGS(DB_INT(failures), DB_INT(stays), DB_INT(0), DB_STR(c->org_id)),
			NULL);
		if (err == ERR_OK && !stays)
			err = db_audit_add_in_tx(c->org_id, NULL, "auto_recharge.disabled",
						 c->org_id, "three failed recharges in a row",
						 c->now);
	} else if (strcmp(p->kind, "plan") == 0 && p->period_from) {
		err = db_renewal_failed_in_tx(c->org_id, DB_CELL(lock, 0, 5)->i, c->now);
	}
	return err;
}

err_t db_renewal_failed_in_tx(const char *org_id, int64_t failures_before, int64_t now)
{
	assert(db_in_tx());
	int64_t failures = failures_before + 1;
	bool stays = failures < FAILURES_MAX;
	/* a decline is tried again by a later sweep, at most once a day */
	err_t err = db_exec(STMT_BILLING_ENSURE, DB_ARGS(DB_STR(org_id)), NULL);
	if (err == ERR_OK)
		err = db_exec(STMT_RENEWAL_RESULT,
			      DB_ARGS(DB_INT(stays ? failures : 0),
				      stays ? DB_INT(now + 86400) : DB_NULL, DB_STR(org_id)),
			      NULL);
	if (err == ERR_OK && !stays)
		err = db_exec(STMT_ORG_SET_PLAN, DB_ARGS(DB_STR("free"), DB_STR(org_id)), NULL);
	if (err == ERR_OK && !stays)
		err = db_audit_add_in_tx(org_id, NULL, "plan.downgraded", org_id,
					 "three declined renewals: free", now);
	return err;
}

static err_t settle_tx(void *arg)
{
	struct settle *c = arg;
	struct db_rows rows; /* STMT_BILLING_LOCK's columns, then the purchase's */
	err_t err = db_query(STMT_SETTLE_LOCK, DB_ARGS(DB_STR(c->purchase_id), DB_STR(c->org_id)),
			     c->a, &rows);
	if (err == ERR_OK && rows.n == 0) /* no such organization, or not its purchase */
		err = ERR_NOT_FOUND;
	if (err != ERR_OK)
		return err;
	purchase_at(&rows, 0, 6, c->out);
	*c->balance = DB_CELL(&rows, 0, 0)->i;
	c->mismatch = c->applied = false;
	const struct settlement *s = c->s;
	if (strcmp(c->out->status, "pending") == 0 && s->how != SETTLE_PENDING) {
		if (!matches(c->out, s)) {
			c->mismatch = true;
		} else {
			bool ok = s->how == SETTLE_SUCCEEDED;
			const char *code = ok ? NULL : (s->failure_code ? s->failure_code : "");
			uint64_t n = 0;
			err = db_exec(STMT_PURCHASE_SETTLE,
				      DB_ARGS(DB_STR(ok ? "succeeded" : "failed"), OPT_STR(code),
					      OPT_STR(s->intent_id), DB_INT(c->now),
					      DB_STR(c->purchase_id)),
				      &n);
			if (err == ERR_OK && n != 1)
				err = ERR_INTERNAL; /* behind the row lock: a broken invariant */
			c->out->status = ok ? "succeeded" : "failed";
			c->out->failure_code = code;
			c->out->settled_at = clock_rfc3339(c->now, c->a);
			if (err == ERR_OK)
				err = ok ? apply_success(c, &rows) : apply_failure(c, &rows);
			if (err == ERR_OK)
				err = db_audit_add_in_tx(c->org_id, NULL,
							 ok ? "purchase.succeeded"
							    : "purchase.failed",
							 c->purchase_id, code ? code : "", c->now);
			c->applied = err == ERR_OK;
		}
	} else if (s->intent_id && !c->out->intent_id) {
		err = db_exec(STMT_PURCHASE_INTENT,
			      DB_ARGS(DB_STR(s->intent_id), DB_STR(c->purchase_id)), NULL);
	}
	if (err != ERR_OK || !c->idem || !c->idem->key) /* the caller reads *out */
		return err;
	/* the answer of a keyed request: a failed purchase is a 402 */
	return db_idem_settle_in_tx(c->org_id, c->idem,
				    strcmp(c->out->status, "failed") == 0 ? ERR_PAYMENT_FAILED
									  : ERR_OK);
}

err_t db_purchase_settle(const char *org_id, const char *purchase_id, const struct settlement *s,
			 struct db_idem *idem, int64_t now, struct arena *a, struct purchase *out,
			 int64_t *balance)
{
	struct settle c = {org_id, purchase_id, s, idem, now, a, out, balance, false, false};
	err_t err = db_tx(settle_tx, &c);
	if (err == ERR_OK && c.mismatch)
		log_warn("msg=\"provider answer does not match its purchase: not applied\"");
	return err;
}

struct settle_many {
	struct settle_item *items;
	size_t n;
	int64_t now;
	struct arena *a;
	size_t mismatched;
};

/* Items by organization (then purchase): the order every chunk locks in. */
static int by_org(const void *x, const void *y)
{
	const struct settle_item *a = x, *b = y;
	int d = strcmp(a->p->org_id, b->p->org_id);
	return d ? d : strcmp(a->p->id, b->p->id);
}

/* The chunk's credit purchases that succeeded, written in one statement each (sql.c's
   STMT_SETTLE_MANY...STMT_AUDIT_MANY); json: their array, m of them, auto of those
   auto-recharges. */
static err_t apply_many(const struct buf *json, size_t m, size_t autos, int64_t now)
{
	struct dbv doc = DB_STRN(json->p, json->len);
	uint64_t n = 0;
	err_t err = db_exec(STMT_SETTLE_MANY, DB_ARGS(doc, DB_INT(now)), &n);
	if (err == ERR_OK && n != m) /* behind the row locks: a broken invariant */
		err = ERR_INTERNAL;
	if (err == ERR_OK)
		err = db_exec(STMT_CREDIT_MANY, DB_ARGS(doc), &n);
	if (err == ERR_OK && n != m + autos) /* each organization, each auto-recharge's row */
		err = ERR_INTERNAL;
	if (err == ERR_OK)
		err = db_exec(STMT_LEDGER_MANY, DB_ARGS(DB_INT(now), doc), NULL);
	if (err == ERR_OK)
		err = db_exec(STMT_AUDIT_MANY,
			      DB_ARGS(DB_INT(now), DB_STR("purchase.succeeded"), doc), NULL);
	return err;
}

/*
 * A chunk in one transaction: every item's rows locked in one statement; the
 * credit purchases that succeeded, each of an organization of its own in the
 * chunk, applied together (apply_many: what apply_success() and settle_tx()
 * do for one, in four statements for all); any other item (a decline, a plan,
 * an answer still pending, a mismatch, a second purchase of one organization)
 * through settle_tx() as a webhook would, its rows already locked.
 */
static err_t settle_many_tx(void *arg)
{
	struct settle_many *c = arg;
	c->mismatched = 0;
	struct buf json = {0};
	struct jw w;
	jw_init(&w, &json);
	jw_arr(&w);
	for (size_t i = 0; i < c->n; i++) {
		jw_obj(&w);
		jw_kstr(&w, "i", c->items[i].p->id);
		jw_kstr(&w, "o", c->items[i].p->org_id);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	struct db_rows rows;
	err_t err = json.oom ? ERR_INTERNAL
			     : db_query(STMT_SETTLE_LOCK_MANY, DB_ARGS(DB_STRN(json.p, json.len)),
					c->a, &rows);
	buf_clear(&json);
	if (err != ERR_OK) {
		buf_free(&json);
		return err;
	}
	/* the locked rows by item (n is the item's place in the array, from 1) */
	size_t *row_of = arena_alloc(c->a, c->n * sizeof *row_of);
	if (!row_of) {
		buf_free(&json);
		return ERR_INTERNAL;
	}
	for (size_t i = 0; i < c->n; i++)
		row_of[i] = SIZE_MAX;
	for (size_t r = 0; r < rows.n; r++) {
		int64_t k = DB_CELL(&rows, r, 0)->i;
		if (k >= 1 && (size_t)k <= c->n)
			row_of[k - 1] = r;
	}
	size_t m = 0, autos = 0;
	jw_init(&w, &json);
	jw_arr(&w);
	for (size_t i = 0; i < c->n && err == ERR_OK; i++) {
		struct settle_item *it = &c->items[i];
		const char *org = it->p->org_id;
		bool alone = (i == 0 || strcmp(c->items[i - 1].p->org_id, org) != 0) &&
			     (i + 1 == c->n || strcmp(c->items[i + 1].p->org_id, org) != 0);
		struct purchase p;
		if (row_of[i] != SIZE_MAX)
			purchase_at(&rows, row_of[i], 7, &p);
		bool credits = row_of[i] != SIZE_MAX && (strcmp(p.kind, "credits") == 0 ||
							 strcmp(p.kind, "auto_recharge") == 0);
		if (alone && credits && strcmp(p.status, "pending") == 0 &&
		    it->s->how == SETTLE_SUCCEEDED && matches(&p, it->s)) {
			bool ar = strcmp(p.kind, "auto_recharge") == 0;
			char ledger_id[ID_LEN_MAX + 1], audit_id[ID_LEN_MAX + 1];
			id_new(ledger_id, "led");
			id_new(audit_id, "aud");
			jw_obj(&w);
			jw_kstr(&w, "i", p.id);
			jw_kstr(&w, "o", org);
			jw_kstr(&w, "n", it->s->intent_id);
			jw_kint(&w, "c", p.credits);
			jw_kint(&w, "a", ar);
			jw_kstr(&w, "l", ledger_id);
			jw_kint(&w, "b", DB_CELL(&rows, row_of[i], 1)->i + p.credits);
			jw_kstr(&w, "r", ar ? "auto_recharge" : "purchase");
			jw_kstr(&w, "d", audit_id);
			jw_obj_end(&w);
			it->status = "succeeded";
			m++;
			autos += ar;
			continue;
		}
		int64_t balance;
		struct settle st = {org, it->p->id, it->s, NULL, c->now, c->a, &p, &balance};
		err = settle_tx(&st);
		if (err == ERR_NOT_FOUND) { /* gone (or not its organization's): the rest settle */
			err = ERR_OK;
			it->status = "pending";
			continue;
		}
		it->status = p.status;
		c->mismatched += st.mismatch;
	}
	jw_arr_end(&w);
	if (err == ERR_OK && m)
		err = json.oom ? ERR_INTERNAL : apply_many(&json, m, autos, c->now);
	buf_free(&json);
	return err;
}

err_t db_purchases_settle(struct settle_item *items, size_t n, int64_t now, struct arena *a)
{
	qsort(items, n, sizeof *items, by_org);
	struct settle_many c = {items, n, now, a, 0};
	err_t err = n ? db_tx(settle_many_tx, &c) : ERR_OK;
	if (err == ERR_OK && c.mismatched)
		log_warn("msg=\"provider answer does not match its purchase: not applied\" n=%zu",
			 c.mismatched);
	return err;
}

struct webhook {
	const char *event_id, *type, *purchase_id;
	const struct settlement *s;
	int64_t now;
	struct arena *a;
	enum webhook_outcome *out;
};

static const char *const webhook_outcomes[] = {
	[WEBHOOK_APPLIED] = "applied",     [WEBHOOK_SETTLED] = "settled",
	[WEBHOOK_DUPLICATE] = "duplicate", [WEBHOOK_MISMATCH] = "mismatch",
	[WEBHOOK_UNKNOWN] = "unknown",     [WEBHOOK_IGNORED] = "ignored",
};

/* Settle p's purchase (of org_id) as c says; *found false if it is not that organization's. */
static err_t webhook_settle(struct webhook *c, const char *org_id, bool *found)
{
	struct purchase p;
	int64_t balance;
	struct settle st = {org_id, c->purchase_id, c->s, NULL, c->now, c->a, &p, &balance};
	err_t err = settle_tx(&st);
	*found = err != ERR_NOT_FOUND;
	if (err != ERR_OK)
		return err == ERR_NOT_FOUND ? ERR_OK : err;
	*c->out = st.mismatch ? WEBHOOK_MISMATCH : st.applied ? WEBHOOK_APPLIED : WEBHOOK_SETTLED;
	return ERR_OK;
}

static err_t webhook_tx(void *arg)
{
	struct webhook *c = arg;
	err_t err = ERR_OK;
	bool found = false;
	*c->out = c->s ? WEBHOOK_UNKNOWN : WEBHOOK_IGNORED;
	/* the organization the event names first (no extra read); else the purchase's own,
	   where the event's organization is checked and found wrong */
	if (c->s && c->purchase_id && c->s->org_id)
		err = webhook_settle(c, c->s->org_id, &found);
	if (err == ERR_OK && c->s && c->purchase_id && !found) {
		struct purchase p;
		err = purchase_query(STMT_PURCHASE_GET, DB_ARGS(DB_STR(c->purchase_id)), c->a, &p);
		if (err == ERR_OK)
			err = webhook_settle(c, p.org_id, &found);
		else if (err == ERR_NOT_FOUND)
			err = ERR_OK;
	}
	if (err != ERR_OK)
		return err;
	/* the event's id, unique: a concurrent copy waits here, then finds it and rolls back */
	return db_exec(STMT_WEBHOOK_INSERT,
		       DB_ARGS(DB_STR(c->event_id), DB_STR(c->type), OPT_STR(c->purchase_id),
			       DB_STR(webhook_outcomes[*c->out]), DB_INT(c->now)),
		       NULL);
}

err_t db_webhook_apply(const char *event_id, const char *type, const char *purchase_id,
		       const struct settlement *s, int64_t now, struct arena *a,
		       enum webhook_outcome *out)
{
	struct webhook c = {event_id, type, purchase_id, s, now, a, out};
	err_t err = db_tx(webhook_tx, &c);
	if (err == ERR_CONFLICT) { /* seen before: nothing of this copy stays */
		*out = WEBHOOK_DUPLICATE;
		return ERR_OK;
	}
	if (err == ERR_OK && *out == WEBHOOK_MISMATCH)
		log_warn("msg=\"webhook event does not match its purchase: not applied\" type=%s",
			 type);
	return err;
}
