/*
 * runs: metering rule runs (POST /v1/org/runs), the usage view and the
 * dashboard (API.md, "Plans, usage and runs").
 */
#include <stddef.h>
#include <string.h>

#include "orgd/api.h"
#include "orgd/authz.h"
#include "orgd/config.h"
#include "orgd/db_usage.h"
#include "orgd/id.h"

const struct jfield run_fields[2] = {
	{"project_id", JF_STRING, JF_REQUIRED, 1, 64, offsetof(struct run_in, project_id)},
	{"environment_id", JF_STRING, JF_REQUIRED, 1, 64, offsetof(struct run_in, environment_id)},
};

static err_t run_effect(struct req *r)
{
	const struct run_in *in = r->in;
	char id[ID_LEN_MAX + 1], period[8];
	id_new(id, "run");
	api_period(period);
	struct run_result res;
	err_t err = db_run_record(r->caller.org_id, id, in->project_id.s, in->environment_id.s,
				  period, clock_now(), &r->arena, &res);
	if (err == ERR_NOT_FOUND)
		r->err_msg = "No such project or environment in this organization.";
	if (err != ERR_OK)
		return err;
	r->status = 201;
	jw_obj(&r->w);
	jw_kstr(&r->w, "id", id);
	jw_kstr(&r->w, "counted_as", res.overage ? "overage" : "included");
	jw_kint(&r->w, "credits_charged", res.credits_charged);
	jw_key(&r->w, "usage");
	jw_obj(&r->w);
	jw_kstr(&r->w, "period", period);
	jw_kint(&r->w, "runs", res.runs);
	jw_kint(&r->w, "limit", res.limit);
	jw_obj_end(&r->w);
	jw_kint(&r->w, "credit_balance", res.credit_balance);
	jw_obj_end(&r->w);
	return ERR_OK;
}

err_t api_runs_create(struct req *r)
{
	return api_idempotent(r, run_effect, false);
}

err_t api_usage_get(struct req *r)
{
	char period[8];
	api_period(period);
	struct org o;
	struct usage_month *hist;
	size_t n;
	err_t err = db_org_get(r->caller.org_id, &r->arena, &o);
	if (err == ERR_OK)
		err = db_usage_history(r->caller.org_id, &r->arena, &hist, &n);
	if (err != ERR_OK)
		return err;
	int64_t runs = 0, overage = 0;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(hist[i].period, period) == 0) {
			runs = hist[i].runs;
			overage = hist[i].overage_runs;
		}
	}
	jw_obj(&r->w);
	jw_kstr(&r->w, "period", period);
	jw_kint(&r->w, "runs", runs);
	jw_kint(&r->w, "limit", o.plan.monthly_run_limit);
	jw_kint(&r->w, "overage_runs", overage);
	jw_key(&r->w, "history");
	jw_arr(&r->w);
	for (size_t i = 0, listed = 0; i < n && listed < 12; i++) {
		if (strcmp(hist[i].period, period) >= 0)
			continue; /* the history is the months before this one */
		jw_obj(&r->w);
		jw_kstr(&r->w, "period", hist[i].period);
		jw_kint(&r->w, "runs", hist[i].runs);
		jw_obj_end(&r->w);
		listed++;
	}
	jw_arr_end(&r->w);
	jw_obj_end(&r->w);
	return ERR_OK;
}

err_t api_dashboard_get(struct req *r)
{
	char period[8];
	api_period(period);
	struct dashboard d;
	err_t err = db_dashboard(r->caller.org_id, period, &r->arena, &d);
	if (err != ERR_OK)
		return err;
	struct jw *w = &r->w;
	jw_obj(w);
	jw_key(w, "org");
	jw_obj(w);
	jw_kstr(w, "id", d.org_id);
	jw_kstr(w, "name", d.org_name);
	jw_obj_end(w);
	jw_kstr(w, "role", role_name(r->caller.role));
	jw_key(w, "members");
	jw_obj(w);
	jw_kint(w, "count", d.members);
	jw_kint(w, "owners", d.owners);
	jw_kint(w, "admins", d.admins);
	jw_obj_end(w);
	jw_key(w, "plan");
	jw_obj(w);
	jw_kstr(w, "id", d.plan->id);
	jw_kstr(w, "name", d.plan->name);
	jw_kint(w, "monthly_run_limit", d.plan->monthly_run_limit);
	jw_kint(w, "price_cents", d.plan->price_cents);
	jw_kint(w, "overage_credits_per_run", d.plan->overage_credits_per_run);
	jw_obj_end(w);
	jw_key(w, "usage");
	jw_obj(w);
	jw_kstr(w, "period", period);
	jw_kint(w, "runs", d.period_runs);
	jw_kint(w, "limit", d.plan->monthly_run_limit);
	jw_obj_end(w);
	jw_kint(w, "credit_balance", d.credit_balance);
	jw_key(w, "environments");
	jw_arr(w);
	for (size_t i = 0; i < d.nenvs; i++) {
		jw_obj(w);
		jw_kstr(w, "id", d.envs[i].id);
		jw_kstr(w, "name", d.envs[i].name);
		jw_kstr(w, "kind", d.envs[i].kind);
		jw_kstr(w, "status", d.envs[i].status);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_key(w, "billing");
	if (authz_check(OP_BILLING_READ, &r->caller, NULL) == ERR_OK) { /* the matrix decides */
		jw_obj(w);
		jw_key(w, "payment_method");
		if (d.pm_brand && d.pm_last4) {
			jw_obj(w);
			jw_kstr(w, "brand", d.pm_brand);
			jw_kstr(w, "last4", d.pm_last4);
			jw_obj_end(w);
		} else {
			jw_null(w);
		}
		jw_key(w, "auto_recharge");
		jw_obj(w);
		jw_kbool(w, "enabled", d.ar_enabled);
		jw_kint(w, "threshold_credits", d.ar_threshold);
		jw_kint(w, "recharge_credits", d.ar_recharge);
		jw_kint(w, "failures", d.ar_failures);
		jw_obj_end(w);
		jw_obj_end(w);
	} else {
		jw_null(w);
	}
	jw_obj_end(w);
	return ERR_OK;
}
