/*
 * health: GET /v1/health, the stack's liveness and the database's reachability.
 */
#include "orgd/api.h"
#include "orgd/db.h"

err_t api_health(struct req *r)
{
	bool up = db_ping(&r->arena) == ERR_OK;
	r->status = up ? 200 : 503;
	jw_obj(&r->w);
	jw_kstr(&r->w, "status", up ? "ok" : "degraded");
	jw_kstr(&r->w, "db", up ? "ok" : "down");
	jw_obj_end(&r->w);
	return ERR_OK;
}
