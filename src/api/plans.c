/*
 * plans: the catalog (GET /v1/plans) and an organization's plan
 * (PUT /v1/org/plan).
 */
#include <stddef.h>
#include <string.h>

#include "orgd/api.h"
#include "orgd/clock.h"
#include "orgd/db_idem.h"
#include "orgd/db_pay.h"
#include "orgd/db_usage.h"
#include "orgd/pay.h"

const struct jfield plan_fields[1] = {
	{"plan", JF_STRING, JF_REQUIRED, 1, 32, offsetof(struct plan_in, plan)},
};

void api_write_plan(struct jw *w, const struct plan *p)
{
	jw_obj(w);
	jw_kstr(w, "id", p->id);
	jw_kstr(w, "name", p->name);
	jw_kint(w, "monthly_run_limit", p->monthly_run_limit);
	jw_kint(w, "price_cents", p->price_cents);
	jw_kint(w, "overage_credits_per_run", p->overage_credits_per_run);
	jw_obj_end(w);
}

/* The catalog is the worker's copy (db_plans), paged in memory. */
err_t api_plans_list(struct req *r)
{
	const struct plan *plans;
	size_t n, i = 0;
	err_t err = db_plans(&plans, &n);
	if (err != ERR_OK)
		return err;
	if (r->q.after.s) { /* after the plan named */
		while (i < n && strcmp(plans[i].id, r->q.after.s) != 0)
			i++;
		if (i == n) {
			r->err_field = "after";
			r->err_msg = "after names no plan of the catalog.";
			return ERR_INVALID;
		}
		i++;
	}
	jw_obj(&r->w);
	jw_key(&r->w, "data");
	jw_arr(&r->w);
	for (size_t listed = 0; i < n && listed < (size_t)r->q.limit; i++, listed++)
		api_write_plan(&r->w, &plans[i]);
	jw_arr_end(&r->w);
	jw_kbool(&r->w, "has_more", i < n);
	jw_obj_end(&r->w);
	return ERR_OK;
}

/* A paid plan: bought (charged once, off-session), then applied by the purchase's settling. */
static err_t buy_plan(struct req *r, const struct plan *plan)
{
	const char *org = r->caller.org_id;
	struct org o;
	/* one plan change of an organization at a time: a second PUT waits, then finds it done */
	err_t err = db_purchase_lock(org, NULL, api_lock_timeout());
	if (err == ERR_OK)
		err = db_org_get(org, &r->arena, &o);
	if (err != ERR_OK || strcmp(o.plan.id, plan->id) == 0) /* the same plan: nothing charged */
		goto out;
	struct purchase_new np = {PURCHASE_PLAN, 0, plan->price_cents, plan->id};
	struct purchase_call pc;
	struct db_idem none = {.out = &r->out};
	err = db_purchase_begin(org, r->caller.user_id, &np, &none, clock_now(), &r->arena, &pc);
	if (err == ERR_CONFLICT) {
		r->err_field = "plan";
		r->err_msg = "A paid plan needs a saved payment method.";
	}
	if (err != ERR_OK)
		goto out;
	struct pay_result res;
	struct settlement s;
	struct purchase p;
	int64_t balance;
	api_charge(&pc, &res, &s);
	err = db_purchase_settle(org, pc.p.id, &s, &none, clock_now(), &r->arena, &p, &balance);
	if (err == ERR_OK && strcmp(p.status, "failed") == 0) {
		r->err_msg = arena_printf(&r->arena,
					  "The payment was declined (%s); the plan is "
					  "unchanged.",
					  p.failure_code ? p.failure_code : "declined");
		err = ERR_PAYMENT_FAILED;
	} else if (err == ERR_OK && strcmp(p.status, "pending") == 0) {
		r->err_msg = "The payment provider did not confirm the charge; the plan is "
			     "unchanged for now, and changes if the charge is confirmed. A retry "
			     "never charges twice.";
		err = ERR_PROVIDER;
	}
out:
	db_purchase_unlock();
	return err;
}

err_t api_plan_set(struct req *r)
{
	const struct plan_in *in = r->in;
	const struct plan *plan;
	err_t err = db_plan_find(in->plan.s, in->plan.len, &plan);
	if (err == ERR_NOT_FOUND) {
		r->err_field = "plan";
		r->err_msg = "No such plan (see GET /v1/plans).";
		return ERR_INVALID;
	}
	if (err != ERR_OK)
		return err;
	if (plan->price_cents > 0)
		err = buy_plan(r, plan);
	else /* no proration, no refund: a plan without a price takes effect at once */
		err = db_org_set_plan(r->caller.org_id, r->caller.user_id, plan, clock_now(),
				      &r->arena);
	if (err != ERR_OK)
		return err;
	return api_org_plan_answer(r);
}
