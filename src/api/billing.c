/*
 * billing: the billing-sensitive endpoints (API.md "Credits and billing"):
 * the billing state, the payment method, credit purchases, the purchases and
 * the ledger; and api_charge(), the provider call every purchase makes
 * between its two transactions (plans.c's plan charges too).
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "orgd/api.h"
#include "orgd/clock.h"
#include "orgd/db_idem.h"
#include "orgd/db_pay.h"
#include "orgd/db_usage.h"
#include "orgd/log.h"
#include "orgd/pay.h"

const struct jfield payment_method_fields[1] = {
	{"payment_method", JF_STRING, JF_REQUIRED | JF_ASCII, 1, 64,
	 offsetof(struct payment_method_in, payment_method)},
};
const struct jfield credits_fields[1] = {
	{"credits", JF_INT, JF_REQUIRED, 500, 1000000, offsetof(struct credits_in, credits)},
};

static void write_ledger_entry(struct jw *w, const void *item)
{
	const struct ledger_entry *e = item;
	jw_obj(w);
	jw_kstr(w, "id", e->id);
	jw_kstr(w, "at", e->at);
	jw_kint(w, "delta", e->delta);
	jw_kint(w, "balance_after", e->balance_after);
	jw_kstr(w, "reason", e->reason);
	jw_kstr(w, "ref", e->ref);
	jw_obj_end(w);
}

err_t api_ledger_list(struct req *r)
{
	return api_list(r, LIST_LEDGER, r->caller.org_id, write_ledger_entry);
}

static void write_purchase(struct jw *w, const void *item)
{
	const struct purchase *p = item;
	jw_obj(w);
	jw_kstr(w, "id", p->id);
	jw_kstr(w, "kind", p->kind);
	jw_kint(w, "credits", p->credits);
	jw_kint(w, "amount_cents", p->amount_cents);
	jw_kstr(w, "status", p->status);
	jw_kstr(w, "failure_code", p->failure_code);
	jw_kstr(w, "created_at", p->created_at);
	jw_kstr(w, "settled_at", p->settled_at);
	jw_obj_end(w);
}

err_t api_purchases_list(struct req *r)
{
	return api_list(r, LIST_PURCHASES, r->caller.org_id, write_purchase);
}

void api_write_payment_method(struct jw *w, const char *brand, const char *last4)
{
	if (!brand || !last4) {
		jw_null(w);
		return;
	}
	jw_obj(w);
	jw_kstr(w, "brand", brand);
	jw_kstr(w, "last4", last4);
	jw_obj_end(w);
}

void api_write_auto_recharge(struct jw *w, const struct auto_recharge *ar)
{
	jw_obj(w);
	jw_kbool(w, "enabled", ar->enabled);
	jw_kint(w, "threshold_credits", ar->threshold);
	jw_kint(w, "recharge_credits", ar->recharge);
	jw_kint(w, "failures", ar->failures);
	jw_obj_end(w);
}

err_t api_billing_get(struct req *r)
{
	struct billing b;
	err_t err = db_billing_get(r->caller.org_id, &r->arena, &b);
	if (err != ERR_OK)
		return err;
	struct jw *w = &r->w;
	jw_obj(w);
	jw_kint(w, "credit_balance", b.credit_balance);
	jw_key(w, "payment_method");
	api_write_payment_method(w, b.pm_brand, b.pm_last4);
	jw_key(w, "auto_recharge");
	api_write_auto_recharge(w, &b.ar);
	jw_key(w, "subscription");
	jw_obj(w);
	jw_kstr(w, "plan", b.plan_id);
	jw_kstr(w, "current_period_end", b.current_period_end);
	jw_kint(w, "renewal_failures", b.renewal_failures);
	jw_obj_end(w);
	jw_obj_end(w);
	return ERR_OK;
}

/* A provider that did not answer, or answered what orgd cannot use: 502. */
static err_t provider_failed(struct req *r, const char *what)
{
	r->err_msg = what;
	return ERR_PROVIDER;
}

err_t api_payment_method_set(struct req *r)
{
	const struct payment_method_in *in = r->in;
	const char *org = r->caller.org_id;
	struct billing b;
	struct pay_result res;
	err_t err = db_billing_get(org, &r->arena, &b);
	if (err != ERR_OK)
		return err;
	const char *customer = b.customer_id;
	if (!customer) { /* the organization's customer, made on first need, once */
		char key[PAY_ARG_MAX + 1];
		snprintf(key, sizeof key, "customer:%s", org);
		if ((err = pay_customer_create(org, key, &res)) != ERR_OK)
			return err;
		if (res.outcome != PAY_OK)
			return provider_failed(
				r, "The payment provider could not create the customer; "
				   "try again.");
		if ((err = db_customer_set(org, res.id)) != ERR_OK)
			return err;
		if ((err = db_billing_get(org, &r->arena, &b)) != ERR_OK)
			return err;
		customer = b.customer_id;
	}
	char key[PAY_ARG_MAX + 1];
	snprintf(key, sizeof key, "attach:%s:%s", customer, in->payment_method.s);
	if ((err = pay_method_attach(in->payment_method.s, customer, key, &res)) != ERR_OK)
		return err;
	switch (res.outcome) {
	case PAY_OK:
		break;
	case PAY_REJECTED:
	case PAY_DECLINED:
		r->err_field = "payment_method";
		r->err_msg = "The payment provider refused this payment method.";
		return ERR_INVALID;
	default:
		return provider_failed(r, "The payment provider did not answer; try again.");
	}
	err = db_payment_method_set(org, r->caller.user_id, res.id, res.brand, res.last4,
				    clock_now());
	if (err != ERR_OK)
		return err;
	jw_obj(&r->w);
	jw_kstr(&r->w, "brand", res.brand);
	jw_kstr(&r->w, "last4", res.last4);
	jw_obj_end(&r->w);
	return ERR_OK;
}

err_t api_payment_method_delete(struct req *r)
{
	err_t err = db_payment_method_delete(r->caller.org_id, r->caller.user_id, clock_now());
	if (err == ERR_OK)
		r->status = 204;
	return err;
}

const char *api_failure_code(const char *code)
{
	if (!code || !code[0])
		return "declined";
	return strcmp(code, "generic_decline") == 0 ? "card_declined" : code;
}

void api_charge(const struct purchase_call *pc, struct pay_result *res, struct settlement *s)
{
	struct pay_charge c = {
		.amount_cents = pc->p.amount_cents,
		.customer = pc->p.customer_id,
		.payment_method = pc->p.pm_id,
		.org_id = pc->p.org_id,
		.purchase_id = pc->p.id,
		.idem_key = pc->p.provider_key, /* the purchase's, the same for every attempt */
	};
	if (pay_charge(&c, res) != ERR_OK)
		res->outcome = PAY_PENDING; /* nothing was sent: reconciliation tries again */
	*s = (struct settlement){.how = SETTLE_PENDING, .intent_id = res->id[0] ? res->id : NULL};
	switch (res->outcome) {
	case PAY_OK:
		s->how = SETTLE_SUCCEEDED;
		break;
	case PAY_DECLINED:
	case PAY_REJECTED:
		s->how = SETTLE_FAILED;
		s->failure_code = api_failure_code(res->code);
		break;
	default:
		break;
	}
}

struct buy {
	struct req *r;
	struct purchase p;
	int64_t balance;
};

/* The answer of a credits purchase (db_idem.h's render). */
static int buy_render(void *ctx, err_t outcome)
{
	struct buy *c = ctx;
	struct req *r = c->r;
	if (outcome == ERR_CONFLICT)
		return api_render_error(r, outcome,
					"Save a payment method first "
					"(PUT /v1/org/billing/payment-method).",
					NULL);
	if (outcome == ERR_PAYMENT_FAILED) {
		const char *m = arena_printf(&r->arena, "The payment was declined (%s).",
					     c->p.failure_code ? c->p.failure_code : "declined");
		return api_render_error(r, outcome, m, NULL);
	}
	if (outcome != ERR_OK)
		return api_render_error(r, outcome, NULL, NULL);
	api_answer_reset(r);
	struct jw *w = &r->w;
	jw_obj(w);
	jw_key(w, "purchase");
	jw_obj(w);
	jw_kstr(w, "id", c->p.id);
	jw_kint(w, "credits", c->p.credits);
	jw_kint(w, "amount_cents", c->p.amount_cents);
	jw_kstr(w, "status", c->p.status);
	jw_obj_end(w);
	jw_kint(w, "credit_balance", c->balance);
	jw_obj_end(w);
	return 201;
}

int api_lock_timeout(void)
{
	/* the provider's timeouts and a little, and under the database's read timeout (10 s) */
	const struct pay_settings *s = pay_settings();
	int t = (int)((s->connect_timeout_ms + s->timeout_ms) / 1000) + 1;
	return t < 8 ? t : 8;
}

err_t api_credits_buy(struct req *r)
{
	const struct credits_in *in = r->in;
	const char *org = r->caller.org_id;
	struct buy c = {.r = r};
	struct db_idem idem;
	api_idem_init(r, &idem, buy_render, &c);
	/* one request of a key at a time, provider call included: a repeat waits, then replays */
	err_t err = db_purchase_lock(org, idem.key, api_lock_timeout());
	if (err != ERR_OK)
		return err;
	struct purchase_new np = {PURCHASE_CREDITS, in->credits, in->credits, NULL};
	struct purchase_call pc;
	err = db_purchase_begin(org, r->caller.user_id, &np, &idem, clock_now(), &r->arena, &pc);
	if (err == ERR_OK && !idem.replayed && pc.p.id) {
		struct pay_result res;
		struct settlement s;
		api_charge(&pc, &res, &s);
		err = db_purchase_settle(org, pc.p.id, &s, &idem, clock_now(), &r->arena, &c.p,
					 &c.balance);
	}
	db_purchase_unlock();
	return api_idem_finish(r, &idem, err);
}
