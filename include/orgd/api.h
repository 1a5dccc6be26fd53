/*
 * api: the handlers, one file per resource of API.md (src/api/). Each takes
 * a request that the dispatcher has routed, authenticated, authorized and
 * decoded (req->in is the route's body struct, req->q its list query,
 * req->target what its finder loaded), writes its JSON answer through
 * req->w, and returns an err_t. Handlers never check roles, and never open a
 * transaction: each db_* write they call owns its own.
 */
#ifndef ORGD_API_H
#define ORGD_API_H

#include "orgd/db_list.h"
#include "orgd/json.h"
#include "orgd/req.h"

struct db_idem;
struct db_mail;
struct email_token;
struct plan;
struct org_ref;

/* What the handlers need of the configuration (API.md "Operations"). */
struct api_settings {
	const char *app_url;   /* ORGD_APP_URL: the links in messages */
	const char *mail_from; /* ORGD_MAIL_FROM: its domain names our Message-IDs */
	int64_t invite_ttl;    /* ORGD_INVITE_TTL, seconds (7 days) */
};
void api_configure(const struct api_settings *s);
const struct api_settings *api_settings(void);

/* messages.c: email tokens and the three messages */
#define API_TOKEN_LEN 43 /* base64url of 32 bytes */
/* A fresh token into out (base64url), and in *t its SHA-256 and expiry. */
err_t api_email_token(struct email_token *t, int64_t expires, char out[API_TOKEN_LEN + 1]);
/* The SHA-256 a token is stored as. */
void api_token_hash(const char *token, size_t len, unsigned char out[32]);
/* The verification, invitation and password-reset messages to `to`, in a. */
err_t api_mail_verify(const char *to, const char *name, const char *token, struct arena *a,
		      struct db_mail *m);
err_t api_mail_invite(const char *to, const char *org_name, const char *inviter, enum role role,
		      struct arena *a, struct db_mail *m);
err_t api_mail_reset(const char *to, const char *name, const char *token, struct arena *a,
		     struct db_mail *m);

/* common.c: lists (API.md: {"data":[...],"has_more":bool}, ?limit=, ?after=) */
typedef void (*api_item_fn)(struct jw *w, const void *item);
/*
 * Answer a page of list `which` of owner, as r->q asks, each item written by
 * write. An ?after= naming no row of the list is 400 naming "after".
 */
err_t api_list(struct req *r, enum db_list which, const char *owner, api_item_fn write);

/*
 * The Idempotency-Key step (db_idem.h) of a keyed write: api_idem_init()
 * fills idem from r (the key, the request's digest, the renderer with its
 * ctx, r's answer buffer); after the write, api_idem_finish() turns the
 * write's result into r's answer: a stored or fresh answer with a key, else
 * render()'s answer of an ERR_OK or a client error; a server error is
 * returned for the dispatcher.
 */
void api_idem_init(struct req *r, struct db_idem *idem, int (*render)(void *ctx, err_t outcome),
		   void *ctx);
err_t api_idem_finish(struct req *r, struct db_idem *idem, err_t err);
/* Start r's answer again from nothing (a renderer's first step). */
void api_answer_reset(struct req *r);
/* A renderer's error answer: e's body with msg and field (NULL: none); returns e's status. */
int api_render_error(struct req *r, err_t e, const char *msg, const char *field);

/* The current metering period of the clock, "YYYY-MM" (UTC), into out[8]. */
void api_period(char out[8]);

/* plans.c: {id,name,monthly_run_limit,price_cents,overage_credits_per_run} */
void api_write_plan(struct jw *w, const struct plan *p);
struct auto_recharge;
/* billing.c: {brand,last4}, or null when either is NULL */
void api_write_payment_method(struct jw *w, const char *brand, const char *last4);
/* billing.c: {enabled,threshold_credits,recharge_credits,failures} */
void api_write_auto_recharge(struct jw *w, const struct auto_recharge *ar);
/* orgs.c: {id,name,role} */
void api_write_org_ref(struct jw *w, const struct org_ref *o);

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
struct token_in {
	struct jstr token;
};
struct reset_in {
	struct jstr email;
};
struct reset_confirm_in {
	struct jstr token, password;
};
struct password_in {
	struct jstr current_password, new_password;
};
extern const struct jfield signup_fields[3], login_fields[2], switch_fields[1], token_fields[1],
	reset_fields[1], reset_confirm_fields[2], password_fields[2];
err_t api_signup(struct req *r);
err_t api_verify_email(struct req *r);
err_t api_verify_resend(struct req *r);
err_t api_password_reset(struct req *r);
err_t api_password_reset_confirm(struct req *r);
err_t api_password_change(struct req *r);
err_t api_invitations_list(struct req *r);
err_t api_invitation_accept(struct req *r);
err_t api_invitation_decline(struct req *r);
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
/* PUT /v1/org/plan's answer: the organization, with its plan's current_period_end. */
err_t api_org_plan_answer(struct req *r);

/* members.c */
struct member_add_in {
	struct jstr email; /* normalised (JF_EMAIL) */
	int role;          /* enum role (JF_ENUM) */
};
struct member_role_in {
	int role; /* enum role */
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
	struct jstr name, region;
	int kind, status; /* indexes of env_kinds, env_statuses (JF_ENUM); -1 when absent */
};
extern const char *const env_kinds[], *const env_statuses[];
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
struct payment_method_in {
	struct jstr payment_method;
};
struct credits_in {
	int64_t credits;
};
extern const struct jfield payment_method_fields[1], credits_fields[1];
err_t api_ledger_list(struct req *r);
err_t api_purchases_list(struct req *r);
err_t api_billing_get(struct req *r);
err_t api_payment_method_set(struct req *r);
err_t api_payment_method_delete(struct req *r);
err_t api_credits_buy(struct req *r);

struct purchase_call;
struct pay_result;
struct settlement;
/*
 * Charge pc's purchase through the provider (no transaction may be open) and
 * say how it ended in *s, for db_purchase_settle() or the sweeps.
 */
void api_charge(const struct purchase_call *pc, struct pay_result *res, struct settlement *s);
/*
 * A purchase's failure_code from the provider's decline code: that code, but
 * Stripe's generic_decline as its error code card_declined ("declined" if none).
 */
const char *api_failure_code(const char *code);
/* Seconds to wait for another request of the same key: the provider's timeouts and some. */
int api_lock_timeout(void);

/* cron.c: the sweeps and the auto-recharge settings */
struct sweep_in {
	int64_t limit, since;
};
struct auto_recharge_in {
	bool enabled;
	int64_t threshold_credits, recharge_credits;
};
extern const struct jfield sweep_fields[2], auto_recharge_fields[3];
err_t api_auto_recharge_set(struct req *r);
err_t api_sweep_auto_recharge(struct req *r);
err_t api_sweep_renewals(struct req *r);
err_t api_sweep_reconcile(struct req *r);

/* webhooks.c */
err_t api_webhook(struct req *r);

/* audit.c */
err_t api_audit_list(struct req *r);

#endif
