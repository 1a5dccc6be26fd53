/*
 * test_tables: the tables the gate answers from, against API.md "Conventions":
 * the error table (status, code, body) and the reason phrases; route_match()
 * and the route table itself; http_unescape(); json_email_normalise(); and
 * json_field_text() on each string kind.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orgd/error.h"
#include "orgd/http.h"
#include "orgd/id.h"
#include "orgd/json.h"
#include "orgd/route.h"
#include "t.h"

static struct arena a;

/* --- (a) the error table ----------------------------------------------------------- */

static const struct {
	err_t e;
	int status;
	const char *code;
	const char *reason;
} errs[] = {
	{ERR_OK, 200, "", "OK"},
	{ERR_INVALID, 400, "invalid_request", "Bad Request"},
	{ERR_UNAUTHENTICATED, 401, "unauthenticated", "Unauthorized"},
	{ERR_INSUFFICIENT_CREDITS, 402, "insufficient_credits", "Payment Required"},
	{ERR_PAYMENT_FAILED, 402, "payment_failed", "Payment Required"},
	{ERR_FORBIDDEN, 403, "forbidden", "Forbidden"},
	{ERR_NOT_FOUND, 404, "not_found", "Not Found"},
	{ERR_METHOD, 405, "method_not_allowed", "Method Not Allowed"},
	{ERR_CONFLICT, 409, "conflict", "Conflict"},
	{ERR_TOO_LARGE, 413, "payload_too_large", NULL /* Payload or Content Too Large */},
	{ERR_MEDIA_TYPE, 415, "unsupported_media_type", "Unsupported Media Type"},
	{ERR_RATE_LIMITED, 429, "rate_limited", "Too Many Requests"},
	{ERR_INTERNAL, 500, "internal", "Internal Server Error"},
	{ERR_PROVIDER, 502, "payment_provider_error", "Bad Gateway"},
	{ERR_UNAVAILABLE, 503, "unavailable", "Service Unavailable"},
	{ERR_RETRY, 503, "unavailable", "Service Unavailable"},
};
#define NERRS (sizeof errs / sizeof errs[0])

static int reason_ok(int status, const char *want)
{
	const char *got = status_reason(status);
	if (!got)
		return 0;
	if (want)
		return strcmp(got, want) == 0;
	/* 413: RFC 7231's name or RFC 9110's */
	return strcmp(got, "Payload Too Large") == 0 || strcmp(got, "Content Too Large") == 0;
}

TEST(every_err_has_api_md_status_and_code)
{
	CHECK(NERRS == ERR__MAX); /* a new err_t needs a row here */
	int seen[ERR__MAX] = {0};
	for (size_t i = 0; i < NERRS; i++) {
		err_t e = errs[i].e;
		CHECK((unsigned)e < ERR__MAX);
		if ((unsigned)e >= ERR__MAX)
			continue;
		seen[e]++;
		if (err_status(e) != errs[i].status || strcmp(err_code(e), errs[i].code) != 0)
			printf("  err %d: status %d code %s, want %d %s\n", (int)e, err_status(e),
			       err_code(e), errs[i].status, errs[i].code);
		CHECK(err_status(e) == errs[i].status);
		CHECK_EQ_STR(err_code(e), errs[i].code);
		const char *msg = err_message(e);
		CHECK(msg != NULL);
		if (e != ERR_OK)
			CHECK(msg && msg[0] != '\0');
	}
	for (int e = 0; e < ERR__MAX; e++)
		CHECK(seen[e] == 1);
}

TEST(err_is_client_is_exactly_the_4xx)
{
	for (size_t i = 0; i < NERRS; i++) {
		int want = errs[i].status >= 400 && errs[i].status < 500;
		CHECK(err_is_client(errs[i].e) == want);
	}
	CHECK(!err_is_client(ERR_OK));
	CHECK(!err_is_client(ERR_RETRY));
	CHECK(!err_is_client(ERR_INTERNAL));
	CHECK(!err_is_client(ERR_PROVIDER));
	CHECK(err_is_client(ERR_INSUFFICIENT_CREDITS) && err_is_client(ERR_PAYMENT_FAILED));
}

TEST(out_of_range_err_is_internal)
{
	CHECK(err_status(ERR__MAX) == 500);
	CHECK_EQ_STR(err_code(ERR__MAX), "internal");
	CHECK(!err_is_client(ERR__MAX));
	CHECK(err_message(ERR__MAX) && err_message(ERR__MAX)[0]);
	CHECK(err_status((err_t)(ERR__MAX + 5)) == 500);
	CHECK_EQ_STR(err_code((err_t)(ERR__MAX + 5)), "internal");
}

static struct buf eb;

static const char *body_of(err_t e, const char *msg, const char *field)
{
	buf_clear(&eb);
	struct jw w;
	jw_init(&w, &eb);
	err_write(&w, e, msg, field);
	buf_putc(&eb, '\0');
	return eb.oom ? "" : eb.p;
}

TEST(err_write_renders_api_md_error_body)
{
	char want[512];
	snprintf(want, sizeof want, "{\"error\":{\"code\":\"not_found\",\"message\":\"%s\"}}",
		 err_message(ERR_NOT_FOUND));
	CHECK_EQ_STR(body_of(ERR_NOT_FOUND, NULL, NULL), want);
	CHECK(!strstr(body_of(ERR_NOT_FOUND, NULL, NULL), "field"));

	CHECK_EQ_STR(
		body_of(ERR_INVALID, "limit must be 1..100.", "limit"),
		"{\"error\":{\"code\":\"invalid_request\",\"message\":\"limit must be 1..100.\","
		"\"field\":\"limit\"}}");
	/* the message and the field are JSON-escaped */
	CHECK_EQ_STR(
		body_of(ERR_INVALID, "a \"quoted\"\n\\ msg", "Idempotency-Key"),
		"{\"error\":{\"code\":\"invalid_request\",\"message\":\"a \\\"quoted\\\"\\n\\\\ "
		"msg\",\"field\":\"Idempotency-Key\"}}");
	CHECK_EQ_STR(body_of(ERR_RETRY, "busy", NULL),
		     "{\"error\":{\"code\":\"unavailable\",\"message\":\"busy\"}}");
	/* every error renders its own code */
	for (size_t i = 1; i < NERRS; i++) {
		char w2[256];
		snprintf(w2, sizeof w2,
			 "{\"error\":{\"code\":\"%s\",\"message\":\"m\",\"field\":\"f\"}}",
			 errs[i].code);
		CHECK_EQ_STR(body_of(errs[i].e, "m", "f"), w2);
	}
}

TEST(status_reason_for_every_status_sent)
{
	static const struct {
		int status;
		const char *reason;
	} sent[] = {
		{200, "OK"},
		{201, "Created"},
		{202, "Accepted"},
		{204, "No Content"},
		{400, "Bad Request"},
		{401, "Unauthorized"},
		{402, "Payment Required"},
		{403, "Forbidden"},
		{404, "Not Found"},
		{405, "Method Not Allowed"},
		{409, "Conflict"},
		{413, NULL},
		{415, "Unsupported Media Type"},
		{429, "Too Many Requests"},
		{500, "Internal Server Error"},
		{502, "Bad Gateway"},
		{503, "Service Unavailable"},
	};
	for (size_t i = 0; i < sizeof sent / sizeof sent[0]; i++) {
		if (!reason_ok(sent[i].status, sent[i].reason))
			printf("  %d: %s\n", sent[i].status, status_reason(sent[i].status));
		CHECK(reason_ok(sent[i].status, sent[i].reason));
	}
	/* and the status of every error has its phrase */
	for (size_t i = 0; i < NERRS; i++)
		CHECK(reason_ok(err_status(errs[i].e), errs[i].reason));
}

/* --- (b) route matching and the route table ---------------------------------------- */

#define PRJ "prj_abcdefghijklmnopqrst" /* "prj_" + 20 of [a-z2-7] */

static char id[ID_LEN_MAX + 1];
static bool id_ok;

/* route_match with id and id_ok reset to junk first; returns the match */
static bool match(const char *pattern, const char *path)
{
	memset(id, 'X', sizeof id - 1);
	id[sizeof id - 1] = '\0';
	id_ok = true;
	return route_match(pattern, path, id, &id_ok);
}

/* matched, but the {id} names nothing: id_ok false, id "" */
static bool names_nothing(const char *pattern, const char *path)
{
	id_ok = true;
	bool m = match(pattern, path);
	return m && !id_ok && id[0] == '\0';
}

TEST(route_match_literal_paths)
{
	CHECK(match("/v1/health", "/v1/health"));
	CHECK(match("/v1/org", "/v1/org"));
	CHECK(!match("/v1/health", "/v1/health/"));
	CHECK(!match("/v1/health", "/v1/healthz"));
	CHECK(!match("/v1/health", "/v1/healt"));
	CHECK(!match("/v1/health", "/v1/Health"));
	CHECK(!match("/v1/health", "/v1//health"));
	CHECK(!match("/v1/health", "//v1/health"));
	CHECK(!match("/v1/health", "/v1/health%2F"));
	CHECK(!match("/v1/health", "/v1/%68ealth")); /* literal segments are not decoded */
	CHECK(!match("/v1/health", ""));
	CHECK(!match("/v1/org", "/v1/org/"));
	CHECK(!match("/v1/org", "/v1/orgs"));
	CHECK(!match("/v1/org/projects", "/v1/org"));
}

TEST(route_match_id_segments)
{
	CHECK(match("/v1/org/projects/{id}", "/v1/org/projects/" PRJ));
	CHECK(id_ok && strcmp(id, PRJ) == 0);
	CHECK(match("/v1/org/members/{id}", "/v1/org/members/usr_2345672345672345672a"));
	CHECK(id_ok && strcmp(id, "usr_2345672345672345672a") == 0);
	/* percent-decoded */
	CHECK(match("/v1/org/projects/{id}", "/v1/org/projects/prj%5Fabcdefghijklmnopqrst"));
	CHECK(id_ok && strcmp(id, PRJ) == 0);
	CHECK(match("/v1/org/projects/{id}", "/v1/org/projects/%70%72%6a_abcdefghijklmnopqrst"));
	CHECK(id_ok && strcmp(id, PRJ) == 0);
	/* {id} in the middle of a path */
	CHECK(match("/v1/invitations/{id}/accept",
		    "/v1/invitations/inv_abcdefghijklmnopqrst/accept"));
	CHECK(id_ok && strcmp(id, "inv_abcdefghijklmnopqrst") == 0);
	CHECK(!match("/v1/invitations/{id}/accept",
		     "/v1/invitations/inv_abcdefghijklmnopqrst/decline"));
	CHECK(!match("/v1/invitations/{id}/accept", "/v1/invitations/inv_abcdefghijklmnopqrst"));
	/* the longest id (ID_LEN_MAX) is an id */
	CHECK(match("/v1/org/projects/{id}", "/v1/org/projects/prj_abcdefghijklmnopqrstuvwxyz23"));
	CHECK(id_ok && strlen(id) == ID_LEN_MAX);
}

TEST(route_match_ids_that_name_nothing)
{
	const char *p = "/v1/org/projects/{id}";
	/* "%2F" or ".." inside the id: one segment, decoded, not an id */
	CHECK(names_nothing(p, "/v1/org/projects/prj_abcdefghij%2Fklmnopqrst"));
	CHECK(names_nothing(p, "/v1/org/projects/..%2Fmembers"));
	CHECK(names_nothing(p, "/v1/org/projects/%2F"));
	CHECK(names_nothing(p, "/v1/org/projects/.."));
	CHECK(names_nothing(p, "/v1/org/projects/%2E%2E"));
	CHECK(names_nothing(p, "/v1/org/projects/prj_abcdefghij..klmnopqr"));
	CHECK(names_nothing(p, "/v1/org/projects/."));
	/* too long: "prj_" + 40 */
	CHECK(names_nothing(p, "/v1/org/projects/prj_abcdefghijklmnopqrstabcdefghijklmnopqrst"));
	CHECK(names_nothing(p, "/v1/org/projects/prj_abcdefghijklmnopqrstuvwxyz234"));
	/* non-ASCII, a space, controls, NUL, bad escapes */
	CHECK(names_nothing(p, "/v1/org/projects/prj_%C3%A9"));
	CHECK(names_nothing(p, "/v1/org/projects/prj_abcdefghijklmnopqrs%C3%A9"));
	CHECK(names_nothing(p, "/v1/org/projects/prj_\xc3\xa9"));
	CHECK(names_nothing(p, "/v1/org/projects/prj_%20abcdefghijklmnopqrs"));
	CHECK(names_nothing(p, "/v1/org/projects/prj_abcdefghijklmnopqrst%20"));
	CHECK(names_nothing(p, "/v1/org/projects/prj_abcdefghijklmnopqrst+"));
	CHECK(names_nothing(p, "/v1/org/projects/prj_abcdefghijklmnopqrst%00"));
	CHECK(names_nothing(p, "/v1/org/projects/prj_abcdefghijklmnopqrst%0a"));
	CHECK(names_nothing(p, "/v1/org/projects/prj_%zz"));
	CHECK(names_nothing(p, "/v1/org/projects/prj_abc%"));
	CHECK(names_nothing(p, "/v1/org/projects/prj_abc%4"));
	/* other shapes: upper case, no prefix, no body, digits outside base32 */
	CHECK(names_nothing(p, "/v1/org/projects/PRJ_ABCDEFGHIJKLMNOPQRST"));
	CHECK(names_nothing(p, "/v1/org/projects/_abcdefghijklmnopqrst"));
	CHECK(names_nothing(p, "/v1/org/projects/prj_"));
	CHECK(names_nothing(p, "/v1/org/projects/prj"));
	CHECK(names_nothing(p, "/v1/org/projects/prj_0189"));
	CHECK(names_nothing(p, "/v1/org/projects/prj-abcdefghijklmnopqrst"));
	CHECK(names_nothing(p, "/v1/org/projects/' OR 1=1 --"));
	CHECK(names_nothing(p, "/v1/org/projects/%27%20OR%201%3D1"));
}

TEST(route_match_refuses_empty_segment_and_trailing_slash)
{
	const char *p = "/v1/org/projects/{id}";
	CHECK(!match(p, "/v1/org/projects/"));
	CHECK(!match(p, "/v1/org/projects//"));
	CHECK(!match(p, "/v1/org/projects//" PRJ));
	CHECK(!match(p, "/v1/org/projects"));
	CHECK(!match(p, "/v1/org/projects/" PRJ "/"));
	CHECK(!match(p, "/v1/org/projects/" PRJ "/x"));
	CHECK(!match(p, "/v1/org/projects/" PRJ "/.."));
	CHECK(!match(p, "/v1/org/projectsx/" PRJ));
	CHECK(!match(p, "/v1/org/environments/" PRJ));
	/* an empty {id} in the middle of a path */
	CHECK(!match("/v1/invitations/{id}/accept", "/v1/invitations//accept"));
	CHECK(!match("/v1/invitations/{id}/accept", "/v1/invitations/accept"));
}

/* the rows of routes[] of method m and path */
static const struct route *route_of(enum method m, const char *path)
{
	for (size_t i = 0; i < nroutes; i++)
		if (routes[i].method == m && strcmp(routes[i].path, path) == 0)
			return &routes[i];
	return NULL;
}

TEST(every_route_row_is_well_formed)
{
	CHECK(nroutes > 0);
	for (size_t i = 0; i < nroutes; i++) {
		const struct route *rt = &routes[i];
		int bad = 0;
		/* the API under /v1/, and Prometheus's scrape at /metrics (issue 14) */
		if (!rt->fn || !rt->path ||
		    (strncmp(rt->path, "/v1/", 4) != 0 && strcmp(rt->path, "/metrics") != 0) ||
		    (unsigned)rt->method >= M__MAX || (unsigned)rt->auth >= AUTH__MAX ||
		    (unsigned)rt->op >= OP__MAX || (unsigned)rt->view >= OP__MAX)
			bad = 1;
		if (rt->auth == AUTH_ORG && rt->op == OP_NONE)
			bad = 1;
		if (rt->auth != AUTH_ORG && rt->op != OP_NONE)
			bad = 1; /* an op the gate would never check */
		/* everything under /v1/org acts on the active organization (403 without) */
		bool under_org = rt->path && (strcmp(rt->path, "/v1/org") == 0 ||
					      strncmp(rt->path, "/v1/org/", 8) == 0);
		if (under_org != (rt->auth == AUTH_ORG))
			bad = 1;
		/* the only placeholder route_match knows is a whole {id} segment */
		for (const char *b = rt->path ? strchr(rt->path, '{') : NULL; b;
		     b = strchr(b + 1, '{'))
			if (strncmp(b, "{id}", 4) != 0 || b[-1] != '/' ||
			    (b[4] != '\0' && b[4] != '/'))
				bad = 1;
		if (rt->path && (strstr(rt->path, "//") || rt->path[strlen(rt->path) - 1] == '/'))
			bad = 1;
		if (bad)
			printf("  row %zu: %s %s\n", i, http_method_name(rt->method),
			       rt->path ? rt->path : "(null)");
		CHECK(!bad);
	}
}

TEST(no_two_routes_share_method_and_path)
{
	for (size_t i = 0; i < nroutes; i++)
		for (size_t j = i + 1; j < nroutes; j++) {
			bool dup = routes[i].method == routes[j].method &&
				   strcmp(routes[i].path, routes[j].path) == 0;
			if (dup)
				printf("  rows %zu and %zu: %s %s\n", i, j,
				       http_method_name(routes[i].method), routes[i].path);
			CHECK(!dup);
		}
}

TEST(every_list_takes_limit_and_after)
{
	/* API.md: every list takes ?limit= and ?after= */
	static const char *const lists[] = {
		"/v1/orgs",         "/v1/org/members",
		"/v1/org/projects", "/v1/org/environments",
		"/v1/org/audit",    "/v1/org/billing/ledger",
		"/v1/plans",
	};
	for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
		const struct route *rt = route_of(M_GET, lists[i]);
		if (!rt || !rt->query)
			printf("  GET %s: %s\n", lists[i], rt ? "no query" : "no row");
		CHECK(rt && rt->query);
		if (!rt || !rt->query)
			continue;
		bool limit = false, after = false;
		for (size_t k = 0; k < rt->query->nfields; k++) {
			limit |= strcmp(rt->query->fields[k].name, "limit") == 0;
			after |= strcmp(rt->query->fields[k].name, "after") == 0;
		}
		CHECK(limit && after);
	}
	/* these, once they exist, are lists too */
	static const char *const later[] = {"/v1/org/billing/purchases", "/v1/invitations"};
	for (size_t i = 0; i < 2; i++) {
		const struct route *rt = route_of(M_GET, later[i]);
		CHECK(!rt || rt->query);
	}
	/* the list query's limit is 1..100 */
	for (size_t k = 0; k < list_query.nfields; k++)
		if (strcmp(list_query.fields[k].name, "limit") == 0)
			CHECK(list_query.fields[k].min == 1 && list_query.fields[k].max == 100);
}

TEST(the_table_routes_its_own_paths)
{
	/* each row's path, with {id} filled by an id, is matched by its own row first
	   among those of its method (no row shadows another) */
	for (size_t i = 0; i < nroutes; i++) {
		char path[256];
		const char *p = routes[i].path;
		size_t o = 0;
		while (*p && o + 32 < sizeof path) {
			if (strncmp(p, "{id}", 4) == 0) {
				memcpy(path + o, PRJ, strlen(PRJ));
				o += strlen(PRJ);
				p += 4;
			} else {
				path[o++] = *p++;
			}
		}
		path[o] = '\0';
		size_t first = nroutes;
		for (size_t j = 0; j < nroutes && first == nroutes; j++)
			if (routes[j].method == routes[i].method && match(routes[j].path, path))
				first = j;
		if (first != i)
			printf("  %s %s is routed to row %zu\n", http_method_name(routes[i].method),
			       path, first);
		CHECK(first == i);
	}
}

/* --- (c) http_unescape -------------------------------------------------------------- */

static char out[64];

static long unesc(const char *s, bool plus)
{
	memset(out, 'X', sizeof out);
	return http_unescape(s, strlen(s), out, sizeof out, plus);
}

TEST(http_unescape_decodes_and_refuses)
{
	CHECK(unesc("plain-text_1.2~", false) == 15 && strcmp(out, "plain-text_1.2~") == 0);
	CHECK(unesc("", false) == 0 && out[0] == '\0');
	CHECK(unesc("%41", false) == 1 && strcmp(out, "A") == 0);
	CHECK(unesc("a%41b%4a%4A", false) == 5 && strcmp(out, "aAbJJ") == 0);
	CHECK(unesc("%C3%A9", false) == 2 && strcmp(out, "\xc3\xa9") == 0);
	CHECK(unesc("%25", false) == 1 && strcmp(out, "%") == 0);
	CHECK(unesc("%2541", false) == 3 && strcmp(out, "%41") == 0); /* decoded once */
	/* bad escapes */
	CHECK(unesc("%zz", false) == -1);
	CHECK(unesc("%4z", false) == -1);
	CHECK(unesc("%z4", false) == -1);
	CHECK(unesc("%", false) == -1);
	CHECK(unesc("abc%", false) == -1);
	CHECK(unesc("abc%4", false) == -1);
	CHECK(unesc("%%41", false) == -1);
	CHECK(unesc("% 41", false) == -1);
	/* NUL */
	CHECK(unesc("%00", false) == -1);
	CHECK(unesc("a%00b", false) == -1);
	/* '+' */
	CHECK(unesc("a+b", true) == 3 && strcmp(out, "a b") == 0);
	CHECK(unesc("a+b", false) == 3 && strcmp(out, "a+b") == 0);
	CHECK(unesc("%2B", true) == 1 && strcmp(out, "+") == 0);
	CHECK(unesc("%20", false) == 1 && strcmp(out, " ") == 0);
}

TEST(http_unescape_stays_within_n_and_cap)
{
	char small[4];
	/* "abc" + NUL fits 4; "abcd" does not */
	CHECK(http_unescape("abc", 3, small, sizeof small, false) == 3 &&
	      strcmp(small, "abc") == 0);
	CHECK(http_unescape("abcd", 4, small, sizeof small, false) == -1);
	CHECK(http_unescape("%41%42%43", 9, small, sizeof small, false) == 3);
	CHECK(http_unescape("%41%42%43%44", 12, small, sizeof small, false) == -1);
	CHECK(http_unescape("a", 1, small, 1, false) == -1);
	CHECK(http_unescape("", 0, small, 1, false) == 0 && small[0] == '\0');
	/* only s[0..n) is read: an escape cut by n is truncated */
	CHECK(http_unescape("%41", 2, out, sizeof out, false) == -1);
	CHECK(http_unescape("%41", 1, out, sizeof out, false) == -1);
	CHECK(http_unescape("abc%41", 3, out, sizeof out, false) == 3 && strcmp(out, "abc") == 0);
	/* a heap buffer exactly n long, no NUL after it (ASan sees any over-read) */
	char *h = malloc(3);
	if (h) {
		memcpy(h, "a%4", 3);
		CHECK(http_unescape(h, 3, out, sizeof out, false) == -1);
		memcpy(h, "%41", 3);
		CHECK(http_unescape(h, 3, out, sizeof out, false) == 1 && strcmp(out, "A") == 0);
		free(h);
	}
}

/* --- (d) json_email_normalise ----------------------------------------------------------- */

static const char *norm(const char *s)
{
	return json_email_normalise(s, strlen(s), &a);
}

static char *repeat(char c, size_t n)
{
	char *s = arena_alloc(&a, n + 1);
	if (s)
		memset(s, c, n);
	return s;
}

TEST(email_trims_and_lower_cases)
{
	arena_reset(&a);
	const char *n = norm("  Alice.Smith+Tag@Example.COM \t\r\n");
	CHECK(n && strcmp(n, "alice.smith+tag@example.com") == 0);
	n = norm("bob@example.com");
	CHECK(n && strcmp(n, "bob@example.com") == 0);
	n = norm("O'Brien_9-x@sub-1.example.co.uk");
	CHECK(n && strcmp(n, "o'brien_9-x@sub-1.example.co.uk") == 0);
	/* only ASCII is lower-cased: UTF-8 bytes stay as they are */
	n = norm("A@B\xc3\x9c.DE");
	CHECK(n && strcmp(n, "a@b\xc3\x9c.de") == 0);
	/* the length given is the input: bytes after it are not read */
	n = json_email_normalise("c@d.ef trailing", 6, &a);
	CHECK(n && strcmp(n, "c@d.ef") == 0);
}

TEST(email_refuses_what_is_no_address)
{
	arena_reset(&a);
	static const char *const bad[] = {
		"",
		"   ",
		"alice",
		"alice.example.com", /* no '@' */
		"a@b@example.com",
		"a@@example.com", /* two '@' */
		"@example.com",
		" @example.com", /* empty local part */
		"alice@",
		"alice@ ", /* empty domain */
		"alice@localhost",
		"alice@com", /* a domain without a dot */
		"alice@.example.com",
		"alice@example.com.",
		"alice@.",            /* leading/trailing dot */
		"alice@example..com", /* ".." */
		"al ice@example.com",
		"alice@exa mple.com",
		"alice @example.com", /* spaces */
		"al\tice@example.com",
		"al\x01ice@example.com",
		"alice@exam\x7fple.com",
		"alice@example.com\x01",
		"al\nice@example.com", /* controls */
		"\"alice\"@example.com",
		"al\"ice@example.com", /* quotes */
		"alice@exa\"mple.com",
		"<alice@example.com>",
		"alice@[127.0.0.1]",
		"a,b@example.com",
		"a;b@example.com",
		"a:b@example.com",
		"a\\b@example.com",
		"alice@exa_mple.com",
		"alice@exa!mple.com",
		"alice@exa/mple.com",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const char *n = norm(bad[i]);
		if (n)
			printf("  accepted %s as %s\n", bad[i], n);
		CHECK(n == NULL);
	}
	/* a NUL inside */
	CHECK(json_email_normalise("a\0b@example.com", 15, &a) == NULL);
	CHECK(json_email_normalise("ab@example.com\0", 15, &a) == NULL);
}

TEST(email_length_limits)
{
	arena_reset(&a);
	char buf[400];
	/* a local part of 64 is fine, 65 is not */
	snprintf(buf, sizeof buf, "%s@example.com", repeat('l', 64));
	CHECK(norm(buf) != NULL);
	snprintf(buf, sizeof buf, "%s@example.com", repeat('l', 65));
	CHECK(norm(buf) == NULL);
	/* 254 in all is fine, 255 is not: local + 1 + domain of labels under 64 */
	char d[200];
	snprintf(d, sizeof d, "%s.%s.%s", repeat('d', 61), repeat('e', 61), repeat('f', 61));
	CHECK(strlen(d) == 185); /* "d.e.f.example.com" = 185 + 12 */
	snprintf(buf, sizeof buf, "%s@%s.example.com", repeat('l', 56), d);
	CHECK(strlen(buf) == 254);
	CHECK(norm(buf) != NULL);
	snprintf(buf, sizeof buf, "%s@%s.example.com", repeat('l', 57), d);
	CHECK(strlen(buf) == 255);
	CHECK(norm(buf) == NULL);
	snprintf(buf, sizeof buf, "%s@%s.example.com", repeat('l', 64), repeat('d', 300 - 77));
	CHECK(norm(buf) == NULL);
	/* the limits apply after trimming */
	snprintf(buf, sizeof buf, "   %s@%s.example.com   ", repeat('l', 56), d);
	CHECK(norm(buf) != NULL);
}

TEST(email_local_part_is_a_dot_atom)
{
	/* RFC 5321 Dot-string: no leading, trailing or doubled dot in an unquoted local part */
	arena_reset(&a);
	static const char *const bad[] = {".alice@example.com", "alice.@example.com",
					  "al..ice@example.com", ".@example.com"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const char *n = norm(bad[i]);
		if (n)
			printf("  accepted %s\n", bad[i]);
		CHECK(n == NULL);
	}
	CHECK(norm("a.l.i.c.e@example.com") != NULL);
}

/* --- (e) json_field_text ----------------------------------------------------------------- */

struct q {
	struct jstr s;
	int e;
};

static const char *const colours[] = {"red", "green", "blue", NULL};

static const struct jfield f_id = {"id", JF_ID, 0, 0, 0, offsetof(struct q, s)};
static const struct jfield f_enum = {"colour",        JF_ENUM, 0, 5, 0, offsetof(struct q, e),
				     .enums = colours};
static const struct jfield f_role = {"role",
				     JF_ENUM,
				     0,
				     ROLE_MEMBER,
				     0,
				     offsetof(struct q, e),
				     .enums = role_names + ROLE_MEMBER};
static const struct jfield f_email = {"email", JF_EMAIL, 0, 0, 0, offsetof(struct q, s)};
static const struct jfield f_str = {"name", JF_STRING, 0, 2, 4, offsetof(struct q, s)};
static const struct jfield f_ascii = {"after", JF_STRING, JF_ASCII, 1, 10, offsetof(struct q, s)};

static struct q qv;

static err_t text(const struct jfield *f, const char *s)
{
	arena_reset(&a);
	memset(&qv, 0, sizeof qv);
	qv.e = -1;
	return json_field_text(f, s, strlen(s), &qv, &a);
}

static err_t textn(const struct jfield *f, const char *s, size_t n)
{
	arena_reset(&a);
	memset(&qv, 0, sizeof qv);
	return json_field_text(f, s, n, &qv, &a);
}

TEST(field_text_id)
{
	CHECK(text(&f_id, PRJ) == ERR_OK && qv.s.s && qv.s.len == strlen(PRJ) &&
	      strcmp(qv.s.s, PRJ) == 0);
	CHECK(text(&f_id, "usr_2345672345672345672a") == ERR_OK && qv.s.len == 24);
	/* another shape names nothing: "" of length 0, not an error */
	static const char *const other[] = {
		"PRJ_ABCDEFGHIJKLMNOPQRST",
		"prj",
		"prj_",
		"_abc",
		"prj_0189",
		"prj abc",
		"prj_abcdefghijklmnopqrstabcdefghijklmnopqrst",
		"prj_\xc3\xa9",
		"' OR 1=1 --",
		"",
		"prj_abc/../x",
		"prj_abc%20",
	};
	for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
		err_t e = text(&f_id, other[i]);
		CHECK(e == ERR_OK && qv.s.s && qv.s.len == 0 && qv.s.s[0] == '\0');
	}
	/* invalid UTF-8 or a NUL is refused before the shape */
	CHECK(text(&f_id, "prj_\xff") == ERR_INVALID);
	CHECK(textn(&f_id, "prj_abcdefghijklmnopqrs\0", 24) == ERR_INVALID);
}

TEST(field_text_enum)
{
	CHECK(text(&f_enum, "red") == ERR_OK && qv.e == 5);
	CHECK(text(&f_enum, "green") == ERR_OK && qv.e == 6);
	CHECK(text(&f_enum, "blue") == ERR_OK && qv.e == 7);
	CHECK(text(&f_enum, "Red") == ERR_INVALID);
	CHECK(text(&f_enum, "re") == ERR_INVALID);
	CHECK(text(&f_enum, "redd") == ERR_INVALID);
	CHECK(text(&f_enum, "red ") == ERR_INVALID);
	CHECK(text(&f_enum, "") == ERR_INVALID);
	CHECK(textn(&f_enum, "red\0", 4) == ERR_INVALID);
	/* the roles as the members routes take them */
	CHECK(text(&f_role, "member") == ERR_OK && qv.e == ROLE_MEMBER);
	CHECK(text(&f_role, "admin") == ERR_OK && qv.e == ROLE_ADMIN);
	CHECK(text(&f_role, "owner") == ERR_OK && qv.e == ROLE_OWNER);
	CHECK(text(&f_role, "") == ERR_INVALID); /* role_names[ROLE_NONE] is not offered */
	CHECK(text(&f_role, "Owner") == ERR_INVALID);
	CHECK(text(&f_role, "none") == ERR_INVALID);
}

TEST(field_text_email)
{
	CHECK(text(&f_email, "  Bob@Example.COM ") == ERR_OK && qv.s.s &&
	      strcmp(qv.s.s, "bob@example.com") == 0 && qv.s.len == 15);
	CHECK(text(&f_email, "bob") == ERR_INVALID);
	CHECK(text(&f_email, "") == ERR_INVALID);
	CHECK(text(&f_email, "a@b@example.com") == ERR_INVALID);
	CHECK(text(&f_email, "bob@\xff.com") == ERR_INVALID);
}

TEST(field_text_string_bounds_in_code_points)
{
	CHECK(text(&f_str, "a") == ERR_INVALID);
	CHECK(text(&f_str, "ab") == ERR_OK && qv.s.len == 2 && strcmp(qv.s.s, "ab") == 0);
	CHECK(text(&f_str, "abcd") == ERR_OK);
	CHECK(text(&f_str, "abcde") == ERR_INVALID);
	/* code points, not bytes: 4 of 2 bytes each is 4; 2 of 4 bytes is 2 */
	CHECK(text(&f_str, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9") == ERR_OK && qv.s.len == 8);
	CHECK(text(&f_str, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9") == ERR_INVALID);
	CHECK(text(&f_str, "\xf0\x9f\x98\x80\xf0\x9f\x98\x80") == ERR_OK);
	CHECK(text(&f_str, "\xf0\x9f\x98\x80") == ERR_INVALID); /* one code point, 4 bytes */
	CHECK(text(&f_str, "") == ERR_INVALID);
}

TEST(field_text_ascii_refuses_non_ascii)
{
	CHECK(text(&f_ascii, "free") == ERR_OK && strcmp(qv.s.s, "free") == 0);
	CHECK(text(&f_ascii, "a@b.c ~!") == ERR_OK);
	CHECK(text(&f_ascii, "\xc3\xa9") == ERR_INVALID);
	CHECK(text(&f_ascii, "caf\xc3\xa9") == ERR_INVALID);
	CHECK(text(&f_ascii, "a\tb") == ERR_INVALID);
	CHECK(text(&f_ascii, "a\x7f") == ERR_INVALID);
	CHECK(text(&f_ascii, "a\nb") == ERR_INVALID);
	CHECK(text(&f_ascii, "") == ERR_INVALID);            /* min 1 */
	CHECK(text(&f_ascii, "abcdefghijk") == ERR_INVALID); /* max 10 */
	CHECK(text(&f_ascii, "abcdefghij") == ERR_OK);
}

TEST(field_text_refuses_invalid_utf8)
{
	static const char *const bad[] = {
		"\xff",
		"a\xfe",
		"\xc0\xaf", /* overlong */
		"\xe0\x80\xaf",
		"\xed\xa0\x80",     /* an encoded surrogate */
		"\xf4\x90\x80\x80", /* beyond U+10FFFF */
		"\xe2\x82",
		"\xc3",
		"\x80", /* truncated, lone */
		"ab\xc3\xa9\xa9",
	};
	static const struct jfield *const fs[] = {&f_id, &f_enum, &f_email, &f_str, &f_ascii};
	for (size_t k = 0; k < sizeof fs / sizeof fs[0]; k++)
		for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
			CHECK(text(fs[k], bad[i]) == ERR_INVALID);
	/* a NUL inside, for every kind */
	for (size_t k = 0; k < sizeof fs / sizeof fs[0]; k++)
		CHECK(textn(fs[k], "ab\0c", 4) == ERR_INVALID);
}

int main(void)
{
	RUN(every_err_has_api_md_status_and_code);
	RUN(err_is_client_is_exactly_the_4xx);
	RUN(out_of_range_err_is_internal);
	RUN(err_write_renders_api_md_error_body);
	RUN(status_reason_for_every_status_sent);
	RUN(route_match_literal_paths);
	RUN(route_match_id_segments);
	RUN(route_match_ids_that_name_nothing);
	RUN(route_match_refuses_empty_segment_and_trailing_slash);
	RUN(every_route_row_is_well_formed);
	RUN(no_two_routes_share_method_and_path);
	RUN(every_list_takes_limit_and_after);
	RUN(the_table_routes_its_own_paths);
	RUN(http_unescape_decodes_and_refuses);
	RUN(http_unescape_stays_within_n_and_cap);
	RUN(email_trims_and_lower_cases);
	RUN(email_refuses_what_is_no_address);
	RUN(email_length_limits);
	RUN(email_local_part_is_a_dot_atom);
	RUN(field_text_id);
	RUN(field_text_enum);
	RUN(field_text_email);
	RUN(field_text_string_bounds_in_code_points);
	RUN(field_text_ascii_refuses_non_ascii);
	RUN(field_text_refuses_invalid_utf8);
	buf_free(&eb);
	arena_free(&a);
	T_DONE();
}
