/*
 * api: the handlers, one file per resource of API.md (src/api/). Each takes
 * a request that the dispatcher has routed, authenticated, authorized and
 * decoded (req->in is the route's body struct), writes its JSON answer
 * through req->w, and returns an err_t. Handlers never check roles.
 */
#ifndef ORGD_API_H
#define ORGD_API_H

#include "orgd/http.h"
#include "orgd/json.h"

/* common.c: pagination and lists (API.md: {"data":[...],"has_more":bool}) */
struct page {
	int64_t limit;     /* 1..100, default 20 */
	const char *after; /* the last id of the previous page, or "" */
};
/* Read ?limit= and ?after=; ERR_INVALID (naming the parameter) if malformed. */
err_t api_page(struct req *r, struct page *p);
/* Open {"data":[ ; each row is then written as an element. */
void api_list_begin(struct req *r);
/* Close the list: ],"has_more":has_more} */
void api_list_end(struct req *r, bool has_more);

/*
 * Run effect(r) in one transaction. With an Idempotency-Key header (or when
 * required, 400 without one) the key is claimed first: a repeat replays the
 * first answer, a repeat with another request is 409, and the answer, error
 * or not, is stored in the same transaction. An effect must return a client
 * error (4xx) only before it has written anything.
 */
err_t api_idempotent(struct req *r, err_t (*effect)(struct req *r), bool required);

/*
 * The email as stored: trimmed, ASCII lower-cased, in arena memory; NULL
 * unless it looks like an address.
 */
char *api_email_normalise(struct req *r, const struct jstr *in);
/* The current metering period of the clock, "YYYY-MM" (UTC), into out[8]. */
void api_period(char out[8]);

/* health.c */
err_t api_health(struct req *r);

/* auth.c */
struct signup_in {
	struct jstr email, password, name;
};
struct login_in {
	struct jstr email, password;
};
struct switch_in {
	struct jstr org_id;
};
extern const struct jfield signup_fields[3], login_fields[2], switch_fields[1];
err_t api_signup(struct req *r);
err_t api_login(struct req *r);
err_t api_switch(struct req *r);
err_t api_logout(struct req *r);
err_t api_jwks(struct req *r);
err_t api_me(struct req *r);

/* orgs.c */
struct org_name_in {
	struct jstr name;
};
extern const struct jfield org_name_fields[1];
err_t api_orgs_list(struct req *r);
err_t api_orgs_create(struct req *r);
err_t api_org_get(struct req *r);
err_t api_org_update(struct req *r);

/* members.c */
struct member_add_in {
	struct jstr email, role;
};
struct member_role_in {
	struct jstr role;
};
extern const struct jfield member_add_fields[2], member_role_fields[1];
err_t api_members_list(struct req *r);
err_t api_members_add(struct req *r);
err_t api_member_find(struct req *r);
err_t api_member_update(struct req *r);
err_t api_member_remove(struct req *r);

/* projects.c */
struct project_in {
	struct jstr name, description;
};
extern const struct jfield project_create_fields[2], project_update_fields[2];
err_t api_projects_list(struct req *r);
err_t api_projects_create(struct req *r);
err_t api_project_find(struct req *r);
err_t api_project_get(struct req *r);
err_t api_project_update(struct req *r);
err_t api_project_delete(struct req *r);

/* environments.c */
struct env_in {
	struct jstr name, kind, region, status;
};
extern const struct jfield env_create_fields[3], env_update_fields[4];
err_t api_envs_list(struct req *r);
err_t api_envs_create(struct req *r);
err_t api_env_find(struct req *r);
err_t api_env_get(struct req *r);
err_t api_env_update(struct req *r);
err_t api_env_delete(struct req *r);

/* runs.c: metering, usage, the dashboard */
struct run_in {
	struct jstr project_id, environment_id;
};
extern const struct jfield run_fields[2];
err_t api_runs_create(struct req *r);
err_t api_usage_get(struct req *r);
err_t api_dashboard_get(struct req *r);

/* plans.c */
struct plan_in {
	struct jstr plan;
};
extern const struct jfield plan_fields[1];
err_t api_plans_list(struct req *r);
err_t api_plan_set(struct req *r);

/* billing.c */
err_t api_ledger_list(struct req *r);

/* audit.c */
err_t api_audit_list(struct req *r);

#endif
