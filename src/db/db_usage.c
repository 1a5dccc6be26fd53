/*
 * db_usage: plans, metering, the ledger and the dashboard (see db_usage.h).
 *
 * The plan catalog is seeded by a migration and changes only with one, so
 * each worker keeps a copy, read again at most once a minute.
 */
#include "orgd/db_usage.h"

#include <string.h>
#include <time.h>

#include "orgd/db_audit.h"
#include "orgd/db_idem.h"

#include "dbi.h"
#include "orgd/id.h"

#define PLANS_MAX 32
#define PLANS_TTL 60

static struct {
	struct plan plan[PLANS_MAX];
	size_t n;
	time_t loaded;
	struct arena mem;
} catalog;

err_t db_plans(const struct plan **plans, size_t *n)
{
	time_t now = time(NULL);
	if (!catalog.n || now - catalog.loaded >= PLANS_TTL) {
		struct arena fresh = {0};
		struct db_rows rows;
		err_t err = db_query(STMT_PLANS_ALL, NULL, 0, &fresh, &rows);
		if (err == ERR_OK && (rows.n == 0 || rows.n > PLANS_MAX))
			err = ERR_INTERNAL;
		if (err != ERR_OK) { /* never a stale catalog in silence */
			arena_free(&fresh);
			return err;
		}
		arena_free(&catalog.mem);
		catalog.mem = fresh;
		for (size_t i = 0; i < rows.n; i++)
			catalog.plan[i] = (struct plan){
				.id = DB_CELL(&rows, i, 0)->s,
				.name = DB_CELL(&rows, i, 1)->s,
				.monthly_run_limit = DB_CELL(&rows, i, 2)->i,
				.price_cents = DB_CELL(&rows, i, 3)->i,
				.overage_credits_per_run = DB_CELL(&rows, i, 4)->i,
			};
		catalog.n = rows.n;
		catalog.loaded = now;
	}
	*plans = catalog.plan;
	*n = catalog.n;
	return ERR_OK;
}

err_t db_plan_find(const char *id, size_t len, const struct plan **out)
{
	const struct plan *plans;
	size_t n;
	err_t err = db_plans(&plans, &n);
	if (err != ERR_OK)
		return err;
	for (size_t i = 0; i < n; i++) {
		if (strlen(plans[i].id) == len && memcmp(plans[i].id, id, len) == 0) {
			*out = &plans[i];
			return ERR_OK;
		}
	}
	return ERR_NOT_FOUND;
}

struct set_plan {
	const char *org_id, *actor;
	const struct plan *plan;
	int64_t now;
	struct arena *a;
};

static err_t set_plan_tx(void *arg)
{
	const struct set_plan *c = arg;
	struct db_rows rows;
	err_t err = db_query(STMT_ORG_PLAN_LOCK, DB_ARGS(DB_STR(c->org_id)), c->a, &rows);
	if (err != ERR_OK)
		return err;
	if (rows.n == 0)
		return ERR_NOT_FOUND;
	const char *old = DB_CELL(&rows, 0, 0)->s;
	if (c->plan->price_cents > 0) /* a paid plan is a purchase (db_pay.h) */
		return ERR_INTERNAL;
	if (strcmp(old, c->plan->id) == 0)
		return ERR_OK;
	err = db_exec(STMT_ORG_SET_PLAN, DB_ARGS(DB_STR(c->plan->id), DB_STR(c->org_id)), NULL);
	if (err != ERR_OK)
		return err;
	const char *detail = arena_printf(c->a, "%s -> %s", old, c->plan->id);
	return db_audit_add_in_tx(c->org_id, c->actor, "plan.changed", c->org_id,
				  detail ? detail : "", c->now);
}

err_t db_org_set_plan(const char *org_id, const char *actor, const struct plan *plan, int64_t now,
		      struct arena *a)
{
	struct set_plan c = {org_id, actor, plan, now, a};
	return db_tx(set_plan_tx, &c);
}

/* ERR_OK if the run's project and environment are both the organization's, else ERR_NOT_FOUND. */
static err_t run_targets_exist(const char *org_id, const char *project_id,
			       const char *environment_id, struct arena *a)
{
	struct db_rows rows;
	err_t err = db_query(
		STMT_RUN_TARGETS,
		DB_ARGS(DB_STR(org_id), DB_STR(project_id), DB_STR(org_id), DB_STR(environment_id)),
		a, &rows);
	if (err != ERR_OK)
		return err;
	return rows.n && DB_CELL(&rows, 0, 0)->i && DB_CELL(&rows, 0, 1)->i ? ERR_OK
									    : ERR_NOT_FOUND;
}

struct run_record {
	const char *org_id, *run_id, *project_id, *environment_id, *period;
	int64_t now;
	struct arena *a;
	struct db_idem *idem;
	struct run_result *out;
};

/* The run itself, behind the organization's row lock (rows: STMT_RUN_LOCK's). */
static err_t run_effect(const struct run_record *c, const struct db_rows *rows)
{
	const struct plan *plan = NULL;
	const struct dbv *plan_id = DB_CELL(rows, 0, 1);
	err_t err = db_plan_find(plan_id->s, plan_id->len, &plan);
	if (err != ERR_OK) /* the foreign key makes a missing plan impossible */
		return err == ERR_NOT_FOUND ? ERR_INTERNAL : err;
	int64_t balance = DB_CELL(rows, 0, 0)->i, runs = DB_CELL(rows, 0, 2)->i;
	bool overage = runs >= plan->monthly_run_limit;
	int64_t cost = overage ? plan->overage_credits_per_run : 0;
	if (cost > balance) {
		/* a missing project or environment is the better answer: 404 before 402 */
		err = run_targets_exist(c->org_id, c->project_id, c->environment_id, c->a);
		return err == ERR_OK ? ERR_INSUFFICIENT_CREDITS : err;
	}
	uint64_t n = 0;
	err = db_exec(STMT_RUN_INSERT,
		      DB_ARGS(DB_STR(c->run_id), DB_STR(c->period),
			      DB_STR(overage ? "overage" : "included"), DB_INT(cost),
			      DB_INT(c->now), DB_STR(c->org_id), DB_STR(c->project_id),
			      DB_STR(c->environment_id)),
		      &n);
	if (err == ERR_OK && n != 1)
		return ERR_NOT_FOUND;
	if (err == ERR_OK)
		err = db_exec(
			STMT_USAGE_ADD,
			DB_ARGS(DB_STR(c->org_id), DB_STR(c->period), DB_INT(overage ? 1 : 0)),
			NULL);
	if (err == ERR_OK && cost > 0) {
		err = db_exec(STMT_BALANCE_TAKE,
			      DB_ARGS(DB_INT(cost), DB_STR(c->org_id), DB_INT(cost)), &n);
		if (err == ERR_OK && n != 1) /* behind the row lock this is a broken invariant, */
			err = ERR_INTERNAL;  /* never a client's answer to store and replay */
		char ledger_id[ID_LEN_MAX + 1];
		id_new(ledger_id, "led");
		if (err == ERR_OK)
			err = db_exec(STMT_LEDGER_INSERT,
				      DB_ARGS(DB_STR(ledger_id), DB_STR(c->org_id), DB_INT(c->now),
					      DB_INT(-cost), DB_INT(balance - cost),
					      DB_STR("run_overage"), DB_STR(c->run_id)),
				      NULL);
	}
	if (err == ERR_OK)
		*c->out = (struct run_result){
			.overage = overage,
			.credits_charged = cost,
			.runs = runs + 1,
			.limit = plan->monthly_run_limit,
			.credit_balance = balance - cost,
		};
	return err;
}

static err_t run_record_tx(void *arg)
{
	struct run_record *c = arg;
	struct db_rows rows;
	err_t err =
		db_query(STMT_RUN_LOCK, DB_ARGS(DB_STR(c->period), DB_STR(c->org_id)), c->a, &rows);
	if (err == ERR_OK && rows.n == 0)
		err = ERR_NOT_FOUND;
	if (err == ERR_OK)
		err = db_idem_claim_in_tx(c->org_id, c->idem, c->now, c->a);
	if (err != ERR_OK || c->idem->replayed)
		return err;
	if (c->idem->pending) /* claimed and answered in one transaction: never seen */
		return ERR_INTERNAL;
	return db_idem_settle_in_tx(c->org_id, c->idem, run_effect(c, &rows));
}

err_t db_run_record(const char *org_id, const char *run_id, const char *project_id,
		    const char *environment_id, const char *period, int64_t now, struct arena *a,
		    struct db_idem *idem, struct run_result *out)
{
	struct run_record c = {org_id, run_id, project_id, environment_id, period, now,
			       a,      idem,   out};
	return db_tx(run_record_tx, &c);
}

static void month_row(const struct db_rows *rows, size_t i, void *item)
{
	*(struct usage_month *)item = (struct usage_month){
		.period = DB_CELL(rows, i, 0)->s,
		.runs = DB_CELL(rows, i, 1)->i,
		.overage_runs = DB_CELL(rows, i, 2)->i,
	};
}

err_t db_usage_history(const char *org_id, struct arena *a, struct usage_month **out, size_t *n)
{
	struct db_rows rows;
	void *items = NULL;
	err_t err = db_query(STMT_USAGE_HISTORY, DB_ARGS(DB_STR(org_id)), a, &rows);
	if (err == ERR_OK)
		err = db_rows_map(&rows, sizeof **out, month_row, a, &items);
	*out = items;
	*n = err == ERR_OK ? rows.n : 0;
	return err;
}

void db_ledger_row(const struct db_rows *rows, size_t i, void *item)
{
	*(struct ledger_entry *)item = (struct ledger_entry){
		.id = DB_CELL(rows, i, 0)->s,
		.at = DB_CELL(rows, i, 1)->s,
		.delta = DB_CELL(rows, i, 2)->i,
		.balance_after = DB_CELL(rows, i, 3)->i,
		.reason = DB_CELL(rows, i, 4)->s,
		.ref = DB_CELL(rows, i, 5)->s,
	};
}

err_t db_dashboard(const char *org_id, const char *period, struct arena *a, struct dashboard *d)
{
	struct db_rows rows;
	err_t err = db_query(STMT_DASHBOARD, DB_ARGS(DB_STR(period), DB_STR(org_id)), a, &rows);
	if (err == ERR_OK && rows.n == 0) /* no environment (or no organization) */
		err = db_query(STMT_DASHBOARD_BARE, DB_ARGS(DB_STR(period), DB_STR(org_id)), a,
			       &rows);
	if (err == ERR_OK && rows.n == 0)
		err = ERR_NOT_FOUND;
	if (err != ERR_OK)
		return err;
	const struct dbv *plan_id = DB_CELL(&rows, 0, 2);
	const struct plan *plan = NULL;
	err = db_plan_find(plan_id->s, plan_id->len, &plan);
	if (err != ERR_OK)
		return err == ERR_NOT_FOUND ? ERR_INTERNAL : err;
	*d = (struct dashboard){
		.org_id = DB_CELL(&rows, 0, 0)->s,
		.org_name = DB_CELL(&rows, 0, 1)->s,
		.plan = plan,
		.credit_balance = DB_CELL(&rows, 0, 3)->i,
		.members = DB_CELL(&rows, 0, 4)->i,
		.owners = DB_CELL(&rows, 0, 5)->i,
		.admins = DB_CELL(&rows, 0, 6)->i,
		.period_runs = DB_CELL(&rows, 0, 7)->i,
		.pm_brand = DB_CELL(&rows, 0, 8)->s,
		.pm_last4 = DB_CELL(&rows, 0, 9)->s,
		.ar = db_auto_recharge(&rows, 0, 10),
	};
	/* one row per environment (columns 14..17), or one of NULLs without any */
	d->envs = arena_alloc(a, rows.n * sizeof *d->envs);
	if (!d->envs)
		return ERR_INTERNAL;
	for (size_t i = 0; i < rows.n; i++) {
		if (DB_CELL(&rows, i, 14)->t == DBV_NULL)
			continue;
		d->envs[d->nenvs++] = (struct environment_ref){
			.id = DB_CELL(&rows, i, 14)->s,
			.name = DB_CELL(&rows, i, 15)->s,
			.kind = DB_CELL(&rows, i, 16)->s,
			.status = DB_CELL(&rows, i, 17)->s,
		};
	}
	return ERR_OK;
}
