/*
 * fuzz_query: libFuzzer target for the query string: http_unescape(),
 * http_query() and the dispatcher's decode_query() (static in
 * src/http/dispatch.c, which this file includes: the Makefile links this
 * target without its own copy of dispatch.c), with ?limit= and ?after= of
 * both list tables (after an id, or for members any 1..254 printable ASCII).
 *
 * The input: a parameter name, a NUL, then the query string (cut at a next
 * NUL: a query comes as a C string); without a NUL all of it is the query and
 * the name is "limit". http_unescape() also gets all the raw bytes, NULs and
 * all, with and without '+' as a space and three output sizes (exactly the
 * room needed, one byte less, and 4 bytes), each an allocation of exactly
 * that size so that a write past it is caught.
 *
 * Each answer must equal a reference's (tests/fuzz/fuzz_ref.h): the decoded
 * bytes, -1 for a bad escape, a NUL or too little room; http_query()'s value,
 * absence, or -1 when malformed or given twice; decode_query()'s verdict, the
 * field it names and the decoded limit and after. Nothing may crash, leak or
 * hang.
 */
#include "../../src/http/dispatch.c"

#include "fuzz_ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct req r;

static void check_unescape(const char *s, size_t n, bool plus)
{
	char *want = malloc(n + 1);
	if (!want)
		abort();
	long ref = ref_unescape(s, n, want, plus);
	size_t caps[3] = {ref >= 0 ? (size_t)ref + 1 : n + 1, ref > 0 ? (size_t)ref : 1, 4};
	for (int k = 0; k < 3; k++) {
		char *out = malloc(caps[k]);
		if (!out)
			abort();
		long got = http_unescape(s, n, out, caps[k], plus);
		long exp = ref >= 0 && (size_t)ref < caps[k] ? ref : -1;
		if (got != exp)
			REF_FAIL("fuzz_query: http_unescape (plus %d, cap %zu) %ld, the reference "
				 "%ld",
				 plus, caps[k], got, exp);
		if (got >= 0 && (out[got] != '\0' || memcmp(out, want, (size_t)got) != 0 ||
				 strlen(out) != (size_t)got))
			REF_FAIL(
				"fuzz_query: http_unescape decoded other bytes than the reference");
		free(out);
	}
	free(want);
}

static void check_query(const char *name)
{
	const char *v;
	size_t len;
	char *want;
	size_t wlen;
	int got = http_query(&r, name, &v, &len);
	int ref = ref_query(r.query, name, &want, &wlen);
	if (got != ref)
		REF_FAIL("fuzz_query: http_query(\"%s\") %d, the reference %d", name, got, ref);
	if (got == 1 && (len != wlen || memcmp(v, want, len) != 0 || strlen(v) != len))
		REF_FAIL("fuzz_query: http_query(\"%s\") another value than the reference", name);
	if (got == 0 && (v || len))
		REF_FAIL("fuzz_query: http_query(\"%s\") a value with %d", name, got);
	free(want);
}

/* limit: 1..19 digits (or a '-' and digits), a value in 1..100 */
static bool ref_limit(const char *v, size_t len, int64_t *out)
{
	if (len == 0 || len > 19 || strspn(v, "0123456789") != len)
		return false; /* a '-' can only give a value below 1 */
	int64_t n = 0;
	for (size_t i = 0; i < len; i++) {
		n = n * 10 + (v[i] - '0');
		if (n > 100)
			return false;
	}
	*out = n;
	return n >= 1;
}

static void check_decode(const struct body_spec *spec, bool loose)
{
	struct req saved = r;
	r.err_field = r.err_msg = NULL;
	err_t got = decode_query(&r, spec);

	/* the reference: limit, then after; the first field at fault is named */
	err_t want = ERR_OK;
	const char *field = NULL;
	int64_t limit = 20;
	char *v;
	size_t len;
	int rc = ref_query(r.query, "limit", &v, &len);
	if (rc < 0 || (rc == 1 && !ref_limit(v, len, &limit)))
		want = ERR_INVALID, field = "limit";
	free(v);
	char *after = NULL;
	size_t alen = 0;
	if (want == ERR_OK) {
		rc = ref_query(r.query, "after", &after, &alen);
		bool ok =
			rc == 0 ||
			(rc == 1 && (loose ? alen >= 1 && alen <= 254 && ref_printable(after, alen)
					   : ref_id_shaped(after, alen)));
		if (!ok)
			want = ERR_INVALID, field = "after";
	}
	if (got != want || (want != ERR_OK && (!r.err_field || strcmp(r.err_field, field) != 0)))
		REF_FAIL("fuzz_query: decode_query (%s) %d field %s, the reference %d field %s",
			 loose ? "loose" : "ids", got, r.err_field ? r.err_field : "-", want,
			 field ? field : "-");
	if (got == ERR_OK) {
		if (r.q.limit != limit)
			REF_FAIL("fuzz_query: limit %lld, the reference %lld", (long long)r.q.limit,
				 (long long)limit);
		if (!after != !r.q.after.s ||
		    (after && (r.q.after.len != alen || memcmp(r.q.after.s, after, alen) != 0 ||
			       r.q.after.s[alen] != '\0')))
			REF_FAIL("fuzz_query: after is not the reference's");
	} else if (!r.err_msg) {
		REF_FAIL("fuzz_query: a 400 without a message");
	}
	free(after);
	struct arena a = r.arena;
	r = saved;
	r.arena = a;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = malloc(size + 1);
	if (!in)
		return 0;
	if (size)
		memcpy(in, data, size);
	in[size] = '\0';
	const char *name = "limit", *query = in;
	const char *nul = memchr(in, '\0', size);
	if (nul) {
		name = in;
		query = nul + 1;
	}

	check_unescape((const char *)data, size, true);
	check_unescape((const char *)data, size, false);

	r.query = query;
	check_query(name);
	check_query("limit");
	check_query("after");
	check_query("");
	check_decode(&list_query, false);
	check_decode(&list_query_loose, true);
	arena_reset(&r.arena);
	free(in);
	return 0;
}
