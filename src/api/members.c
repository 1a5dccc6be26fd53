/*
 * members: an organization's members and invitations (API.md, "Organizations
 * and members"). The role gate, aware of the target (authz.h), has run
 * before these handlers; the owner rules are decided again by db_member_*
 * under row locks, the authority against races.
 */
#include <stddef.h>
#include <string.h>

#include "orgd/api.h"
#include "orgd/clock.h"
#include "orgd/db_mail.h"
#include "orgd/db_org.h"

const struct jfield member_add_fields[2] = {
	{"email", JF_EMAIL, JF_REQUIRED, 0, 0, offsetof(struct member_add_in, email)},
	{"role", JF_ENUM, JF_REQUIRED, ROLE_MEMBER, 0, offsetof(struct member_add_in, role),
	 .enums = role_names + ROLE_MEMBER},
};
const struct jfield member_role_fields[1] = {
	{"role", JF_ENUM, JF_REQUIRED, ROLE_MEMBER, 0, offsetof(struct member_role_in, role),
	 .enums = role_names + ROLE_MEMBER},
};

static void write_member(struct jw *w, const void *item)
{
	const struct member *m = item;
	jw_obj(w);
	jw_kstr(w, "id", m->id);
	jw_kstr(w, "user_id", m->user_id);
	jw_kstr(w, "email", m->email);
	jw_kstr(w, "name", m->name);
	jw_kstr(w, "role", role_name(m->role));
	jw_kstr(w, "status", m->status);
	jw_kstr(w, "added_at", m->added_at);
	jw_kstr(w, "expires_at", m->expires_at);
	jw_obj_end(w);
}

err_t api_members_list(struct req *r)
{
	return api_list(r, LIST_MEMBERS, r->caller.org_id, write_member);
}

/* The messages of the owner rules, as the transaction decided them. */
static err_t owner_rule(struct req *r, err_t err)
{
	if (err == ERR_FORBIDDEN)
		r->err_msg = "Only an owner may change an owner or make one.";
	else if (err == ERR_CONFLICT)
		r->err_msg = "An organization must keep at least one owner.";
	return err;
}

err_t api_members_add(struct req *r)
{
	const struct member_add_in *in = r->in;
	struct member m;
	struct org o;
	struct db_mail mail;
	int64_t now = clock_now();
	/* the same answer, and the same work, whether or not the address has an account */
	err_t err = db_org_get(r->caller.org_id, &r->arena, &o);
	if (err == ERR_OK)
		err = api_mail_invite(in->email.s, o.name, r->caller.name, (enum role)in->role,
				      &r->arena, &mail);
	if (err == ERR_OK)
		err = db_member_invite(r->caller.org_id, r->caller.user_id, in->email.s,
				       (enum role)in->role, now, now + api_settings()->invite_ttl,
				       &mail, &r->arena, &m);
	if (err == ERR_CONFLICT) {
		r->err_field = "email";
		r->err_msg = "This email is a member already, or invited and not expired.";
	}
	if (err != ERR_OK)
		return owner_rule(r, err);
	r->status = 201;
	write_member(&r->w, &m);
	return ERR_OK;
}

/*
 * {id}: a member's user id or an invitation's id, of the caller's
 * organization (404 before 400); its role goes to the matrix, which keeps
 * admins off owners (403).
 */
err_t api_member_find(struct req *r)
{
	struct member *m = arena_alloc(&r->arena, sizeof *m);
	if (!m)
		return ERR_INTERNAL;
	err_t err = db_member_get(r->caller.org_id, r->path_id, &r->arena, m);
	if (err == ERR_OK) {
		r->target = m;
		r->target_role = m->role;
	}
	return err;
}

err_t api_member_update(struct req *r)
{
	const struct member_role_in *in = r->in;
	err_t err =
		owner_rule(r, db_member_set_role(r->caller.org_id, r->caller.user_id, r->path_id,
						 (enum role)in->role, clock_now(), &r->arena));
	struct member m;
	if (err == ERR_OK)
		err = db_member_get(r->caller.org_id, r->path_id, &r->arena, &m);
	if (err == ERR_OK)
		write_member(&r->w, &m);
	return err;
}

err_t api_member_remove(struct req *r)
{
	err_t err = owner_rule(r, db_member_remove(r->caller.org_id, r->caller.user_id, r->path_id,
						   clock_now(), &r->arena));
	if (err == ERR_OK)
		r->status = 204;
	return err;
}
