/*
 * billing: the credit ledger (GET /v1/org/billing/ledger), newest first.
 */
#include "orgd/api.h"
#include "orgd/db_usage.h"

err_t api_ledger_list(struct req *r)
{
	struct page p;
	struct ledger_entry *e;
	size_t n;
	err_t err = api_page(r, &p);
	if (err == ERR_OK)
		err = db_ledger_page(r->caller.org_id, p.after, p.limit + 1, &r->arena, &e, &n);
	if (err != ERR_OK)
		return err;
	api_list_begin(r);
	for (size_t i = 0; i < n && i < (size_t)p.limit; i++) {
		jw_obj(&r->w);
		jw_kstr(&r->w, "id", e[i].id);
		jw_kstr(&r->w, "at", e[i].at);
		jw_kint(&r->w, "delta", e[i].delta);
		jw_kint(&r->w, "balance_after", e[i].balance_after);
		jw_kstr(&r->w, "reason", e[i].reason);
		jw_kstr(&r->w, "ref", e[i].ref);
		jw_obj_end(&r->w);
	}
	api_list_end(r, n > (size_t)p.limit);
	return ERR_OK;
}
