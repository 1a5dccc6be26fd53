/*
 * test_json: the strict decoder's refusals (SECURITY.md's json-c facts) and
 * the writer's output.
 */
#include <stddef.h>
#include <stdlib.h>

#include "orgd/json.h"
#include "t.h"

struct in {
	struct jstr name;
	int64_t n;
	bool flag;
	struct jstrs aud;
};

static const struct jfield fields[] = {
	{"name", JF_STRING, JF_REQUIRED, 1, 5, offsetof(struct in, name)},
	{"n", JF_INT, JF_NULLABLE, -10, 1000000, offsetof(struct in, n)},
	{"flag", JF_BOOL, 0, 0, 0, offsetof(struct in, flag)},
	{"aud", JF_STRS, 0, 0, 0, offsetof(struct in, aud)},
};

static struct arena a;
static struct in in;
static uint32_t present;
static const char *bad;

static err_t dec(const char *s)
{
	arena_reset(&a);
	memset(&in, 0, sizeof in);
	return json_decode(s, strlen(s), fields, 4, 0, &in, &present, &a, &bad);
}

static err_t decn(const char *s, size_t n)
{
	arena_reset(&a);
	return json_decode(s, n, fields, 4, 0, &in, &present, &a, &bad);
}

TEST(decodes_typed_fields)
{
	CHECK(dec(" {\"name\":\"h\\u00e9\\ud83d\\ude00\",\"n\":-10,\"flag\":true,\"aud\":[\"a\","
		  "\"b\"]} ") == ERR_OK);
	CHECK(in.name.len == 7 && memcmp(in.name.s, "h\xc3\xa9\xf0\x9f\x98\x80", 7) == 0);
	CHECK(in.n == -10 && in.flag && in.aud.n == 2);
	CHECK(present == 0xf);
	CHECK(dec("{\"name\":\"x\",\"aud\":\"one\"}") == ERR_OK && in.aud.n == 1 && present == 0x9);
	CHECK(dec("{\"name\":\"x\",\"n\":null}") == ERR_OK && present == 1);
}

TEST(refuses_unknown_missing_and_null)
{
	CHECK(dec("{\"name\":\"x\",\"extra\":1}") == ERR_INVALID && bad &&
	      strcmp(bad, "extra") == 0);
	CHECK(dec("{\"n\":1}") == ERR_INVALID && bad && strcmp(bad, "name") == 0);
	CHECK(dec("{\"name\":null}") == ERR_INVALID && bad && strcmp(bad, "name") == 0);
	CHECK(dec("{\"name\":\"x\",\"flag\":null}") == ERR_INVALID);
}

TEST(checks_types_and_ranges)
{
	CHECK(dec("{\"name\":\"x\",\"n\":\"123\"}") == ERR_INVALID && strcmp(bad, "n") == 0);
	CHECK(dec("{\"name\":\"x\",\"n\":true}") == ERR_INVALID);
	CHECK(dec("{\"name\":\"x\",\"n\":1e99}") == ERR_INVALID);
	CHECK(dec("{\"name\":\"x\",\"n\":1.0}") == ERR_INVALID);
	CHECK(dec("{\"name\":\"x\",\"n\":1000001}") == ERR_INVALID);
	CHECK(dec("{\"name\":\"x\",\"n\":-11}") == ERR_INVALID);
	CHECK(dec("{\"name\":\"x\",\"n\":99999999999999999999}") == ERR_INVALID);
	CHECK(dec("{\"name\":\"x\",\"n\":-9223372036854775809}") == ERR_INVALID);
	CHECK(dec("{\"name\":\"x\",\"flag\":1}") == ERR_INVALID);
	CHECK(dec("{\"name\":1}") == ERR_INVALID);
	CHECK(dec("{\"name\":\"\"}") == ERR_INVALID);       /* below min length */
	CHECK(dec("{\"name\":\"123456\"}") == ERR_INVALID); /* above max length */
	CHECK(dec("{\"name\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"}") ==
	      ERR_OK); /* 5 code points */
	CHECK(dec("{\"name\":\"x\",\"aud\":[1]}") == ERR_INVALID);
	CHECK(dec("{\"name\":\"x\",\"aud\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\"]"
		  "}") == ERR_INVALID);
}

TEST(refuses_what_json_c_allows)
{
	CHECK(dec("{\"name\":\"x\",\"n\":NaN}") == ERR_INVALID);
	CHECK(dec("{'name':'x'}") == ERR_INVALID);
	CHECK(dec("{\"name\":\"x\"} x") == ERR_INVALID);
	CHECK(dec("{\"name\":\"x\"}{}") == ERR_INVALID);
	CHECK(dec("{\"name\":\"x\",}") == ERR_INVALID);
	CHECK(dec("{\"name\":\"x\" /* c */}") == ERR_INVALID);
	CHECK(dec("{\"name\":\"x\",\"n\":01}") == ERR_INVALID);
	CHECK(dec("{\"name\":\"x\",\"n\":+1}") == ERR_INVALID);
	CHECK(dec("{\"name\":\"a\\u0000b\"}") == ERR_INVALID);
	CHECK(dec("{\"name\":\"\\ud800\"}") == ERR_INVALID);
	CHECK(dec("{\"name\":\"\\udc00\"}") == ERR_INVALID);
	CHECK(dec("{\"name\":\"a\tb\"}") == ERR_INVALID);
	CHECK(dec("[]") == ERR_INVALID);
	CHECK(dec("") == ERR_INVALID);
	CHECK(decn("{\"name\":\"x\"}\0", 13) == ERR_INVALID);
}

TEST(refuses_invalid_utf8)
{
	CHECK(dec("{\"name\":\"\xff\"}") == ERR_INVALID);
	CHECK(dec("{\"name\":\"\xc0\xaf\"}") == ERR_INVALID);         /* overlong */
	CHECK(dec("{\"name\":\"\xed\xa0\x80\"}") == ERR_INVALID);     /* an encoded surrogate */
	CHECK(dec("{\"name\":\"\xf4\x90\x80\x80\"}") == ERR_INVALID); /* beyond U+10FFFF */
	CHECK(dec("{\"name\":\"\xe2\x82\"}") == ERR_INVALID);         /* truncated */
}

TEST(refuses_duplicate_names_at_any_depth)
{
	CHECK(dec("{\"name\":\"x\",\"name\":\"y\"}") == ERR_INVALID);
	CHECK(dec("{\"name\":\"x\",\"\\u006eame\":\"y\"}") == ERR_INVALID);
	static const struct jfield any[] = {{"o", JF_ANY, 0, 0, 0, 0}};
	char out[8];
	const char *s = "{\"o\":[{\"a\":1},{\"b\":{\"c\":1,\"c\":2}}]}";
	arena_reset(&a);
	CHECK(json_decode(s, strlen(s), any, 1, 0, out, &present, &a, &bad) == ERR_INVALID);
	s = "{\"o\":[{\"a\":1},{\"b\":{\"c\":1,\"d\":2}}]}";
	CHECK(json_decode(s, strlen(s), any, 1, 0, out, &present, &a, &bad) == ERR_OK);
	s = "{\"q\":{\"c\":1,\"c\":2}}";
	CHECK(json_decode(s, strlen(s), any, 1, JSON_ALLOW_UNKNOWN, out, &present, &a, &bad) ==
	      ERR_INVALID);
}

static char *nest(int depth)
{
	/* {"name":"x","aud":[[[...]]]} has depth 1 + (depth - 1) arrays */
	static char s[256];
	strcpy(s, "{\"name\":\"x\",\"q\":");
	for (int i = 1; i < depth; i++)
		strcat(s, "[");
	for (int i = 1; i < depth; i++)
		strcat(s, "]");
	strcat(s, "}");
	return s;
}

TEST(limits_nesting_to_16)
{
	static const struct jfield q[] = {{"name", JF_STRING, 0, 0, 0, 0},
					  {"q", JF_ANY, 0, 0, 0, 0}};
	char out[sizeof(struct jstr)];
	const char *s = nest(16);
	arena_reset(&a);
	CHECK(json_decode(s, strlen(s), q, 2, 0, out, &present, &a, &bad) == ERR_OK);
	s = nest(17);
	CHECK(json_decode(s, strlen(s), q, 2, 0, out, &present, &a, &bad) == ERR_INVALID);
}

TEST(writer_escapes_and_separates)
{
	struct buf b = {0};
	struct jw w;
	jw_init(&w, &b);
	jw_obj(&w);
	jw_kstr(&w, "s", "a\"b\\c\n\x01");
	jw_kint(&w, "i", -42);
	jw_key(&w, "a");
	jw_arr(&w);
	jw_int(&w, 1);
	jw_obj(&w);
	jw_obj_end(&w);
	jw_null(&w);
	jw_arr_end(&w);
	jw_kbool(&w, "t", true);
	jw_kstr(&w, "n", NULL);
	jw_obj_end(&w);
	buf_putc(&b, '\0');
	CHECK_EQ_STR(b.p, "{\"s\":\"a\\\"b\\\\c\\n\\u0001\",\"i\":-42,\"a\":[1,{},null],\"t\":true,"
			  "\"n\":null}");
	buf_free(&b);
}

int main(void)
{
	RUN(decodes_typed_fields);
	RUN(refuses_unknown_missing_and_null);
	RUN(checks_types_and_ranges);
	RUN(refuses_what_json_c_allows);
	RUN(refuses_invalid_utf8);
	RUN(refuses_duplicate_names_at_any_depth);
	RUN(limits_nesting_to_16);
	RUN(writer_escapes_and_separates);
	arena_free(&a);
	T_DONE();
}
