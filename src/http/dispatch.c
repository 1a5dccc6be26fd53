/*
 * dispatch: runs one request through the route table: route (404/405),
 * authenticate (401), authorize (403), read the body (413/415), find the {id}
 * target (404), authorize on the target (403), decode and validate the query,
 * the body and the Idempotency-Key (400), handler, encode. The one place that
 * writes error bodies and the access log line.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "orgd/http.h"
#include "orgd/id.h"
#include "orgd/log.h"
#include "orgd/metrics.h"
#include "orgd/route.h"
#include "orgd/session.h"

#define STR_(x) #x
#define STR(x)  STR_(x)

static const struct jfield list_fields[] = {
	{"limit", JF_INT, 0, 1, 100, offsetof(struct list_q, limit)},
	{"after", JF_ID, 0, 0, 0, offsetof(struct list_q, after)},
};
/* for lists whose rows are named by something other than our ids (plans, members) */
static const struct jfield list_fields_loose[] = {
	{"limit", JF_INT, 0, 1, 100, offsetof(struct list_q, limit)},
	{"after", JF_STRING, JF_ASCII, 1, 254, offsetof(struct list_q, after)},
};
const struct body_spec list_query = {list_fields, 2, sizeof(struct list_q)};
const struct body_spec list_query_loose = {list_fields_loose, 2, sizeof(struct list_q)};

/* Who is calling, for each kind of route. */
static err_t authenticate(struct req *r, const struct route *rt)
{
	switch (rt->auth) {
	case AUTH_NONE:
		return ERR_OK;
	case AUTH_SESSION:
		return rt->caller_orgs
			       ? session_authenticate_orgs(r->authorization, &r->arena, &r->caller)
			       : session_authenticate(r->authorization, &r->arena, &r->caller);
	case AUTH_VERIFIED: {
		err_t err = session_authenticate(r->authorization, &r->arena, &r->caller);
		if (err == ERR_OK && !r->caller.email_verified) {
			r->err_msg = "Verify your email address first: invitations are for whoever "
				     "proved it (POST /v1/auth/verify-email).";
			err = ERR_FORBIDDEN;
		}
		return err;
	}
	case AUTH_ORG:
		return session_authenticate_org(r->authorization, &r->arena, &r->caller,
						&r->err_msg);
	case AUTH_CRON:
		return session_cron(r->authorization);
	case AUTH__MAX:
		break;
	}
	return ERR_INTERNAL;
}

bool route_match(const char *pattern, const char *path, char id[ID_LEN_MAX + 1], bool *id_ok)
{
	while (*pattern && *path) {
		if (strncmp(pattern, "{id}", 4) == 0) {
			size_t n = strcspn(path, "/");
			if (n == 0)
				return false;
			/* an {id} that does not decode to one of our ids names nothing, and
			   the route answers 404 without asking the database */
			long len = http_unescape(path, n, id, ID_LEN_MAX + 1, false);
			*id_ok = len > 0 && id_valid(id, (size_t)len);
			if (!*id_ok)
				id[0] = '\0'; /* names nothing, not even the caller (ALLOW_SELF) */
			pattern += 4;
			path += n;
			continue;
		}
		if (*pattern++ != *path++)
			return false;
	}
	return *pattern == '\0' && *path == '\0';
}

/* application/json, with optional parameters (charset=utf-8), any case. */
static bool is_json(const char *ct)
{
	if (!ct)
		return false;
	size_t n = strlen("application/json");
	if (strncasecmp(ct, "application/json", n) != 0)
		return false;
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

/* The route for r, or NULL with ERR_NOT_FOUND / ERR_METHOD (and r->allow). */
static const struct route *find_route(struct req *r, bool *id_ok, err_t *err)
{
	const struct route *rt = NULL;
	bool known = false;
	char allow[64] = "";
	for (size_t i = 0; i < nroutes; i++) {
		bool ok = true;
		if (!route_match(routes[i].path, r->path, r->path_id, &ok))
			continue;
		if (!known && !rt)
			*id_ok = ok;
		known = true;
		if (routes[i].method == r->method && !rt) {
			rt = &routes[i];
			*id_ok = ok;
		}
		size_t n = strlen(allow);
		snprintf(allow + n, sizeof allow - n, "%s%s", n ? ", " : "",
			 http_method_name(routes[i].method));
		if (routes[i].method == M_GET) {
			n = strlen(allow);
			snprintf(allow + n, sizeof allow - n, ", HEAD");
		}
	}
	if (rt)
		return rt;
	*err = known ? ERR_METHOD : ERR_NOT_FOUND;
	if (known)
		r->allow = arena_strndup(&r->arena, allow, strlen(allow));
	return NULL;
}

/* The field of spec called name (the decoder names the field at fault). */
static const struct jfield *field_named(const struct body_spec *spec, const char *name)
{
	for (size_t i = 0; name && i < spec->nfields; i++)
		if (strcmp(spec->fields[i].name, name) == 0)
			return &spec->fields[i];
	return NULL;
}

/* What a 400 on field f says: what the field must be. */
static const char *field_message(struct req *r, const struct jfield *f)
{
	if (!f)
		return "This field is not one orgd takes here.";
	const char *m = NULL;
	switch (f->type) {
	case JF_ENUM: {
		struct buf b = {0};
		buf_printf(&b, "%s must be one of:", f->name);
		for (size_t k = 0; f->enums[k]; k++)
			buf_printf(&b, "%s \"%s\"", k ? "," : "", f->enums[k]);
		buf_putc(&b, '.');
		m = b.oom ? NULL : arena_strndup(&r->arena, b.p, b.len);
		buf_free(&b);
		break;
	}
	case JF_EMAIL:
		return "This is not a valid email address.";
	case JF_STRING:
		m = f->max ? arena_printf(&r->arena,
					  "%s must be a string of %lld to %lld characters.",
					  f->name, (long long)f->min, (long long)f->max)
			   : arena_printf(&r->arena, "%s must be a string.", f->name);
		break;
	case JF_INT:
		m = arena_printf(&r->arena, "%s must be an integer from %lld to %lld.", f->name,
				 (long long)f->min, (long long)f->max);
		break;
	case JF_BOOL:
		m = arena_printf(&r->arena, "%s must be true or false.", f->name);
		break;
	case JF_ID:
		m = arena_printf(&r->arena, "%s must be an id (a string).", f->name);
		break;
	default:
		break;
	}
	return m ? m : "This field is missing, of the wrong type or out of range.";
}

/* A decimal in min..max: digits only, an optional '-', no sign or space else. */
static bool parse_int(const char *s, size_t len, int64_t min, int64_t max, int64_t *out)
{
	if (len == 0 || len > 19)
		return false;
	char *end;
	long long n = strtoll(s, &end, 10);
	if (end != s + len || !(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')) || n < min || n > max)
		return false;
	*out = n;
	return true;
}

/* ?limit= and ?after= (and any other parameter of the route's table) into r->q. */
static err_t decode_query(struct req *r, const struct body_spec *spec)
{
	r->q = (struct list_q){.limit = 20};
	for (size_t i = 0; i < spec->nfields; i++) {
		const struct jfield *f = &spec->fields[i];
		const char *v;
		size_t len;
		int rc = http_query(r, f->name, &v, &len);
		err_t err = ERR_OK;
		if (rc == 0)
			continue;
		if (rc < 0)
			err = ERR_INVALID;
		else if (f->type == JF_INT)
			err = parse_int(v, len, f->min, f->max, (int64_t *)((char *)&r->q + f->off))
				      ? ERR_OK
				      : ERR_INVALID;
		else
			err = json_field_text(f, v, len, &r->q, &r->arena);
		if (err == ERR_OK && f->type == JF_ID &&
		    !((struct jstr *)((char *)&r->q + f->off))->len)
			err = ERR_INVALID; /* not one of our ids: it names no row of any list */
		if (err == ERR_INVALID) {
			r->err_field = f->name;
			r->err_msg =
				f->type == JF_INT
					? arena_printf(&r->arena,
						       "%s must be an integer from %lld to %lld.",
						       f->name, (long long)f->min,
						       (long long)f->max)
					: "after must be the last id of the previous page.";
		}
		if (err != ERR_OK)
			return err;
	}
	return ERR_OK;
}

/* The role the body grants (its rt->grant field), if it decodes to one; else ROLE_NONE. */
static enum role granted_role(struct req *r, const char *name)
{
	struct {
		int role;
	} g = {ROLE_NONE};
	const struct jfield f[] = {
		{name, JF_ENUM, 0, ROLE_MEMBER, 0, 0, .enums = role_names + ROLE_MEMBER},
	};
	uint32_t present;
	const char *bad;
	if (json_decode(r->body, r->body_len, f, 1, JSON_ALLOW_UNKNOWN, &g, &present, &r->arena,
			&bad) != ERR_OK)
		return ROLE_NONE; /* the full decode below says what is wrong */
	return (enum role)g.role;
}

/* The Idempotency-Key header: at most one, 1..255 printable ASCII, present if required. */
static err_t check_idempotency_key(struct req *r, enum idem idem)
{
	const char *k = r->idempotency_key;
	bool ok = r->idempotency_keys <= 1;
	if (ok && idem == IDEM_REQUIRED && !k)
		ok = false;
	if (ok && k && idem != IDEM_NONE) {
		size_t n = strlen(k);
		ok = n >= 1 && n <= 255;
		for (size_t i = 0; ok && i < n; i++)
			ok = k[i] >= 0x20 && k[i] <= 0x7e;
	}
	if (ok)
		return ERR_OK;
	r->err_field = "Idempotency-Key";
	r->err_msg =
		r->idempotency_keys > 1
			? "Send one Idempotency-Key header, not several."
			: "An Idempotency-Key header of 1 to 255 printable ASCII characters is "
			  "required.";
	return ERR_INVALID;
}

static err_t run(struct req *r)
{
	bool id_ok = true;
	err_t err = ERR_OK;
	const struct route *rt = find_route(r, &id_ok, &err);
	if (!rt)
		return err;
	r->route = rt;

	if ((err = authenticate(r, rt)) != ERR_OK)
		return err;
	struct authz_target t = {r->path_id, ROLE_NONE, ROLE_NONE};
	if (rt->auth == AUTH_ORG && (err = authz_check(rt->op, &r->caller, &t)) != ERR_OK)
		return err;
	if (rt->view != OP_NONE)
		r->may_view = authz_check(rt->view, &r->caller, NULL) == ERR_OK;

	bool empty_ok = rt->body_optional && r->content_length <= 0;
	if ((rt->body || rt->raw) && !empty_ok) {
		size_t cap = rt->body_cap ? rt->body_cap : BODY_CAP;
		if (r->content_length > (int64_t)cap) /* 413 before 415, without reading */
			return ERR_TOO_LARGE;
		if (!is_json(r->content_type))
			return ERR_MEDIA_TYPE;
		if ((err = http_read_body(r, cap)) != ERR_OK)
			return err;
	}
	if (!id_ok)
		return ERR_NOT_FOUND;
	if (rt->find && (err = rt->find(r)) != ERR_OK)
		return err;
	/* the matrix again, on the target and the role granted: 403 before 400 */
	if (rt->auth == AUTH_ORG && (rt->find || rt->grant)) {
		t.role = r->target_role;
		t.grant = rt->grant && rt->body ? granted_role(r, rt->grant) : ROLE_NONE;
		if ((err = authz_check(rt->op, &r->caller, &t)) != ERR_OK)
			return err;
	}

	if (rt->query && (err = decode_query(r, rt->query)) != ERR_OK)
		return err;
	if (rt->body && empty_ok) { /* no body where every field is optional: all absent */
		r->in = arena_alloc(&r->arena, rt->body->size);
		if (!r->in)
			return ERR_INTERNAL;
	} else if (rt->body) {
		r->in = arena_alloc(&r->arena, rt->body->size);
		if (!r->in)
			return ERR_INTERNAL;
		err = json_decode(r->body, r->body_len, rt->body->fields, rt->body->nfields, 0,
				  r->in, &r->present, &r->arena, &r->err_field);
		if (err == ERR_INVALID && !r->err_msg)
			r->err_msg = r->err_field
					     ? field_message(r, field_named(rt->body, r->err_field))
					     : "The body is not a JSON object orgd accepts: valid "
					       "UTF-8 JSON, no duplicate names or NUL characters, "
					       "nesting at most " STR(
						       JSON_MAX_DEPTH) " deep, "
								       "integers within 64 bits.";
		if (err != ERR_OK)
			return err;
	}
	if ((err = check_idempotency_key(r, rt->idem)) != ERR_OK)
		return err;
	return rt->fn(r);
}

void dispatch(struct req *r)
{
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	err_t err = run(r);
	if (err == ERR_OK && (r->out.oom || r->arena.oom))
		err = ERR_INTERNAL;
	if (err != ERR_OK) {
		buf_clear(&r->out);
		jw_init(&r->w, &r->out);
		r->status = err_status(err);
		err_write(&r->w, err, r->err_msg, r->err_field);
	}
	http_respond(r);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long us = (t1.tv_sec - t0.tv_sec) * 1000000L + (t1.tv_nsec - t0.tv_nsec) / 1000;
	metrics_request(r->route ? (size_t)(r->route - routes) : METRICS_ROUTES - 1, r->status, us);
	/* the path is the route's pattern: ids, emails or tokens never reach the log */
	log_info("method=%s route=%s status=%d us=%ld%s%s", http_method_name(r->method),
		 r->route ? r->route->path : "-", r->status, us, err ? " error=" : "",
		 err ? err_code(err) : "");
}
