/*
 * common: what handlers share: ?limit= and ?after= with the
 * {"data":[...],"has_more":bool} envelope; the metering period; the one
 * Idempotency-Key mechanism of every endpoint that takes the header; and
 * email addresses as orgd stores them.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "orgd/api.h"
#include "orgd/config.h"
#include "orgd/db.h"
#include "orgd/db_idem.h"
#include "orgd/db_org.h"
#include "orgd/digest.h"
#include "orgd/route.h"

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

void api_period(char out[8])
{
	time_t t = (time_t)clock_now();
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 8, "%Y-%m", &tm);
}

/* 1..255 printable ASCII characters. */
static bool idem_key_valid(const char *k)
{
	size_t n = strlen(k);
	if (n < 1 || n > 255)
		return false;
	for (size_t i = 0; i < n; i++)
		if (k[i] < 0x20 || k[i] > 0x7e)
			return false;
	return true;
}

struct idem_call {
	struct req *r;
	err_t (*effect)(struct req *r);
	unsigned char hash[DIGEST_LEN];
};

/* Is e an answer to store and replay (the request's fault), rather than a passing failure? */
static bool is_client_error(err_t e)
{
	int status = err_status(e);
	return status >= 400 && status < 500;
}

static err_t idem_tx(void *arg)
{
	struct idem_call *c = arg;
	struct req *r = c->r;
	const char *key = r->idempotency_key;
	/* a retried transaction starts from a clean answer */
	buf_clear(&r->out);
	jw_init(&r->w, &r->out);
	r->status = 200;
	r->err_field = r->err_msg = NULL;
	err_t err;
	if (key) {
		struct idem_answer ans;
		err = db_org_lock(r->caller.org_id, &r->arena);
		if (err == ERR_OK)
			err = db_idem_claim(r->caller.org_id, key, c->hash, clock_now(), &r->arena,
					    &ans);
		if (err == ERR_CONFLICT) {
			r->err_field = "Idempotency-Key";
			r->err_msg = "This Idempotency-Key was used with another request.";
		}
		if (err != ERR_OK)
			return err;
		if (ans.status) {
			r->status = ans.status;
			buf_put(&r->out, ans.body, ans.len);
			return ERR_OK;
		}
	}
	err = c->effect(r);
	if (err != ERR_OK && !(key && is_client_error(err)))
		return err;
	if (err != ERR_OK)
		dispatch_error(r, err);
	if (key && (r->out.oom || (err = db_idem_store(r->caller.org_id, key, r->status,
						       r->out.p ? r->out.p : "", r->out.len))))
		return r->out.oom ? ERR_INTERNAL : err;
	return ERR_OK;
}

err_t api_idempotent(struct req *r, err_t (*effect)(struct req *r), bool required)
{
	const char *key = r->idempotency_key;
	if ((!key && required) || (key && !idem_key_valid(key))) {
		r->err_field = "Idempotency-Key";
		r->err_msg = "An Idempotency-Key header of 1 to 255 printable ASCII characters is "
			     "required.";
		return ERR_INVALID;
	}
	struct idem_call c = {.r = r, .effect = effect};
	if (key) {
		unsigned char method = (unsigned char)r->method;
		const void *parts[] = {&method, r->path, r->body ? r->body : ""};
		size_t lens[] = {1, strlen(r->path) + 1, r->body_len};
		digest_sha256(parts, lens, 3, c.hash);
	}
	return db_tx(idem_tx, &c);
}

/*
 * The email as stored: surrounding white space trimmed, ASCII lower-cased.
 * NULL unless it looks like an address: one '@', a local part of 1..64 bytes,
 * a dotted domain of letters, digits and '-', no white space or controls.
 */
char *api_email_normalise(struct req *r, const struct jstr *in)
{
	const char *s = in->s, *e = in->s + in->len;
	while (s < e && isspace((unsigned char)*s))
		s++;
	while (e > s && isspace((unsigned char)e[-1]))
		e--;
	char *out = arena_strndup(&r->arena, s, (size_t)(e - s));
	if (!out)
		return NULL;
	size_t n = (size_t)(e - s), at = 0, ats = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)out[i];
		out[i] = (char)tolower(c);
		if (c <= ' ' || c == 0x7f || c == '"' || c == '(' || c == ')' || c == ',' ||
		    c == ':' || c == ';' || c == '<' || c == '>' || c == '[' || c == ']' ||
		    c == '\\')
			return NULL;
		if (c == '@') {
			ats++;
			at = i;
		}
	}
	if (ats != 1 || at == 0 || at > 64 || n > 254)
		return NULL;
	const char *dom = out + at + 1;
	size_t dlen = n - at - 1;
	if (dlen < 3 || !strchr(dom, '.') || dom[0] == '.' || dom[dlen - 1] == '.' ||
	    strstr(dom, ".."))
		return NULL;
	for (size_t i = 0; i < dlen; i++)
		if (!isalnum((unsigned char)dom[i]) && dom[i] != '.' && dom[i] != '-' &&
		    !((unsigned char)dom[i] & 0x80))
			return NULL;
	return out;
}
