/*
 * members: an organization's members and invitations (API.md, "Organizations
 * and members"). The owner rules are enforced by db_member_* under row locks;
 * the role gate has already run.
 */
#include <stddef.h>
#include <string.h>

#include "orgd/api.h"
#include "orgd/config.h"
#include "orgd/db_org.h"

const struct jfield member_add_fields[2] = {
	{"email", JF_STRING, JF_REQUIRED, 1, 254, offsetof(struct member_add_in, email)},
	{"role", JF_STRING, JF_REQUIRED, 1, 16, offsetof(struct member_add_in, role)},
};
const struct jfield member_role_fields[1] = {
	{"role", JF_STRING, JF_REQUIRED, 1, 16, offsetof(struct member_role_in, role)},
};

static void write_member(struct jw *w, const struct member *m)
{
	jw_obj(w);
	jw_kstr(w, "user_id", m->user_id);
	jw_kstr(w, "email", m->email);
	jw_kstr(w, "name", m->name);
	jw_kstr(w, "role", role_name(m->role));
	jw_kstr(w, "status", m->status);
	jw_kstr(w, "added_at", m->added_at);
	jw_obj_end(w);
}

static err_t parse_role(struct req *r, const struct jstr *s, enum role *role)
{
	*role = role_parse(s->s, s->len);
	if (*role != ROLE_NONE)
		return ERR_OK;
	r->err_field = "role";
	r->err_msg = "role must be \"owner\", \"admin\" or \"member\".";
	return ERR_INVALID;
}

err_t api_members_list(struct req *r)
{
	struct page p;
	struct member *m;
	size_t n;
	err_t err = api_page(r, &p);
	if (err == ERR_OK)
		err = db_members_page(r->caller.org_id, p.after, p.limit + 1, &r->arena, &m, &n);
	if (err != ERR_OK)
		return err;
	api_list_begin(r);
	for (size_t i = 0; i < n && i < (size_t)p.limit; i++)
		write_member(&r->w, &m[i]);
	api_list_end(r, n > (size_t)p.limit);
	return ERR_OK;
}

err_t api_members_add(struct req *r)
{
	const struct member_add_in *in = r->in;
	enum role role;
	err_t err = parse_role(r, &in->role, &role);
	if (err != ERR_OK)
		return err;
	if (role == ROLE_OWNER && r->caller.role != ROLE_OWNER) {
		r->err_msg = "Only an owner may add an owner.";
		return ERR_FORBIDDEN;
	}
	const char *email = api_email_normalise(r, &in->email);
	if (!email) {
		r->err_field = "email";
		r->err_msg = "This is not a valid email address.";
		return ERR_INVALID;
	}
	struct member m;
	err = db_member_add(r->caller.org_id, r->caller.user_id, email, role, clock_now(),
			    &r->arena, &m);
	if (err == ERR_CONFLICT) {
		r->err_field = "email";
		r->err_msg = "This email is already a member or invited.";
	}
	if (err != ERR_OK)
		return err;
	r->status = 201;
	write_member(&r->w, &m);
	return ERR_OK;
}

static err_t owner_rule(struct req *r, err_t err)
{
	if (err == ERR_FORBIDDEN)
		r->err_msg = "Only an owner may change an owner or make one.";
	else if (err == ERR_CONFLICT)
		r->err_msg = "An organization must keep at least one owner.";
	return err;
}

/*
 * {user_id}: the member must exist in the caller's organization (404 before
 * 400), and only an owner may change or remove an owner (403 before 400).
 * The transaction decides both again under its locks.
 */
err_t api_member_find(struct req *r)
{
	struct member m;
	err_t err = db_member_get(r->caller.org_id, r->path_id, &r->arena, &m);
	if (err == ERR_OK && m.role == ROLE_OWNER && r->caller.role != ROLE_OWNER)
		err = owner_rule(r, ERR_FORBIDDEN);
	return err;
}

err_t api_member_update(struct req *r)
{
	const struct member_role_in *in = r->in;
	enum role role;
	err_t err = parse_role(r, &in->role, &role);
	if (err == ERR_OK)
		err = owner_rule(r, db_member_set_role(r->caller.org_id, r->caller.user_id,
						       r->path_id, role, clock_now(), &r->arena));
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
