/*
 * fuzz_json: libFuzzer target for json_decode, the strict decoder every
 * request body and token segment goes through. Arbitrary bytes must never
 * crash, leak or hang; the answer is ERR_OK or ERR_INVALID; an accepted
 * string field is valid UTF-8 without NUL, within its length bounds, and
 * survives the writer and a second decode unchanged.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "orgd/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct in {
	struct jstr s;
	int64_t i;
	bool b;
	struct jstrs strs;
};

static const struct jfield fields[] = {
	{"s", JF_STRING, 0, 0, 40, offsetof(struct in, s)},
	{"i", JF_INT, JF_NULLABLE, -1000, 1000, offsetof(struct in, i)},
	{"b", JF_BOOL, 0, 0, 0, offsetof(struct in, b)},
	{"a", JF_STRS, 0, 0, 0, offsetof(struct in, strs)},
	{"x", JF_ANY, 0, 0, 0, 0},
};

static struct arena arena;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	for (unsigned flags = 0; flags <= JSON_ALLOW_UNKNOWN; flags += JSON_ALLOW_UNKNOWN) {
		struct in in = {0};
		uint32_t present;
		const char *bad;
		arena_reset(&arena);
		err_t err = json_decode(buf, size, fields, 5, flags, &in, &present, &arena, &bad);
		if (err != ERR_OK && err != ERR_INVALID)
			abort();
		if (err != ERR_OK || !(present & 1))
			continue;
		if (memchr(in.s.s, '\0', in.s.len) || json_utf8_len(in.s.s, in.s.len) > 40)
			abort();
		/* write {"s":...} and read it back: the same bytes */
		struct buf out = {0};
		struct jw w;
		jw_init(&w, &out);
		jw_obj(&w);
		jw_key(&w, "s");
		jw_strn(&w, in.s.s, in.s.len);
		jw_obj_end(&w);
		struct in again = {0};
		if (out.oom ||
		    json_decode(out.p, out.len, fields, 5, 0, &again, &present, &arena, &bad) !=
			    ERR_OK ||
		    again.s.len != in.s.len || memcmp(again.s.s, in.s.s, in.s.len) != 0)
			abort();
		buf_free(&out);
	}
	return 0;
}
