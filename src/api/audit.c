/*
 * audit: GET /v1/org/audit, the organization's audit log, newest first.
 */
#include "orgd/api.h"
#include "orgd/db_audit.h"

static void write_entry(struct jw *w, const void *item)
{
	const struct audit_entry *e = item;
	jw_obj(w);
	jw_kstr(w, "id", e->id);
	jw_kstr(w, "at", e->at);
	jw_kstr(w, "actor_user_id", e->actor_user_id);
	jw_kstr(w, "action", e->action);
	jw_kstr(w, "target", e->target);
	jw_kstr(w, "detail", e->detail);
	jw_obj_end(w);
}

err_t api_audit_list(struct req *r)
{
	return api_list(r, LIST_AUDIT, r->caller.org_id, write_entry);
}
