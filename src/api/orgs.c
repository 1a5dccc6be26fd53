/*
 * orgs: the caller's organizations (/v1/orgs) and the active one (/v1/org).
 */
#include <stddef.h>

#include "orgd/api.h"
#include "orgd/config.h"
#include "orgd/db_org.h"
#include "orgd/id.h"
#include "orgd/session.h"

const struct jfield org_name_fields[1] = {
	{"name", JF_STRING, JF_REQUIRED, 1, 100, offsetof(struct org_name_in, name)},
};

static void write_plan(struct jw *w, const struct plan *p)
{
	jw_obj(w);
	jw_kstr(w, "id", p->id);
	jw_kstr(w, "name", p->name);
	jw_kint(w, "monthly_run_limit", p->monthly_run_limit);
	jw_kint(w, "price_cents", p->price_cents);
	jw_kint(w, "overage_credits_per_run", p->overage_credits_per_run);
	jw_obj_end(w);
}

/* {id,name,created_at,plan:{...},role} */
static void write_org(struct jw *w, const struct org *o, enum role role)
{
	jw_obj(w);
	jw_kstr(w, "id", o->id);
	jw_kstr(w, "name", o->name);
	jw_kstr(w, "created_at", o->created_at);
	jw_key(w, "plan");
	write_plan(w, &o->plan);
	jw_kstr(w, "role", role_name(role));
	jw_obj_end(w);
}

err_t api_orgs_list(struct req *r)
{
	struct page p;
	struct org_ref *orgs;
	size_t n;
	err_t err = api_page(r, &p);
	if (err == ERR_OK)
		err = db_orgs_page(r->caller.user_id, p.after, p.limit + 1, &r->arena, &orgs, &n);
	if (err != ERR_OK)
		return err;
	api_list_begin(r);
	for (size_t i = 0; i < n && i < (size_t)p.limit; i++) {
		jw_obj(&r->w);
		jw_kstr(&r->w, "id", orgs[i].id);
		jw_kstr(&r->w, "name", orgs[i].name);
		jw_kstr(&r->w, "role", role_name(orgs[i].role));
		jw_obj_end(&r->w);
	}
	api_list_end(r, n > (size_t)p.limit);
	return ERR_OK;
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
		write_org(&r->w, &o, ROLE_OWNER);
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
	write_org(&r->w, &o, r->caller.role);
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
