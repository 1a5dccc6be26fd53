/*
 * db_org: the orgs and memberships tables (see db_org.h).
 */
#include "orgd/db_org.h"

#include <assert.h>
#include <string.h>

#include "orgd/clock.h"
#include "orgd/db_audit.h"
#include "orgd/db_usage.h"
#include "orgd/id.h"

#include "dbi.h"

void db_org_ref_row(const struct db_rows *rows, size_t i, void *item)
{
	struct org_ref *o = item;
	o->id = DB_CELL(rows, i, 0)->s;
	o->name = DB_CELL(rows, i, 1)->s;
	o->role = db_role(DB_CELL(rows, i, 2));
}

err_t db_org_membership(const char *org_id, const char *user_id, struct arena *a,
			struct org_ref *out)
{
	struct db_rows rows;
	err_t err =
		db_query(STMT_ORG_MEMBERSHIP, DB_ARGS(DB_STR(org_id), DB_STR(user_id)), a, &rows);
	if (err != ERR_OK)
		return err;
	if (rows.n == 0)
		return ERR_NOT_FOUND;
	db_org_ref_row(&rows, 0, out);
	return ERR_OK;
}

struct org_create {
	const char *org_id, *name, *user_id;
	int64_t now;
};

static err_t org_create_tx(void *arg)
{
	const struct org_create *c = arg;
	uint64_t n = 0;
	err_t err = db_exec(STMT_ORG_INSERT,
			    DB_ARGS(DB_STR(c->org_id), DB_STR(c->name), DB_INT(c->now)), NULL);
	if (err == ERR_OK)
		err = db_exec(STMT_OWNER_INSERT,
			      DB_ARGS(DB_STR(c->org_id), DB_INT(c->now), DB_STR(c->user_id)), &n);
	if (err == ERR_OK && n != 1)
		err = ERR_UNAUTHENTICATED; /* the user is gone */
	if (err == ERR_OK)
		err = db_audit_add_in_tx(c->org_id, c->user_id, "org.created", c->org_id, c->name,
					 c->now);
	return err;
}

err_t db_org_create(const char *org_id, const char *name, const char *user_id, int64_t now)
{
	struct org_create c = {org_id, name, user_id, now};
	return db_tx(org_create_tx, &c);
}

err_t db_org_get(const char *org_id, struct arena *a, struct org *out)
{
	struct db_rows rows;
	err_t err = db_query(STMT_ORG_GET, DB_ARGS(DB_STR(org_id)), a, &rows);
	if (err != ERR_OK)
		return err;
	if (rows.n == 0)
		return ERR_NOT_FOUND;
	const struct plan *plan;
	const struct dbv *plan_id = DB_CELL(&rows, 0, 4);
	err = db_plan_find(plan_id->s, plan_id->len, &plan);
	if (err != ERR_OK) /* the foreign key makes a missing plan impossible */
		return err == ERR_NOT_FOUND ? ERR_INTERNAL : err;
	*out = (struct org){
		.id = DB_CELL(&rows, 0, 0)->s,
		.name = DB_CELL(&rows, 0, 1)->s,
		.created_at = DB_CELL(&rows, 0, 2)->s,
		.credit_balance = DB_CELL(&rows, 0, 3)->i,
		.plan = *plan,
		.current_period_end = DB_CELL(&rows, 0, 5)->s,
	};
	return ERR_OK;
}

struct org_rename {
	const char *org_id, *actor, *name;
	int64_t now;
};

static err_t org_rename_tx(void *arg)
{
	const struct org_rename *c = arg;
	err_t err = db_exec(STMT_ORG_RENAME, DB_ARGS(DB_STR(c->name), DB_STR(c->org_id)), NULL);
	if (err == ERR_OK)
		err = db_audit_add_in_tx(c->org_id, c->actor, "org.renamed", c->org_id, c->name,
					 c->now);
	return err;
}

err_t db_org_rename(const char *org_id, const char *actor, const char *name, int64_t now)
{
	struct org_rename c = {org_id, actor, name, now};
	return db_tx(org_rename_tx, &c);
}

void db_member_row(const struct db_rows *rows, size_t i, void *item)
{
	const char *user_id = DB_CELL(rows, i, 0)->s;
	*(struct member *)item = (struct member){
		.id = user_id ? user_id : DB_CELL(rows, i, 6)->s,
		.user_id = user_id,
		.email = DB_CELL(rows, i, 1)->s,
		.name = DB_CELL(rows, i, 2)->s,
		.role = db_role(DB_CELL(rows, i, 3)),
		.status = DB_CELL(rows, i, 4)->s,
		.added_at = DB_CELL(rows, i, 5)->s,
		.expires_at = DB_CELL(rows, i, 7)->s,
	};
}

err_t db_member_get(const char *org_id, const char *user_id, struct arena *a, struct member *out)
{
	struct db_rows rows;
	err_t err = db_query(STMT_MEMBER_GET,
			     DB_ARGS(DB_STR(org_id), DB_STR(user_id), DB_STR(user_id)), a, &rows);
	if (err != ERR_OK)
		return err;
	if (rows.n == 0)
		return ERR_NOT_FOUND;
	db_member_row(&rows, 0, out);
	return ERR_OK;
}

/* Is user_id among the rows of STMT_OWNERS_LOCK? */
static bool is_owner(const struct db_rows *owners, const char *user_id)
{
	for (size_t i = 0; i < owners->n; i++)
		if (strcmp(DB_CELL(owners, i, 0)->s, user_id) == 0)
			return true;
	return false;
}

struct member_add {
	const char *org_id, *actor, *email;
	enum role role;
	int64_t now, expires;
	const struct db_mail *m;
	struct arena *a;
	struct member *out;
};

/*
 * An invitation, the same whether or not the address has an account: no
 * user is looked up. An address already a member, or invited and not
 * expired, is ERR_CONFLICT; an expired invitation is replaced.
 */
static err_t member_add_tx(void *arg)
{
	struct member_add *c = arg;
	struct db_rows owners, there;
	err_t err = ERR_OK;
	if (c->role == ROLE_OWNER) { /* only an owner, as the locked owner rows say now */
		err = db_query(STMT_OWNERS_LOCK, DB_ARGS(DB_STR(c->org_id)), c->a, &owners);
		if (err == ERR_OK && !is_owner(&owners, c->actor))
			err = ERR_FORBIDDEN;
	}
	if (err == ERR_OK)
		err = db_query(STMT_MEMBER_BY_EMAIL_LOCK,
			       DB_ARGS(DB_INT(c->now), DB_STR(c->org_id), DB_STR(c->email)), c->a,
			       &there);
	if (err != ERR_OK)
		return err;
	if (there.n) {
		bool invited = strcmp(DB_CELL(&there, 0, 0)->s, "invited") == 0;
		if (!invited || DB_CELL(&there, 0, 1)->i)
			return ERR_CONFLICT;
		err = db_exec(STMT_MEMBER_DELETE_EMAIL,
			      DB_ARGS(DB_STR(c->org_id), DB_STR(c->email)), NULL);
		if (err != ERR_OK)
			return err;
	}
	char id[ID_LEN_MAX + 1];
	id_new(id, "inv");
	err = db_exec(STMT_INVITE_INSERT,
		      DB_ARGS(DB_STR(c->org_id), DB_STR(id), DB_STR(c->email), DB_INT(c->role),
			      DB_INT(c->now), DB_INT(c->expires), DB_STR(c->actor)),
		      NULL);
	if (err == ERR_OK)
		err = db_outbox_add_in_tx(c->m, c->now);
	if (err == ERR_OK)
		err = db_audit_add_in_tx(c->org_id, c->actor, "member.invited", c->email,
					 role_name(c->role), c->now);
	if (err == ERR_OK)
		err = db_member_get(c->org_id, id, c->a, c->out);
	return err;
}

err_t db_member_invite(const char *org_id, const char *actor, const char *email, enum role role,
		       int64_t now, int64_t expires, const struct db_mail *m, struct arena *a,
		       struct member *out)
{
	struct member_add c = {org_id, actor, email, role, now, expires, m, a, out};
	return db_tx(member_add_tx, &c);
}

struct member_change {
	const char *org_id, *actor, *id; /* a member's user id, or an invitation's id */
	bool remove;
	enum role role;
	int64_t now;
	struct arena *a;
};

/*
 * The owner rules, decided with the organization's owner rows and the
 * target's row locked, and with the actor's ownership as those rows say now
 * (not as it was when the request was authenticated): two owners demoting
 * each other at once leave one, and the later is refused as a non-owner.
 */
static err_t member_change_tx(void *arg)
{
	struct member_change *c = arg;
	struct db_rows owners, target;
	err_t err = db_query(STMT_OWNERS_LOCK, DB_ARGS(DB_STR(c->org_id)), c->a, &owners);
	if (err == ERR_OK)
		err = db_query(STMT_MEMBER_LOCK,
			       DB_ARGS(DB_STR(c->org_id), DB_STR(c->id), DB_STR(c->id)), c->a,
			       &target);
	if (err != ERR_OK)
		return err;
	if (target.n == 0)
		return ERR_NOT_FOUND;
	bool actor_is_owner = is_owner(&owners, c->actor);
	enum role old = db_role(DB_CELL(&target, 0, 0));
	if (!actor_is_owner && (old == ROLE_OWNER || c->role == ROLE_OWNER))
		return ERR_FORBIDDEN; /* only an owner touches an owner or makes one */
	bool loses_owner = old == ROLE_OWNER && (c->remove || c->role != ROLE_OWNER);
	if (loses_owner && owners.n <= 1)
		return ERR_CONFLICT;
	bool self = strcmp(c->actor, c->id) == 0;
	bool invitation = strcmp(DB_CELL(&target, 0, 1)->s, "invited") == 0;
	const char *action;
	const char *detail;
	const struct dbv who[] = {DB_STR(c->org_id), DB_STR(c->id), DB_STR(c->id)};
	if (c->remove) {
		err = db_exec(STMT_MEMBER_DELETE, who, 3, NULL);
		action = invitation ? "invitation.revoked"
			 : self     ? "member.left"
				    : "member.removed";
		detail = role_name(old);
	} else {
		if (old == c->role)
			return ERR_OK;
		const struct dbv set[] = {DB_INT(c->role), who[0], who[1], who[2]};
		err = db_exec(STMT_MEMBER_SET_ROLE, set, 4, NULL);
		action = invitation ? "invitation.role_changed" : "member.role_changed";
		detail = arena_printf(c->a, "%s -> %s", role_name(old), role_name(c->role));
	}
	if (err != ERR_OK)
		return err;
	return db_audit_add_in_tx(c->org_id, c->actor, action, c->id, detail ? detail : "", c->now);
}

err_t db_member_set_role(const char *org_id, const char *actor, const char *user_id, enum role role,
			 int64_t now, struct arena *a)
{
	struct member_change c = {org_id, actor, user_id, false, role, now, a};
	return db_tx(member_change_tx, &c);
}

err_t db_member_remove(const char *org_id, const char *actor, const char *user_id, int64_t now,
		       struct arena *a)
{
	struct member_change c = {org_id, actor, user_id, true, ROLE_NONE, now, a};
	return db_tx(member_change_tx, &c);
}

err_t db_org_lock_in_tx(const char *org_id, struct arena *a)
{
	assert(db_in_tx());
	struct db_rows rows;
	err_t err = db_query(STMT_ORG_LOCK, DB_ARGS(DB_STR(org_id)), a, &rows);
	return err == ERR_OK && rows.n == 0 ? ERR_NOT_FOUND : err;
}

void db_invitation_row(const struct db_rows *rows, size_t i, void *item)
{
	*(struct invitation *)item = (struct invitation){
		.id = DB_CELL(rows, i, 0)->s,
		.org_id = DB_CELL(rows, i, 1)->s,
		.org_name = DB_CELL(rows, i, 2)->s,
		.role = db_role(DB_CELL(rows, i, 3)),
		.invited_by = DB_CELL(rows, i, 4)->s,
		.expires_at = DB_CELL(rows, i, 5)->s,
	};
}

struct answer {
	const char *id, *user_id, *email;
	bool accept;
	int64_t now;
	struct arena *a;
	struct org_ref *out;
};

static err_t answer_tx(void *arg)
{
	struct answer *c = arg;
	struct db_rows rows;
	err_t err = db_query(STMT_INVITE_LOCK,
			     DB_ARGS(DB_STR(c->id), DB_STR(c->email), DB_INT(c->now)), c->a, &rows);
	if (err == ERR_OK && rows.n == 0)
		err = ERR_NOT_FOUND; /* not the caller's, revoked, expired or used */
	if (err != ERR_OK)
		return err;
	const char *org_id = DB_CELL(&rows, 0, 0)->s;
	*c->out = (struct org_ref){org_id, DB_CELL(&rows, 0, 1)->s, db_role(DB_CELL(&rows, 0, 2))};
	if (c->accept) /* the caller already a member through another address: ERR_CONFLICT */
		err = db_exec(STMT_INVITE_ACCEPT,
			      DB_ARGS(DB_STR(c->user_id), DB_INT(c->now), DB_STR(c->id)), NULL);
	else
		err = db_exec(STMT_MEMBER_DELETE,
			      DB_ARGS(DB_STR(org_id), DB_STR(c->id), DB_STR(c->id)), NULL);
	if (err == ERR_OK)
		err = db_audit_add_in_tx(org_id, c->user_id,
					 c->accept ? "invitation.accepted" : "invitation.declined",
					 c->email, role_name(c->out->role), c->now);
	return err;
}

err_t db_invitation_answer(const char *id, const char *user_id, const char *email, bool accept,
			   int64_t now, struct arena *a, struct org_ref *out)
{
	struct answer c = {id, user_id, email, accept, now, a, out};
	return db_tx(answer_tx, &c);
}
