/*
 * audit: GET /v1/org/audit, the organization's audit log, newest first.
 */
#include "orgd/api.h"
#include "orgd/db_audit.h"

err_t api_audit_list(struct req *r)
{
	struct page p;
	struct audit_entry *e;
	size_t n;
	err_t err = api_page(r, &p);
	if (err == ERR_OK)
		err = db_audit_page(r->caller.org_id, p.after, p.limit + 1, &r->arena, &e, &n);
	if (err != ERR_OK)
		return err;
	api_list_begin(r);
	for (size_t i = 0; i < n && i < (size_t)p.limit; i++) {
		jw_obj(&r->w);
		jw_kstr(&r->w, "id", e[i].id);
		jw_kstr(&r->w, "at", e[i].at);
		jw_kstr(&r->w, "actor_user_id", e[i].actor_user_id);
		jw_kstr(&r->w, "action", e[i].action);
		jw_kstr(&r->w, "target", e[i].target);
		jw_kstr(&r->w, "detail", e[i].detail);
		jw_obj_end(&r->w);
	}
	api_list_end(r, n > (size_t)p.limit);
	return ERR_OK;
}
