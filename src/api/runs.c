/*
 * runs: metering rule runs (POST /v1/org/runs), the usage view and the
 * dashboard (API.md, "Plans, usage and runs").
 */
#include <stddef.h>
#include <string.h>

#include "orgd/api.h"
#include "orgd/clock.h"
#include "orgd/db_idem.h"
#include "orgd/db_usage.h"
#include "orgd/id.h"

const struct jfield run_fields[2] = {
	{"project_id", JF_ID, JF_REQUIRED, 0, 0, offsetof(struct run_in, project_id)},
	{"environment_id", JF_ID, JF_REQUIRED, 0, 0, offsetof(struct run_in, environment_id)},
};

struct run_call {
	struct req *r;
	char id[ID_LEN_MAX + 1], period[8];
	struct run_result res;
};

/* The answer of a run's outcome (db_idem.h's render). */
static int run_render(void *ctx, err_t outcome)
{
	struct run_call *c = ctx;
	struct req *r = c->r;
	if (outcome == ERR_NOT_FOUND)
		return api_render_error(
			r, outcome, "No such project or environment in this organization.", NULL);
	if (outcome != ERR_OK)
		return api_render_error(r, outcome, NULL, NULL);
	api_answer_reset(r);
	struct jw *w = &r->w;
	jw_obj(w);
	jw_kstr(w, "id", c->id);
	jw_kstr(w, "counted_as", c->res.overage ? "overage" : "included");
	jw_kint(w, "credits_charged", c->res.credits_charged);
	jw_key(w, "usage");
	jw_obj(w);
	jw_kstr(w, "period", c->period);
	jw_kint(w, "runs", c->res.runs);
	jw_kint(w, "limit", c->res.limit);
	jw_obj_end(w);
	jw_kint(w, "credit_balance", c->res.credit_balance);
	jw_obj_end(w);
	return 201;
}

err_t api_runs_create(struct req *r)
{
	const struct run_in *in = r->in;
	struct run_call c = {.r = r};
	id_new(c.id, "run");
	api_period(c.period);
	struct db_idem idem;
	api_idem_init(r, &idem, run_render, &c);
	err_t err = db_run_record(r->caller.org_id, c.id, in->project_id.s, in->environment_id.s,
				  c.period, clock_now(), &r->arena, &idem, &c.res);
	return api_idem_finish(r, &idem, err);
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

/* The dashboard's billing part: {payment_method,auto_recharge}. */
static void write_billing(struct jw *w, const struct dashboard *d)
{
	jw_obj(w);
	jw_key(w, "payment_method");
	api_write_payment_method(w, d->pm_brand, d->pm_last4);
	jw_key(w, "auto_recharge");
	api_write_auto_recharge(w, &d->ar);
	jw_obj_end(w);
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
	api_write_plan(w, d.plan);
	jw_key(w, "usage");
	jw_obj(w);
	jw_kstr(w, "period", period);
	jw_kint(w, "runs", d.period_runs);
	jw_kint(w, "limit", d.plan->monthly_run_limit);
	jw_obj_end(w);
	jw_kint(w, "credit_balance", d.credit_balance);
	jw_key(w, "environments"); /* the first 100 (README); GET /v1/org/environments has all */
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
	if (r->may_view) /* the route's view operation: the matrix decided */
		write_billing(w, &d);
	else
		jw_null(w);
	jw_obj_end(w);
	return ERR_OK;
}
