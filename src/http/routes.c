/*
 * routes: the table of every endpoint of API.md, one row each: method, path,
 * who may reach it, the operation the role matrix checks, the target finder,
 * the handler, the body and the query it takes, and what else the gate
 * decides for it (the role a body grants, a part to show, the
 * Idempotency-Key). The README's "Adding an endpoint" lists the other files
 * a new row needs.
 */
#include "orgd/route.h"

#include "orgd/api.h"
#include "orgd/http.h"

/* Shorthands for who may reach a route (and its operation) and its handler. */
#define PUBLIC(h)   .auth = AUTH_NONE, .fn = (h)
#define SIGNED(h)   .auth = AUTH_SESSION, .fn = (h)
#define VERIFIED(h) .auth = AUTH_VERIFIED, .fn = (h)
#define ORG(o, h)   .auth = AUTH_ORG, .op = (o), .fn = (h)
#define CRON(h)     .auth = AUTH_CRON, .fn = (h)
#define LIST        .query = &list_query

const struct route routes[] = {
	/* health, and the metrics (nginx lets only 127.0.0.1 reach /metrics) */
	{M_GET, "/v1/health", PUBLIC(api_health)},
	{M_GET, "/metrics", PUBLIC(http_metrics_page)},

	/* sessions */
	{M_POST, "/v1/auth/signup", PUBLIC(api_signup),
	 .body = BODY(signup_fields, struct signup_in)},
	{M_POST, "/v1/auth/verify-email", PUBLIC(api_verify_email),
	 .body = BODY(token_fields, struct token_in)},
	{M_POST, "/v1/auth/verify-email/resend", SIGNED(api_verify_resend)},
	{M_POST, "/v1/auth/password-reset", PUBLIC(api_password_reset),
	 .body = BODY(reset_fields, struct reset_in)},
	{M_POST, "/v1/auth/password-reset/confirm", PUBLIC(api_password_reset_confirm),
	 .body = BODY(reset_confirm_fields, struct reset_confirm_in)},
	{M_POST, "/v1/auth/password", SIGNED(api_password_change),
	 .body = BODY(password_fields, struct password_in)},
	{M_POST, "/v1/auth/login", PUBLIC(api_login), .body = BODY(login_fields, struct login_in)},
	{M_POST, "/v1/auth/switch", SIGNED(api_switch),
	 .body = BODY(switch_fields, struct switch_in)},
	{M_POST, "/v1/auth/logout", SIGNED(api_logout)},
	{M_GET, "/v1/auth/jwks.json", PUBLIC(api_jwks)},
	{M_GET, "/v1/me", SIGNED(api_me), .caller_orgs = true},

	/* organizations and members */
	{M_GET, "/v1/orgs", SIGNED(api_orgs_list), LIST},
	{M_POST, "/v1/orgs", SIGNED(api_orgs_create),
	 .body = BODY(org_name_fields, struct org_name_in)},
	{M_GET, "/v1/org", ORG(OP_ORG_READ, api_org_get)},
	{M_PATCH, "/v1/org", ORG(OP_ORG_UPDATE, api_org_update),
	 .body = BODY(org_name_fields, struct org_name_in)},
	{M_GET, "/v1/org/members", ORG(OP_MEMBERS_READ, api_members_list),
	 .query = &list_query_loose},
	{M_POST, "/v1/org/members", ORG(OP_MEMBERS_ADD, api_members_add),
	 .body = BODY(member_add_fields, struct member_add_in), .grant = "role"},
	{M_PATCH, "/v1/org/members/{id}", ORG(OP_MEMBERS_UPDATE, api_member_update),
	 .find = api_member_find, .body = BODY(member_role_fields, struct member_role_in),
	 .grant = "role"},
	{M_DELETE, "/v1/org/members/{id}", ORG(OP_MEMBERS_REMOVE, api_member_remove),
	 .find = api_member_find},
	{M_GET, "/v1/org/audit", ORG(OP_AUDIT_READ, api_audit_list), LIST},
	{M_GET, "/v1/invitations", VERIFIED(api_invitations_list), LIST},
	{M_POST, "/v1/invitations/{id}/accept", VERIFIED(api_invitation_accept)},
	{M_POST, "/v1/invitations/{id}/decline", VERIFIED(api_invitation_decline)},

	/* projects and environments */
	{M_GET, "/v1/org/projects", ORG(OP_PROJECTS_READ, api_projects_list), LIST},
	{M_POST, "/v1/org/projects", ORG(OP_PROJECTS_WRITE, api_projects_create),
	 .body = BODY(project_create_fields, struct project_in)},
	{M_GET, "/v1/org/projects/{id}", ORG(OP_PROJECTS_READ, api_project_get),
	 .find = api_project_find},
	{M_PATCH, "/v1/org/projects/{id}", ORG(OP_PROJECTS_WRITE, api_project_update),
	 .find = api_project_find, .body = BODY(project_update_fields, struct project_in)},
	{M_DELETE, "/v1/org/projects/{id}", ORG(OP_PROJECTS_WRITE, api_project_delete),
	 .find = api_project_find},
	{M_GET, "/v1/org/environments", ORG(OP_ENVS_READ, api_envs_list), LIST},
	{M_POST, "/v1/org/environments", ORG(OP_ENVS_WRITE, api_envs_create),
	 .body = BODY(env_create_fields, struct env_in)},
	{M_GET, "/v1/org/environments/{id}", ORG(OP_ENVS_READ, api_env_get), .find = api_env_find},
	{M_PATCH, "/v1/org/environments/{id}", ORG(OP_ENVS_WRITE, api_env_update),
	 .find = api_env_find, .body = BODY(env_update_fields, struct env_in)},
	{M_DELETE, "/v1/org/environments/{id}", ORG(OP_ENVS_WRITE, api_env_delete),
	 .find = api_env_find},

	/* plans, usage and runs */
	{M_GET, "/v1/plans", PUBLIC(api_plans_list), .query = &list_query_loose},
	{M_PUT, "/v1/org/plan", ORG(OP_PLAN_SET, api_plan_set),
	 .body = BODY(plan_fields, struct plan_in)},
	{M_POST, "/v1/org/runs", ORG(OP_RUNS_CREATE, api_runs_create),
	 .body = BODY(run_fields, struct run_in), .idem = IDEM_OPTIONAL},
	{M_GET, "/v1/org/usage", ORG(OP_USAGE_READ, api_usage_get)},
	{M_GET, "/v1/org/dashboard", ORG(OP_DASHBOARD_READ, api_dashboard_get),
	 .view = OP_BILLING_READ},

	/* credits and billing: billing-sensitive, the matrix says for whom */
	{M_GET, "/v1/org/billing", ORG(OP_BILLING_READ, api_billing_get)},
	{M_GET, "/v1/org/billing/purchases", ORG(OP_BILLING_READ, api_purchases_list), LIST},
	{M_GET, "/v1/org/billing/ledger", ORG(OP_BILLING_READ, api_ledger_list), LIST},
	{M_PUT, "/v1/org/billing/payment-method", ORG(OP_BILLING_WRITE, api_payment_method_set),
	 .body = BODY(payment_method_fields, struct payment_method_in)},
	{M_DELETE, "/v1/org/billing/payment-method",
	 ORG(OP_BILLING_WRITE, api_payment_method_delete)},
	{M_POST, "/v1/org/billing/credits", ORG(OP_BILLING_WRITE, api_credits_buy),
	 .body = BODY(credits_fields, struct credits_in), .idem = IDEM_REQUIRED},

	{M_PUT, "/v1/org/billing/auto-recharge", ORG(OP_BILLING_WRITE, api_auto_recharge_set),
	 .body = BODY(auto_recharge_fields, struct auto_recharge_in)},

	/* cron's sweeps, behind the cron secret; the body {"limit":N} may be left out */
	{M_POST, "/v1/internal/auto-recharge", CRON(api_sweep_auto_recharge),
	 .body = BODY(sweep_fields, struct sweep_in), .body_optional = true},
	{M_POST, "/v1/internal/renewals", CRON(api_sweep_renewals),
	 .body = BODY(sweep_fields, struct sweep_in), .body_optional = true},
	{M_POST, "/v1/internal/reconcile", CRON(api_sweep_reconcile),
	 .body = BODY(sweep_fields, struct sweep_in), .body_optional = true},

	/* the payment provider's events: signed over the raw body, up to 256 KiB */
	{M_POST, "/v1/webhooks/payments", PUBLIC(api_webhook), .raw = true, .body_cap = 256 * 1024},
};

const size_t nroutes = sizeof routes / sizeof routes[0];
