/*
 * dispatch: runs one request through the route table: route (404/405),
 * authenticate (401), authorize (403), read the body (413/415), find the {id}
 * target (404), decode (400), handler, encode. The one place that writes
 * error bodies and the access log line.
 */
#include <stdbool.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "orgd/id.h"
#include "orgd/log.h"
#include "orgd/route.h"
#include "orgd/session.h"

static const char *const method_names[M__MAX + 1] = {
	[M_GET] = "GET",     [M_POST] = "POST",     [M_PUT] = "PUT",
	[M_PATCH] = "PATCH", [M_DELETE] = "DELETE", [M__MAX] = "OTHER",
};

static err_t auth_anyone(struct req *r)
{
	(void)r;
	return ERR_OK;
}

/* How each kind of route learns who is calling. */
static handler_fn const authenticate[AUTH__MAX] = {
	[AUTH_NONE] = auth_anyone,
	[AUTH_SESSION] = session_authenticate,
	[AUTH_ORG] = session_authenticate_org,
};

/*
 * The raw segment s[0..n) percent-decoded into id, if it decodes to one of
 * our ids (id.h): anything else (a '/', a NUL, a space, another shape) names
 * nothing, and the route answers 404 without asking the database.
 */
static bool id_decode(const char *s, size_t n, char id[ID_MAX + 1])
{
	long len = http_unescape(s, n, id, ID_MAX + 1, false);
	return len > 0 && id_valid(id, (size_t)len);
}

/*
 * Does the raw path match pattern? "{id}" matches one non-empty segment,
 * decoded into id; *id_ok says whether it is shaped like an id at all.
 */
static bool path_match(const char *pattern, const char *path, char id[ID_MAX + 1], bool *id_ok)
{
	while (*pattern && *path) {
		if (strncmp(pattern, "{id}", 4) == 0) {
			size_t n = strcspn(path, "/");
			if (n == 0)
				return false;
			*id_ok = id_decode(path, n, id);
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

void dispatch_error(struct req *r, err_t e)
{
	buf_clear(&r->out);
	jw_init(&r->w, &r->out);
	r->status = err_status(e);
	jw_obj(&r->w);
	jw_key(&r->w, "error");
	jw_obj(&r->w);
	jw_kstr(&r->w, "code", err_code(e));
	jw_kstr(&r->w, "message", r->err_msg ? r->err_msg : err_message(e));
	if (r->err_field)
		jw_kstr(&r->w, "field", r->err_field);
	jw_obj_end(&r->w);
	jw_obj_end(&r->w);
}

static err_t run(struct req *r)
{
	const struct route *rt = NULL;
	bool path_known = false, id_ok = true;
	for (size_t i = 0; i < nroutes && !rt; i++) {
		if (!path_match(routes[i].path, r->path, r->path_id, &id_ok))
			continue;
		path_known = true;
		if (routes[i].method == r->method)
			rt = &routes[i];
	}
	if (!rt)
		return path_known ? ERR_METHOD : ERR_NOT_FOUND;
	r->route = rt;

	err_t err = authenticate[rt->auth](r);
	if (err != ERR_OK)
		return err;
	if (rt->auth == AUTH_ORG && (err = authz_check(rt->op, &r->caller, r->path_id)) != ERR_OK)
		return err;

	if (rt->body) {
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
	if (rt->body) {
		r->in = arena_alloc(&r->arena, rt->body->size);
		if (!r->in)
			return ERR_INTERNAL;
		err = json_decode(r->body, r->body_len, rt->body->fields, rt->body->nfields, 0,
				  r->in, &r->present, &r->arena, &r->err_field);
		if (err != ERR_OK) {
			if (err == ERR_INVALID && !r->err_msg)
				r->err_msg =
					r->err_field
						? "This field is missing, of the wrong type "
						  "or out of range."
						: "The body is not a JSON object orgd accepts: "
						  "valid UTF-8 JSON, "
						  "no duplicate names or NUL characters, nesting "
						  "at most 16 deep, integers within 64 bits.";
			return err;
		}
	}
	return rt->fn(r);
}

void dispatch(struct req *r)
{
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	err_t err = run(r);
	if (err == ERR_OK && (r->out.oom || r->arena.oom))
		err = ERR_INTERNAL;
	if (err != ERR_OK)
		dispatch_error(r, err);
	http_respond(r);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long us = (t1.tv_sec - t0.tv_sec) * 1000000L + (t1.tv_nsec - t0.tv_nsec) / 1000;
	/* the path is the route's pattern: ids, emails or tokens never reach the log */
	log_info("method=%s route=%s status=%d us=%ld%s%s", method_names[r->method],
		 r->route ? r->route->path : "-", r->status, us, err ? " error=" : "",
		 err ? err_code(err) : "");
}
