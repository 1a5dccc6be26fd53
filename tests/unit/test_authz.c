/*
 * test_authz: every cell of the role x operation matrix, written here from
 * API.md's "who" column (not from src/auth/authz.c), and the target-aware
 * kinds: leaving (a member removes only themself) and the owner rules (an
 * admin neither touches an owner nor makes one; unknown parts never deny).
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "orgd/authz.h"
#include "t.h"

#define SELF_ID  "usr_aaaaaaaaaaaaaaaaaaaa"
#define OTHER_ID "usr_bbbbbbbbbbbbbbbbbbbb"

/*
 * API.md's "who", per operation, by role: ROLE_NONE, member, admin, owner.
 *   '-' never
 *   'Y' always
 *   'S' only on the caller's own membership (DELETE /v1/org/members/{id}: "or the
 *       member themself (leaving)")
 *   'B' not on an owner target and never granting owner ("An admin cannot change
 *       an owner or make one", "Only an owner may invite an owner"); what is not
 *       known yet (ROLE_NONE) does not deny
 */
static const char *const who[OP__MAX] = {
	[OP_NONE] = "----",           /* not an organization operation */
	[OP_ORG_READ] = "-YYY",       /* GET /v1/org: member */
	[OP_ORG_UPDATE] = "--YY",     /* PATCH /v1/org: admins */
	[OP_MEMBERS_READ] = "-YYY",   /* GET /v1/org/members: member */
	[OP_MEMBERS_ADD] = "--BY",    /* POST /v1/org/members: admins; owner only by owners */
	[OP_MEMBERS_UPDATE] = "--BY", /* PATCH /v1/org/members/{id}: admins; owner rules */
	[OP_MEMBERS_REMOVE] = "-SBY", /* DELETE /v1/org/members/{id}: admins, or themself */
	[OP_AUDIT_READ] = "--YY",     /* GET /v1/org/audit: admins */
	[OP_PROJECTS_READ] = "-YYY",  /* GET /v1/org/projects[/{id}]: member */
	[OP_PROJECTS_WRITE] = "-YYY", /* POST/PATCH/DELETE projects: member */
	[OP_ENVS_READ] = "-YYY",      /* GET /v1/org/environments[/{id}]: member */
	[OP_ENVS_WRITE] = "--YY",     /* POST/PATCH/DELETE environments: admins */
	[OP_PLAN_SET] = "--YY",       /* PUT /v1/org/plan: admins */
	[OP_RUNS_CREATE] = "-YYY",    /* POST /v1/org/runs: member */
	[OP_USAGE_READ] = "-YYY",     /* GET /v1/org/usage: member */
	[OP_DASHBOARD_READ] = "-YYY", /* GET /v1/org/dashboard: member */
	[OP_BILLING_READ] = "--YY",   /* GET /v1/org/billing, purchases, ledger: admins */
	[OP_BILLING_WRITE] = "--YY",  /* payment method, credits, auto-recharge: admins */
};

static const char *const op_names[OP__MAX] = {
	[OP_NONE] = "OP_NONE",
	[OP_ORG_READ] = "OP_ORG_READ",
	[OP_ORG_UPDATE] = "OP_ORG_UPDATE",
	[OP_MEMBERS_READ] = "OP_MEMBERS_READ",
	[OP_MEMBERS_ADD] = "OP_MEMBERS_ADD",
	[OP_MEMBERS_UPDATE] = "OP_MEMBERS_UPDATE",
	[OP_MEMBERS_REMOVE] = "OP_MEMBERS_REMOVE",
	[OP_AUDIT_READ] = "OP_AUDIT_READ",
	[OP_PROJECTS_READ] = "OP_PROJECTS_READ",
	[OP_PROJECTS_WRITE] = "OP_PROJECTS_WRITE",
	[OP_ENVS_READ] = "OP_ENVS_READ",
	[OP_ENVS_WRITE] = "OP_ENVS_WRITE",
	[OP_PLAN_SET] = "OP_PLAN_SET",
	[OP_RUNS_CREATE] = "OP_RUNS_CREATE",
	[OP_USAGE_READ] = "OP_USAGE_READ",
	[OP_DASHBOARD_READ] = "OP_DASHBOARD_READ",
	[OP_BILLING_READ] = "OP_BILLING_READ",
	[OP_BILLING_WRITE] = "OP_BILLING_WRITE",
};

static const char *const role_label[ROLE__MAX] = {"none", "member", "admin", "owner"};

static struct caller caller_as(enum role role)
{
	struct caller c;
	memset(&c, 0, sizeof c);
	strcpy(c.user_id, SELF_ID);
	strcpy(c.session_id, "ses_aaaaaaaaaaaaaaaaaaaa");
	strcpy(c.org_id, "org_aaaaaaaaaaaaaaaaaaaa");
	c.role = role;
	return c;
}

/* What API.md says of kind on target t (NULL: none), for the caller SELF_ID. */
static err_t expected(char kind, const struct authz_target *t)
{
	switch (kind) {
	case 'Y':
		return ERR_OK;
	case 'S':
		return t && t->id && strcmp(t->id, SELF_ID) == 0 ? ERR_OK : ERR_FORBIDDEN;
	case 'B':
		return t && (t->role == ROLE_OWNER || t->grant == ROLE_OWNER) ? ERR_FORBIDDEN
									      : ERR_OK;
	default:
		return ERR_FORBIDDEN;
	}
}

/* Counts and prints the cells that disagree (the first few). */
static int wrong_cells;

static void cell(enum op op, enum role role, const struct authz_target *t, const char *what)
{
	struct caller c = caller_as(role);
	err_t want = expected(who[op][role], t);
	err_t got = authz_check(op, &c, t);
	if (got != want) {
		if (wrong_cells < 20)
			printf("  cell %s x %s (%s): got %d, want %d\n", op_names[op],
			       role_label[role], what, (int)got, (int)want);
		wrong_cells++;
	}
}

TEST(the_expected_table_has_a_row_for_every_op)
{
	for (int op = 0; op < OP__MAX; op++) {
		CHECK(who[op] != NULL && strlen(who[op]) == ROLE__MAX);
		CHECK(op_names[op] != NULL);
		/* ROLE_NONE is never granted anything, OP_NONE never granted to anyone */
		CHECK(who[op] && who[op][ROLE_NONE] == '-');
	}
	CHECK(strcmp(who[OP_NONE], "----") == 0);
}

TEST(every_cell_without_a_target)
{
	wrong_cells = 0;
	for (int op = 0; op < OP__MAX; op++)
		for (int role = 0; role < ROLE__MAX; role++)
			cell((enum op)op, (enum role)role, NULL, "NULL target");
	CHECK(wrong_cells == 0);
}

TEST(every_cell_on_every_kind_of_target)
{
	/* the targets a route can present: its {id} (self, another, none-shaped), the
	   target member's role once loaded, the role the body grants */
	static const char *const ids[] = {NULL, "", SELF_ID, OTHER_ID};
	wrong_cells = 0;
	for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
		for (int trole = 0; trole < ROLE__MAX; trole++)
			for (int grant = 0; grant < ROLE__MAX; grant++) {
				struct authz_target t = {ids[i], (enum role)trole,
							 (enum role)grant};
				/* the caller themself is a member, admin or owner, never
				   someone else's role: skip impossible self targets */
				char what[96];
				snprintf(what, sizeof what, "id %s, target %s, grant %s",
					 ids[i] ? ids[i] : "NULL", role_label[trole],
					 role_label[grant]);
				for (int op = 0; op < OP__MAX; op++)
					for (int role = 0; role < ROLE__MAX; role++) {
						if (ids[i] && strcmp(ids[i], SELF_ID) == 0 &&
						    trole != ROLE_NONE && trole != role)
							continue;
						cell((enum op)op, (enum role)role, &t, what);
					}
			}
	CHECK(wrong_cells == 0);
}

TEST(members_may_read_and_use_but_not_administer)
{
	struct caller m = caller_as(ROLE_MEMBER);
	CHECK(authz_check(OP_ORG_READ, &m, NULL) == ERR_OK);
	CHECK(authz_check(OP_MEMBERS_READ, &m, NULL) == ERR_OK);
	CHECK(authz_check(OP_PROJECTS_READ, &m, NULL) == ERR_OK);
	CHECK(authz_check(OP_PROJECTS_WRITE, &m, NULL) == ERR_OK);
	CHECK(authz_check(OP_ENVS_READ, &m, NULL) == ERR_OK);
	CHECK(authz_check(OP_RUNS_CREATE, &m, NULL) == ERR_OK);
	CHECK(authz_check(OP_USAGE_READ, &m, NULL) == ERR_OK);
	CHECK(authz_check(OP_DASHBOARD_READ, &m, NULL) == ERR_OK);
	CHECK(authz_check(OP_ORG_UPDATE, &m, NULL) == ERR_FORBIDDEN);
	CHECK(authz_check(OP_MEMBERS_ADD, &m, NULL) == ERR_FORBIDDEN);
	CHECK(authz_check(OP_MEMBERS_UPDATE, &m, NULL) == ERR_FORBIDDEN);
	CHECK(authz_check(OP_AUDIT_READ, &m, NULL) == ERR_FORBIDDEN);
	CHECK(authz_check(OP_ENVS_WRITE, &m, NULL) == ERR_FORBIDDEN);
	CHECK(authz_check(OP_PLAN_SET, &m, NULL) == ERR_FORBIDDEN);
	CHECK(authz_check(OP_BILLING_READ, &m, NULL) == ERR_FORBIDDEN);
	CHECK(authz_check(OP_BILLING_WRITE, &m, NULL) == ERR_FORBIDDEN);
	/* even on their own membership, a member neither promotes nor adds */
	struct authz_target self = {SELF_ID, ROLE_MEMBER, ROLE_ADMIN};
	CHECK(authz_check(OP_MEMBERS_UPDATE, &m, &self) == ERR_FORBIDDEN);
	CHECK(authz_check(OP_MEMBERS_ADD, &m, &self) == ERR_FORBIDDEN);
}

TEST(admins_and_owners_administer_and_bill)
{
	for (int role = ROLE_ADMIN; role <= ROLE_OWNER; role++) {
		struct caller c = caller_as((enum role)role);
		CHECK(authz_check(OP_ORG_UPDATE, &c, NULL) == ERR_OK);
		CHECK(authz_check(OP_MEMBERS_ADD, &c, NULL) == ERR_OK);
		CHECK(authz_check(OP_MEMBERS_UPDATE, &c, NULL) == ERR_OK);
		CHECK(authz_check(OP_AUDIT_READ, &c, NULL) == ERR_OK);
		CHECK(authz_check(OP_ENVS_WRITE, &c, NULL) == ERR_OK);
		CHECK(authz_check(OP_PLAN_SET, &c, NULL) == ERR_OK);
		CHECK(authz_check(OP_BILLING_READ, &c, NULL) == ERR_OK);
		CHECK(authz_check(OP_BILLING_WRITE, &c, NULL) == ERR_OK);
		CHECK(authz_check(OP_ORG_READ, &c, NULL) == ERR_OK);
		CHECK(authz_check(OP_RUNS_CREATE, &c, NULL) == ERR_OK);
		CHECK(authz_check(OP_NONE, &c, NULL) == ERR_FORBIDDEN);
	}
}

TEST(role_none_is_never_granted)
{
	struct caller c = caller_as(ROLE_NONE);
	struct authz_target self = {SELF_ID, ROLE_NONE, ROLE_NONE};
	for (int op = 0; op < OP__MAX; op++) {
		CHECK(authz_check((enum op)op, &c, NULL) == ERR_FORBIDDEN);
		CHECK(authz_check((enum op)op, &c, &self) == ERR_FORBIDDEN);
	}
}

TEST(op_none_is_never_granted)
{
	struct authz_target self = {SELF_ID, ROLE_NONE, ROLE_NONE};
	for (int role = 0; role < ROLE__MAX; role++) {
		struct caller c = caller_as((enum role)role);
		CHECK(authz_check(OP_NONE, &c, NULL) == ERR_FORBIDDEN);
		CHECK(authz_check(OP_NONE, &c, &self) == ERR_FORBIDDEN);
	}
}

TEST(admin_never_touches_or_makes_an_owner)
{
	static const enum op ops[] = {OP_MEMBERS_ADD, OP_MEMBERS_UPDATE, OP_MEMBERS_REMOVE};
	struct caller a = caller_as(ROLE_ADMIN);
	for (size_t i = 0; i < 3; i++) {
		enum op op = ops[i];
		/* the target is an owner: refused, whatever the grant */
		for (int g = 0; g < ROLE__MAX; g++) {
			struct authz_target t = {OTHER_ID, ROLE_OWNER, (enum role)g};
			CHECK(authz_check(op, &a, &t) == ERR_FORBIDDEN);
		}
		/* the grant is owner: refused, whatever the target (also not loaded yet) */
		for (int tr = 0; tr < ROLE__MAX; tr++) {
			struct authz_target t = {OTHER_ID, (enum role)tr, ROLE_OWNER};
			CHECK(authz_check(op, &a, &t) == ERR_FORBIDDEN);
		}
		/* promoting themself to owner */
		struct authz_target self_up = {SELF_ID, ROLE_ADMIN, ROLE_OWNER};
		CHECK(authz_check(op, &a, &self_up) == ERR_FORBIDDEN);
		/* below owner: allowed; ROLE_NONE (not known yet) never denies */
		for (int tr = ROLE_NONE; tr <= ROLE_ADMIN; tr++)
			for (int g = ROLE_NONE; g <= ROLE_ADMIN; g++) {
				struct authz_target t = {OTHER_ID, (enum role)tr, (enum role)g};
				CHECK(authz_check(op, &a, &t) == ERR_OK);
			}
		struct authz_target unknown = {NULL, ROLE_NONE, ROLE_NONE};
		CHECK(authz_check(op, &a, &unknown) == ERR_OK);
		CHECK(authz_check(op, &a, NULL) == ERR_OK);
	}
	/* an admin may leave (remove themself, not an owner) */
	struct authz_target self = {SELF_ID, ROLE_ADMIN, ROLE_NONE};
	CHECK(authz_check(OP_MEMBERS_REMOVE, &a, &self) == ERR_OK);
}

TEST(owner_always_on_members)
{
	static const enum op ops[] = {OP_MEMBERS_ADD, OP_MEMBERS_UPDATE, OP_MEMBERS_REMOVE};
	struct caller o = caller_as(ROLE_OWNER);
	static const char *const ids[] = {NULL, "", SELF_ID, OTHER_ID};
	for (size_t i = 0; i < 3; i++) {
		CHECK(authz_check(ops[i], &o, NULL) == ERR_OK);
		for (size_t k = 0; k < 4; k++)
			for (int tr = 0; tr < ROLE__MAX; tr++)
				for (int g = 0; g < ROLE__MAX; g++) {
					struct authz_target t = {ids[k], (enum role)tr,
								 (enum role)g};
					CHECK(authz_check(ops[i], &o, &t) == ERR_OK);
				}
	}
}

TEST(member_removes_only_themself)
{
	struct caller m = caller_as(ROLE_MEMBER);
	struct authz_target self = {SELF_ID, ROLE_MEMBER, ROLE_NONE};
	struct authz_target self_unloaded = {SELF_ID, ROLE_NONE, ROLE_NONE};
	CHECK(authz_check(OP_MEMBERS_REMOVE, &m, &self) == ERR_OK);
	CHECK(authz_check(OP_MEMBERS_REMOVE, &m, &self_unloaded) == ERR_OK);
	/* someone else, of any role */
	for (int tr = 0; tr < ROLE__MAX; tr++) {
		struct authz_target t = {OTHER_ID, (enum role)tr, ROLE_NONE};
		CHECK(authz_check(OP_MEMBERS_REMOVE, &m, &t) == ERR_FORBIDDEN);
	}
	/* ids that are almost the caller's: compared whole, not as a prefix */
	struct authz_target prefix = {"usr_aaaaaaaaaaaaaaaaaaa", ROLE_MEMBER, ROLE_NONE};
	struct authz_target longer = {SELF_ID "a", ROLE_MEMBER, ROLE_NONE};
	struct authz_target upper = {"USR_AAAAAAAAAAAAAAAAAAAA", ROLE_MEMBER, ROLE_NONE};
	CHECK(authz_check(OP_MEMBERS_REMOVE, &m, &prefix) == ERR_FORBIDDEN);
	CHECK(authz_check(OP_MEMBERS_REMOVE, &m, &longer) == ERR_FORBIDDEN);
	CHECK(authz_check(OP_MEMBERS_REMOVE, &m, &upper) == ERR_FORBIDDEN);
	/* an {id} that names nothing ("" from route_match), no id, no target */
	struct authz_target empty = {"", ROLE_NONE, ROLE_NONE};
	struct authz_target noid = {NULL, ROLE_MEMBER, ROLE_NONE};
	CHECK(authz_check(OP_MEMBERS_REMOVE, &m, &empty) == ERR_FORBIDDEN);
	CHECK(authz_check(OP_MEMBERS_REMOVE, &m, &noid) == ERR_FORBIDDEN);
	CHECK(authz_check(OP_MEMBERS_REMOVE, &m, NULL) == ERR_FORBIDDEN);
}

TEST(out_of_range_op_or_role_is_forbidden)
{
	struct caller o = caller_as(ROLE_OWNER);
	CHECK(authz_check(OP__MAX, &o, NULL) == ERR_FORBIDDEN);
	CHECK(authz_check((enum op)(OP__MAX + 1), &o, NULL) == ERR_FORBIDDEN);
	CHECK(authz_check((enum op)1000, &o, NULL) == ERR_FORBIDDEN);
	CHECK(authz_check((enum op) - 1, &o, NULL) == ERR_FORBIDDEN);
	struct authz_target self = {SELF_ID, ROLE_NONE, ROLE_NONE};
	CHECK(authz_check(OP__MAX, &o, &self) == ERR_FORBIDDEN);

	static const enum role bad_roles[] = {ROLE__MAX, (enum role)(ROLE__MAX + 1), (enum role)255,
					      (enum role) - 1};
	for (size_t i = 0; i < sizeof bad_roles / sizeof bad_roles[0]; i++) {
		struct caller c = caller_as(ROLE_OWNER);
		c.role = bad_roles[i];
		for (int op = 0; op < OP__MAX; op++) {
			CHECK(authz_check((enum op)op, &c, NULL) == ERR_FORBIDDEN);
			CHECK(authz_check((enum op)op, &c, &self) == ERR_FORBIDDEN);
		}
	}
}

int main(void)
{
	RUN(the_expected_table_has_a_row_for_every_op);
	RUN(every_cell_without_a_target);
	RUN(every_cell_on_every_kind_of_target);
	RUN(members_may_read_and_use_but_not_administer);
	RUN(admins_and_owners_administer_and_bill);
	RUN(role_none_is_never_granted);
	RUN(op_none_is_never_granted);
	RUN(admin_never_touches_or_makes_an_owner);
	RUN(owner_always_on_members);
	RUN(member_removes_only_themself);
	RUN(out_of_range_op_or_role_is_forbidden);
	T_DONE();
}
