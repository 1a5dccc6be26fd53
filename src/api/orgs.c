/*
 * orgs: the caller's organizations (/v1/orgs) and the active one (/v1/org).
 */
#include <stddef.h>

#include "orgd/api.h"
#include "orgd/clock.h"
#include "orgd/db_org.h"
#include "orgd/id.h"
#include "orgd/session.h"

const struct jfield org_name_fields[1] = {
	{"name", JF_STRING, JF_REQUIRED, 1, 100, offsetof(struct org_name_in, name)},
};

void api_write_org_ref(struct jw *w, const struct org_ref *o)
{
	jw_obj(w);
	jw_kstr(w, "id", o->id);
	jw_kstr(w, "name", o->name);
	jw_kstr(w, "role", role_name(o->role));
	jw_obj_end(w);
}

static void write_org_item(struct jw *w, const void *item)
{
	api_write_org_ref(w, item);
}

/* {id,name,created_at,plan:{...},role}, and current_period_end when asked */
static void write_org(struct jw *w, const struct org *o, enum role role, bool period)
{
	jw_obj(w);
	jw_kstr(w, "id", o->id);
	jw_kstr(w, "name", o->name);
	jw_kstr(w, "created_at", o->created_at);
	jw_key(w, "plan");
	api_write_plan(w, &o->plan);
	jw_kstr(w, "role", role_name(role));
	if (period)
		jw_kstr(w, "current_period_end", o->current_period_end);
	jw_obj_end(w);
}

err_t api_orgs_list(struct req *r)
{
	return api_list(r, LIST_ORGS, r->caller.user_id, write_org_item);
}

err_t api_orgs_create(struct req *r)
{
	const struct org_name_in *in = r->in;
	char id[ID_LEN_MAX + 1];
	id_new(id, "org");
	int64_t now = clock_now();
	err_t err = db_org_create(id, in->name.s, r->caller.user_id, now);
	struct org o;
	if (err == ERR_OK)
		err = db_org_get(id, &r->arena, &o);
	struct buf tok = {0};
	if (err == ERR_OK)
		err = session_token(r->caller.user_id, r->caller.session_id, id, ROLE_OWNER, now,
				    r->caller.exp, &tok);
	if (err == ERR_OK) {
		r->status = 201;
		jw_obj(&r->w);
		jw_key(&r->w, "org");
		write_org(&r->w, &o, ROLE_OWNER, false);
		jw_key(&r->w, "token");
		jw_strn(&r->w, tok.p, tok.len);
		jw_obj_end(&r->w);
	}
	buf_free(&tok);
	return err;
}

err_t api_org_get(struct req *r)
{
	struct org o;
	err_t err = db_org_get(r->caller.org_id, &r->arena, &o);
	if (err != ERR_OK)
		return err;
	write_org(&r->w, &o, r->caller.role, false);
	return ERR_OK;
}

err_t api_org_plan_answer(struct req *r)
{
	struct org o;
	err_t err = db_org_get(r->caller.org_id, &r->arena, &o);
	if (err != ERR_OK)
		return err;
	write_org(&r->w, &o, r->caller.role, true);
	return ERR_OK;
}

err_t api_org_update(struct req *r)
{
	const struct org_name_in *in = r->in;
	err_t err = db_org_rename(r->caller.org_id, r->caller.user_id, in->name.s, clock_now());
	if (err != ERR_OK)
		return err;
	return api_org_get(r);
}
