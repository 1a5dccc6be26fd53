/*
 * db_org: organizations and memberships. Every function taking an org_id is
 * bound to that organization inside its SQL: a row of another organization
 * is never seen (tenant isolation). Returned strings are arena memory.
 */
#ifndef ORGD_DB_ORG_H
#define ORGD_DB_ORG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orgd/error.h"
#include "orgd/role.h"
#include "orgd/mem.h"

/* An organization as one of its members sees it in lists. */
struct org_ref {
	const char *id, *name;
	enum role role;
};

/* user_id's active membership in org_id (name and role), or ERR_NOT_FOUND. */
err_t db_org_membership(const char *org_id, const char *user_id, struct arena *a,
			struct org_ref *out);

struct plan {
	const char *id, *name;
	int64_t monthly_run_limit, price_cents, overage_credits_per_run;
};

struct org {
	const char *id, *name, *created_at;
	const char *current_period_end; /* NULL on a plan without a price */
	int64_t credit_balance;
	struct plan plan;
};

/* One membership or invitation as GET /v1/org/members shows it. */
struct member {
	const char *id;      /* the user's id, or the invitation's (inv_...) */
	const char *user_id; /* NULL while invited */
	const char *email;
	const char *name; /* NULL while invited */
	const char *status, *added_at;
	const char *expires_at; /* an invitation's; NULL for a member */
	enum role role;
};

/* A pending invitation as its addressee sees it (GET /v1/invitations). */
struct invitation {
	const char *id, *org_id, *org_name, *invited_by, *expires_at;
	enum role role;
};

/*
 * Create organization org_id named name with user_id as its owner, and audit
 * it, in one transaction.
 */
err_t db_org_create(const char *org_id, const char *name, const char *user_id, int64_t now);
/* The organization with its plan, or ERR_NOT_FOUND. */
err_t db_org_get(const char *org_id, struct arena *a, struct org *out);
/* Rename org_id, audited as done by actor. */
err_t db_org_rename(const char *org_id, const char *actor, const char *name, int64_t now);

/* The member (user id) or invitation (its id) `id` of org_id, or ERR_NOT_FOUND. */
err_t db_member_get(const char *org_id, const char *id, struct arena *a, struct member *out);
/*
 * Invite email to org_id with role until expires, and queue the invitation
 * message m, in one transaction (audited). Nobody is looked up, so the
 * answer is the same whether or not the address has an account.
 * ERR_CONFLICT if the email is a member or invited and not expired (an
 * expired invitation is replaced); ERR_FORBIDDEN if role is owner and actor
 * is not an owner, as the locked owner rows say at that moment.
 */
struct db_mail;
err_t db_member_invite(const char *org_id, const char *actor, const char *email, enum role role,
		       int64_t now, int64_t expires, const struct db_mail *m, struct arena *a,
		       struct member *out);
/*
 * Change the role of member or invitation `user_id` (an invitation's id names
 * an invitation), holding the organization's owner rows locked: only
 * an actor who is an owner in those rows may touch an owner or make one
 * (ERR_FORBIDDEN, themself included); the last owner cannot be demoted
 * (ERR_CONFLICT). Audited.
 */
err_t db_member_set_role(const char *org_id, const char *actor, const char *user_id, enum role role,
			 int64_t now, struct arena *a);
/*
 * Remove member user_id (or let them leave, actor == user_id), or revoke an
 * invitation by its id, under the same owner rules.
 */
err_t db_member_remove(const char *org_id, const char *actor, const char *user_id, int64_t now,
		       struct arena *a);

/*
 * Accept (a membership with the invitation's role, from now) or decline (gone)
 * invitation id of email, for user_id, in one transaction (audited); *out is
 * the organization and the role. ERR_NOT_FOUND: not email's, revoked, expired
 * or used; ERR_CONFLICT: user_id is a member there already.
 */
err_t db_invitation_answer(const char *id, const char *user_id, const char *email, bool accept,
			   int64_t now, struct arena *a, struct org_ref *out);

#endif
