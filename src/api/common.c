/*
 * common: what every list endpoint shares: ?limit= and ?after=, and the
 * {"data":[...],"has_more":bool} envelope.
 */
#include <stdlib.h>
#include <string.h>

#include "orgd/api.h"

err_t api_page(struct req *r, struct page *p)
{
	const char *v;
	p->limit = 20;
	p->after = "";
	int rc = http_query(r, "limit", &v);
	if (rc == 1) {
		char *end;
		long n = strtol(v, &end, 10);
		if (!*v || *end || n < 1 || n > 100 || v[0] == '+' || v[0] == ' ')
			rc = -1;
		p->limit = n;
	}
	if (rc < 0) {
		r->err_field = "limit";
		r->err_msg = "limit must be an integer from 1 to 100.";
		return ERR_INVALID;
	}
	rc = http_query(r, "after", &v);
	if (rc < 0 || (rc == 1 && (!*v || strlen(v) > ID_MAX))) {
		r->err_field = "after";
		r->err_msg = "after must be the last id of the previous page.";
		return ERR_INVALID;
	}
	if (rc == 1)
		p->after = v;
	return ERR_OK;
}

void api_list_begin(struct req *r)
{
	jw_obj(&r->w);
	jw_key(&r->w, "data");
	jw_arr(&r->w);
}

void api_list_end(struct req *r, bool has_more)
{
	jw_arr_end(&r->w);
	jw_kbool(&r->w, "has_more", has_more);
	jw_obj_end(&r->w);
}
