/*
 * common: what handlers share: the {"data":[...],"has_more":bool} lists;
 * the Idempotency-Key step of the keyed writes (the mechanism itself is the
 * db layer's, db_idem.h); the metering period.
 */
#include <string.h>

#include "orgd/api.h"
#include "orgd/clock.h"
#include "orgd/db_idem.h"
#include "orgd/digest.h"

err_t api_list(struct req *r, enum db_list which, const char *owner, api_item_fn write)
{
	struct db_page page;
	const char *after = r->q.after.s ? r->q.after.s : "";
	err_t err = db_list_page(which, owner, after, r->q.limit + 1, &r->arena, &page);
	if (err == ERR_NOT_FOUND) {
		r->err_field = "after";
		r->err_msg = "after names no row of this list (the last id of the previous page).";
		return ERR_INVALID;
	}
	if (err != ERR_OK)
		return err;
	size_t shown = page.n > (size_t)r->q.limit ? (size_t)r->q.limit : page.n;
	jw_obj(&r->w);
	jw_key(&r->w, "data");
	jw_arr(&r->w);
	for (size_t i = 0; i < shown; i++)
		write(&r->w, page.items + i * page.size);
	jw_arr_end(&r->w);
	jw_kbool(&r->w, "has_more", page.n > shown);
	jw_obj_end(&r->w);
	return ERR_OK;
}

void api_answer_reset(struct req *r)
{
	buf_clear(&r->out);
	jw_init(&r->w, &r->out);
	r->err_field = r->err_msg = NULL;
}

void api_idem_init(struct req *r, struct db_idem *idem, int (*render)(void *ctx, err_t outcome),
		   void *ctx)
{
	*idem = (struct db_idem){
		.key = r->idempotency_key, .render = render, .ctx = ctx, .out = &r->out};
	if (idem->key) { /* the request: its method, path and exact body */
		unsigned char method = (unsigned char)r->method;
		const void *parts[] = {&method, r->path, r->body ? r->body : ""};
		size_t lens[] = {1, strlen(r->path) + 1, r->body_len};
		digest_sha256(parts, lens, 3, idem->hash);
	}
}

err_t api_idem_finish(struct req *r, struct db_idem *idem, err_t err)
{
	if (idem->key) { /* the answer, fresh or replayed, was rendered and stored */
		if (err == ERR_OK)
			r->status = idem->status;
		if (err == ERR_CONFLICT) {
			r->err_field = "Idempotency-Key";
			r->err_msg = "This Idempotency-Key was used with another request.";
		}
		return err;
	}
	if (err != ERR_OK && !err_is_client(err))
		return err;
	r->status = idem->render(idem->ctx, err);
	return r->out.oom ? ERR_INTERNAL : ERR_OK;
}

int api_render_error(struct req *r, err_t e, const char *msg, const char *field)
{
	api_answer_reset(r);
	err_write(&r->w, e, msg, field);
	return err_status(e);
}

void api_period(char out[8])
{
	clock_period(clock_now(), out);
}
