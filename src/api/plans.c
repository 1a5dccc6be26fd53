/*
 * plans: the catalog (GET /v1/plans) and an organization's plan
 * (PUT /v1/org/plan).
 */
#include <stddef.h>
#include <string.h>

#include "orgd/api.h"
#include "orgd/config.h"
#include "orgd/db_usage.h"

const struct jfield plan_fields[1] = {
	{"plan", JF_STRING, JF_REQUIRED, 1, 32, offsetof(struct plan_in, plan)},
};

err_t api_plans_list(struct req *r)
{
	struct page p;
	const struct plan *plans;
	size_t n;
	err_t err = api_page(r, &p);
	if (err == ERR_OK)
		err = db_plans(&plans, &n);
	if (err != ERR_OK)
		return err;
	size_t i = 0;
	if (p.after[0]) { /* after the plan named; a name we do not know is an empty page */
		while (i < n && strcmp(plans[i].id, p.after) != 0)
			i++;
		i++;
	}
	api_list_begin(r);
	size_t listed = 0;
	for (; i < n && listed < (size_t)p.limit; i++, listed++) {
		jw_obj(&r->w);
		jw_kstr(&r->w, "id", plans[i].id);
		jw_kstr(&r->w, "name", plans[i].name);
		jw_kint(&r->w, "monthly_run_limit", plans[i].monthly_run_limit);
		jw_kint(&r->w, "price_cents", plans[i].price_cents);
		jw_kint(&r->w, "overage_credits_per_run", plans[i].overage_credits_per_run);
		jw_obj_end(&r->w);
	}
	api_list_end(r, i < n);
	return ERR_OK;
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
	err = db_org_set_plan(r->caller.org_id, r->caller.user_id, plan, clock_now(), &r->arena);
	if (err == ERR_CONFLICT) {
		r->err_field = "plan";
		r->err_msg = "A paid plan needs a saved payment method.";
	}
	if (err != ERR_OK)
		return err;
	return api_org_get(r);
}
