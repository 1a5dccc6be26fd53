/*
 * db_pay: billing state, payment methods, purchases and webhook events
 * (API.md "Credits and billing", "Payment provider", "Webhooks").
 *
 * Money never waits on the provider inside a transaction: a purchase is
 * written pending by db_purchase_begin() (one transaction), the provider is
 * called with none open, and the outcome applied by db_purchase_settle() or
 * db_webhook_apply() (another), which move a purchase out of pending at most
 * once: whichever of the provider's answer, its webhook or the reconciliation
 * sweep comes first applies it, the others find it settled. A success of a
 * credits purchase credits the balance with a ledger row; of a plan purchase,
 * moves the plan and its period. Every change is audited.
 */
#ifndef ORGD_DB_PAY_H
#define ORGD_DB_PAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orgd/error.h"
#include "orgd/mem.h"

struct db_idem;

/* An organization's auto-recharge settings (API.md "Auto-recharge"). */
struct auto_recharge {
	bool enabled;
	int64_t threshold, recharge, failures;
};

/* GET /v1/org/billing's state. Strings NULL where the database has none. */
struct billing {
	int64_t credit_balance;
	const char *customer_id, *pm_id, *pm_brand, *pm_last4;
	struct auto_recharge ar;
	const char *plan_id, *current_period_end;
	int64_t renewal_failures;
};

err_t db_billing_get(const char *org_id, struct arena *a, struct billing *out);

/*
 * Set the auto-recharge settings of org_id (audited as done by actor);
 * enabling clears the failures. ERR_CONFLICT: enabling without a saved
 * payment method.
 */
err_t db_auto_recharge_set(const char *org_id, const char *actor, const struct auto_recharge *ar,
			   int64_t now, struct arena *a, struct auto_recharge *out);

/* Remember the provider's customer of org_id (the first one stays). */
err_t db_customer_set(const char *org_id, const char *customer_id);
/* Save the payment method (audited as done by actor). */
err_t db_payment_method_set(const char *org_id, const char *actor, const char *pm_id,
			    const char *brand, const char *last4, int64_t now);
/* Forget it and turn auto-recharge off (audited). */
err_t db_payment_method_delete(const char *org_id, const char *actor, int64_t now);

enum purchase_kind { PURCHASE_CREDITS, PURCHASE_AUTO_RECHARGE, PURCHASE_PLAN, PURCHASE__MAX };
extern const char *const purchase_kinds[PURCHASE__MAX + 1];

struct purchase {
	const char *id, *org_id, *kind, *plan_id, *status, *failure_code, *provider_key;
	const char *intent_id, *created_at, *settled_at;
	int64_t credits, amount_cents;
	const char *customer_id, *pm_id; /* what its charge is sent with, every time */
	int64_t period_from;             /* a renewal: the period end it renews; else 0 */
};

/* What a new purchase is. */
struct purchase_new {
	enum purchase_kind kind;
	int64_t credits, amount_cents;
	const char *plan_id; /* PURCHASE_PLAN: the plan bought */
};

/* A pending purchase to charge: p.customer_id and p.pm_id say with what. */
struct purchase_call {
	struct purchase p;
};

/*
 * Write a pending purchase of org_id (audited as done by actor), in one
 * transaction, with the Idempotency-Key step of idem (may have no key): a
 * repeat of a settled key replays its answer (idem->replayed); a repeat of a
 * key whose first request died before its answer resumes that purchase. A
 * plan purchase reuses the organization's pending purchase of that plan, if
 * any, so a retry never charges twice. ERR_CONFLICT (rendered and stored with
 * a key): no saved payment method.
 */
err_t db_purchase_begin(const char *org_id, const char *actor, const struct purchase_new *p,
			struct db_idem *idem, int64_t now, struct arena *a,
			struct purchase_call *out);

/*
 * Serialise the requests of one Idempotency-Key of org_id (or of one
 * organization's plan changes, key NULL) across workers and hosts, for the
 * whole of begin, provider call and settle: a database named lock, held by
 * this connection, released by db_purchase_unlock() or by the connection's
 * end (a killed worker holds nothing). ERR_RETRY if it cannot be had in time.
 */
err_t db_purchase_lock(const char *org_id, const char *key, int timeout_s);
void db_purchase_unlock(void);

/* How the provider says a purchase ended. */
enum settle_how { SETTLE_SUCCEEDED, SETTLE_FAILED, SETTLE_PENDING };

struct settlement {
	enum settle_how how;
	const char *failure_code; /* SETTLE_FAILED: the provider's code */
	const char *intent_id;    /* the PaymentIntent, when known */
	/* what the provider says was charged, checked against the purchase when check is set */
	bool check;
	int64_t amount;
	const char *currency, *org_id;
};

/*
 * Apply s to purchase_id of org_id, in one transaction, then the
 * Idempotency-Key step of idem (its answer rendered from *out and *balance):
 * a pending purchase moves to succeeded or failed; a settled one is left as
 * it is (another path got there first). *out is the purchase after, *balance
 * the organization's credit balance.
 */
err_t db_purchase_settle(const char *org_id, const char *purchase_id, const struct settlement *s,
			 struct db_idem *idem, int64_t now, struct arena *a, struct purchase *out,
			 int64_t *balance);

/* One purchase of db_purchases_settle(): the purchase as claimed, the provider's answer,
   and the status it has after (set by the call). */
struct settle_item {
	const struct purchase *p;
	const struct settlement *s;
	const char *status;
};

/*
 * What db_purchase_settle() does, for each of the n items, with no
 * Idempotency-Key step, all in one transaction: the sweeps' chunk of charges.
 * Its rows are locked in one statement (in the organizations' order: items is
 * sorted), and its credit purchases that succeeded (the common case) are
 * applied together, a statement per table for them all; any other item as
 * db_purchase_settle() applies it. On an error none of them is applied and all
 * stay pending, for reconciliation.
 */
err_t db_purchases_settle(struct settle_item *items, size_t n, int64_t now, struct arena *a);

/* What a webhook event did. */
enum webhook_outcome {
	WEBHOOK_APPLIED,   /* it settled its purchase */
	WEBHOOK_SETTLED,   /* its purchase was settled already */
	WEBHOOK_DUPLICATE, /* its event id was seen before: nothing */
	WEBHOOK_MISMATCH,  /* amount, currency or organization differ: nothing (logged) */
	WEBHOOK_UNKNOWN,   /* it names no purchase of ours: recorded, nothing else */
	WEBHOOK_IGNORED,   /* a type orgd does not act on */
};

/*
 * Record event_id (type) and apply s to the purchase it names, in one
 * transaction: the event's id is unique, so the same event twice, or at once
 * on several workers, is applied once. s NULL: a type orgd only records.
 */
err_t db_webhook_apply(const char *event_id, const char *type, const char *purchase_id,
		       const struct settlement *s, int64_t now, struct arena *a,
		       enum webhook_outcome *out);

#endif
