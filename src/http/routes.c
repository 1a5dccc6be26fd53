/*
 * routes: the table of every endpoint of API.md, one row each: method, path,
 * who may reach it, the operation the role matrix checks, the target finder,
 * the handler and the body it takes. Adding an endpoint is adding a row.
 */
#include "orgd/route.h"

#include "orgd/api.h"

const struct route routes[] = {
	/* health */
	{M_GET, "/v1/health", AUTH_NONE, OP_NONE, NULL, api_health, NULL, 0},

	/* sessions */
	{M_POST, "/v1/auth/signup", AUTH_NONE, OP_NONE, NULL, api_signup,
	 BODY(signup_fields, struct signup_in), 0},
	{M_POST, "/v1/auth/login", AUTH_NONE, OP_NONE, NULL, api_login,
	 BODY(login_fields, struct login_in), 0},
	{M_POST, "/v1/auth/switch", AUTH_SESSION, OP_NONE, NULL, api_switch,
	 BODY(switch_fields, struct switch_in), 0},
	{M_POST, "/v1/auth/logout", AUTH_SESSION, OP_NONE, NULL, api_logout, NULL, 0},
	{M_GET, "/v1/auth/jwks.json", AUTH_NONE, OP_NONE, NULL, api_jwks, NULL, 0},
	{M_GET, "/v1/me", AUTH_SESSION, OP_NONE, NULL, api_me, NULL, 0},

	/* organizations and members */
	{M_GET, "/v1/orgs", AUTH_SESSION, OP_NONE, NULL, api_orgs_list, NULL, 0},
	{M_POST, "/v1/orgs", AUTH_SESSION, OP_NONE, NULL, api_orgs_create,
	 BODY(org_name_fields, struct org_name_in), 0},
	{M_GET, "/v1/org", AUTH_ORG, OP_ORG_READ, NULL, api_org_get, NULL, 0},
	{M_PATCH, "/v1/org", AUTH_ORG, OP_ORG_UPDATE, NULL, api_org_update,
	 BODY(org_name_fields, struct org_name_in), 0},
	{M_GET, "/v1/org/members", AUTH_ORG, OP_MEMBERS_READ, NULL, api_members_list, NULL, 0},
	{M_POST, "/v1/org/members", AUTH_ORG, OP_MEMBERS_ADD, NULL, api_members_add,
	 BODY(member_add_fields, struct member_add_in), 0},
	{M_PATCH, "/v1/org/members/{id}", AUTH_ORG, OP_MEMBERS_UPDATE, api_member_find,
	 api_member_update, BODY(member_role_fields, struct member_role_in), 0},
	{M_DELETE, "/v1/org/members/{id}", AUTH_ORG, OP_MEMBERS_REMOVE, api_member_find,
	 api_member_remove, NULL, 0},
	{M_GET, "/v1/org/audit", AUTH_ORG, OP_AUDIT_READ, NULL, api_audit_list, NULL, 0},

	/* projects and environments */
	{M_GET, "/v1/org/projects", AUTH_ORG, OP_PROJECTS_READ, NULL, api_projects_list, NULL, 0},
	{M_POST, "/v1/org/projects", AUTH_ORG, OP_PROJECTS_WRITE, NULL, api_projects_create,
	 BODY(project_create_fields, struct project_in), 0},
	{M_GET, "/v1/org/projects/{id}", AUTH_ORG, OP_PROJECTS_READ, api_project_find,
	 api_project_get, NULL, 0},
	{M_PATCH, "/v1/org/projects/{id}", AUTH_ORG, OP_PROJECTS_WRITE, api_project_find,
	 api_project_update, BODY(project_update_fields, struct project_in), 0},
	{M_DELETE, "/v1/org/projects/{id}", AUTH_ORG, OP_PROJECTS_WRITE, api_project_find,
	 api_project_delete, NULL, 0},
	{M_GET, "/v1/org/environments", AUTH_ORG, OP_ENVS_READ, NULL, api_envs_list, NULL, 0},
	{M_POST, "/v1/org/environments", AUTH_ORG, OP_ENVS_WRITE, NULL, api_envs_create,
	 BODY(env_create_fields, struct env_in), 0},
	{M_GET, "/v1/org/environments/{id}", AUTH_ORG, OP_ENVS_READ, api_env_find, api_env_get,
	 NULL, 0},
	{M_PATCH, "/v1/org/environments/{id}", AUTH_ORG, OP_ENVS_WRITE, api_env_find,
	 api_env_update, BODY(env_update_fields, struct env_in), 0},
	{M_DELETE, "/v1/org/environments/{id}", AUTH_ORG, OP_ENVS_WRITE, api_env_find,
	 api_env_delete, NULL, 0},

	/* plans, usage and runs */
	{M_GET, "/v1/plans", AUTH_NONE, OP_NONE, NULL, api_plans_list, NULL, 0},
	{M_PUT, "/v1/org/plan", AUTH_ORG, OP_PLAN_SET, NULL, api_plan_set,
	 BODY(plan_fields, struct plan_in), 0},
	{M_POST, "/v1/org/runs", AUTH_ORG, OP_RUNS_CREATE, NULL, api_runs_create,
	 BODY(run_fields, struct run_in), 0},
	{M_GET, "/v1/org/usage", AUTH_ORG, OP_USAGE_READ, NULL, api_usage_get, NULL, 0},
	{M_GET, "/v1/org/dashboard", AUTH_ORG, OP_DASHBOARD_READ, NULL, api_dashboard_get, NULL, 0},

	/* credits and billing */
	{M_GET, "/v1/org/billing/ledger", AUTH_ORG, OP_BILLING_READ, NULL, api_ledger_list, NULL,
	 0},
};

const size_t nroutes = sizeof routes / sizeof routes[0];
