/*
 * json: strict decoding of JSON objects into typed fields, and the response
 * writer. The only file that includes json-c.
 *
 * Decoding runs in three steps:
 *   1. scan(): our own RFC 8259 validator. It refuses what json-c lets through
 *      (NaN, single quotes, trailing garbage, integers beyond int64), invalid
 *      UTF-8, \u0000, lone surrogates and nesting deeper than JSON_MAX_DEPTH,
 *      and counts the members of every object in document order.
 *   2. json-c builds the tree (and decodes escapes).
 *   3. Every object of the tree must hold as many members as scan() counted:
 *      json-c keeps only the last of duplicate names, so a shortfall is a
 *      duplicate. Then the top-level members are checked against the field
 *      table and copied into the caller's struct.
 */
#include "orgd/json.h"

#include <assert.h>
#include <stdbool.h>
#include <ctype.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <string.h>

#include "orgd/id.h"

/* ---- 1. the validator ---------------------------------------------------- */

struct scan {
	const unsigned char *p, *end;
	int depth;
	uint32_t *counts; /* members of each object, in document order */
	size_t nobj, cap;
};

static void skip_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), 0 if invalid. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];
	if (c < 0x80)
		return 1;
	size_t len;
	uint32_t min, cp;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2, min = 0x80, cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3, min = 0x800, cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4, min = 0x10000, cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static int hex4(const unsigned char *p, uint32_t *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++) {
		unsigned char c = p[i];
		unsigned d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		*v = *v << 4 | d;
	}
	return 0;
}

static int scan_string(struct scan *s)
{
	s->p++; /* the opening quote */
	while (s->p < s->end) {
		unsigned char c = *s->p;
		if (c == '"') {
			s->p++;
			return 0;
		}
		if (c < 0x20)
			return -1;
		if (c != '\\') {
			size_t n = utf8_seq(s->p, (size_t)(s->end - s->p));
			if (!n)
				return -1;
			s->p += n;
			continue;
		}
		if (s->end - s->p < 2)
			return -1;
		c = s->p[1];
		if (c && strchr("\"\\/bfnrt", c)) {
			s->p += 2;
			continue;
		}
		if (c != 'u' || s->end - s->p < 6)
			return -1;
		uint32_t u;
		if (hex4(s->p + 2, &u) || u == 0 || (u >= 0xdc00 && u <= 0xdfff))
			return -1;
		s->p += 6;
		if (u >= 0xd800 && u <= 0xdbff) { /* a high surrogate needs its low half */
			uint32_t lo;
			if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u' ||
			    hex4(s->p + 2, &lo) || lo < 0xdc00 || lo > 0xdfff)
				return -1;
			s->p += 6;
		}
	}
	return -1;
}

static int is_digit(const struct scan *s)
{
	return s->p < s->end && *s->p >= '0' && *s->p <= '9';
}

static int scan_number(struct scan *s)
{
	int neg = 0;
	uint64_t v = 0, limit;
	if (*s->p == '-') {
		neg = 1;
		s->p++;
	}
	limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	if (!is_digit(s))
		return -1;
	if (*s->p == '0') {
		s->p++;
	} else {
		while (is_digit(s)) {
			unsigned d = *s->p++ - '0';
			if (v > (limit - d) / 10)
				return -1; /* out of int64 range */
			v = v * 10 + d;
		}
	}
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		if (!is_digit(s))
			return -1;
		while (is_digit(s))
			s->p++;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (!is_digit(s))
			return -1;
		while (is_digit(s))
			s->p++;
	}
	return 0;
}

static int scan_literal(struct scan *s, const char *lit)
{
	size_t n = strlen(lit);
	if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
		return -1;
	s->p += n;
	return 0;
}

static int scan_value(struct scan *s, struct arena *a);

static int scan_container(struct scan *s, struct arena *a, int object)
{
	if (++s->depth > JSON_MAX_DEPTH)
		return -1;
	size_t idx = 0;
	if (object) {
		if (s->nobj == s->cap) {
			size_t cap = s->cap ? s->cap * 2 : 16;
			uint32_t *c = arena_alloc(a, cap * sizeof *c);
			if (!c)
				return -1;
			if (s->nobj)
				memcpy(c, s->counts, s->nobj * sizeof *c);
			s->counts = c;
			s->cap = cap;
		}
		idx = s->nobj++;
		s->counts[idx] = 0;
	}
	char close = object ? '}' : ']';
	s->p++;
	skip_ws(s);
	if (s->p < s->end && *s->p == close) {
		s->p++;
		s->depth--;
		return 0;
	}
	for (;;) {
		skip_ws(s);
		if (object) {
			if (s->p >= s->end || *s->p != '"' || scan_string(s))
				return -1;
			skip_ws(s);
			if (s->p >= s->end || *s->p++ != ':')
				return -1;
			s->counts[idx]++;
		}
		if (scan_value(s, a))
			return -1;
		skip_ws(s);
		if (s->p >= s->end)
			return -1;
		if (*s->p == ',') {
			s->p++;
			continue;
		}
		if (*s->p++ != close)
			return -1;
		s->depth--;
		return 0;
	}
}

static int scan_value(struct scan *s, struct arena *a)
{
	skip_ws(s);
	if (s->p >= s->end)
		return -1;
	switch (*s->p) {
	case '{':
		return scan_container(s, a, 1);
	case '[':
		return scan_container(s, a, 0);
	case '"':
		return scan_string(s);
	case 't':
		return scan_literal(s, "true");
	case 'f':
		return scan_literal(s, "false");
	case 'n':
		return scan_literal(s, "null");
	default:
		return scan_number(s);
	}
}

/* ---- 3. duplicate names, then fields ------------------------------------- */

/* Walk the tree in document order; every object must have its counted members. */
static int same_counts(struct json_object *o, const struct scan *s, size_t *i)
{
	switch (json_object_get_type(o)) {
	case json_type_object: {
		if (*i >= s->nobj || (size_t)json_object_object_length(o) != s->counts[*i])
			return 0;
		(*i)++;
		json_object_object_foreach(o, k, v)
		{
			(void)k;
			if (!same_counts(v, s, i))
				return 0;
		}
		return 1;
	}
	case json_type_array: {
		size_t n = json_object_array_length(o);
		for (size_t j = 0; j < n; j++)
			if (!same_counts(json_object_array_get_idx(o, j), s, i))
				return 0;
		return 1;
	}
	default:
		return 1;
	}
}

size_t json_utf8_len(const char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += ((unsigned char)s[i] & 0xc0) != 0x80;
	return n;
}

static int get_str(struct json_object *v, struct arena *a, struct jstr *out)
{
	if (json_object_get_type(v) != json_type_string)
		return -1;
	size_t n = (size_t)json_object_get_string_len(v);
	out->s = arena_strndup(a, json_object_get_string(v), n);
	out->len = n;
	return out->s ? 0 : -1;
}

/*
 * The email as stored: surrounding white space trimmed, ASCII lower-cased.
 * NULL unless it looks like an address: one '@', a local part of 1..64 bytes
 * (a dot-atom), a dotted domain of letters, digits and '-', no white space or
 * controls.
 */
char *json_email_normalise(const char *in, size_t len, struct arena *a)
{
	const char *s = in, *e = in + len;
	while (s < e && isspace((unsigned char)*s))
		s++;
	while (e > s && isspace((unsigned char)e[-1]))
		e--;
	size_t n = (size_t)(e - s), at = 0, ats = 0;
	char *out = arena_strndup(a, s, n);
	if (!out)
		return NULL;
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
	/* the local part is a dot-atom (RFC 5321 Dot-string): no dot first, last or twice */
	if (out[0] == '.' || out[at - 1] == '.' || memmem(out, at, "..", 2))
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

/* Is s[0..len) valid UTF-8 without NUL (and, if ascii, printable ASCII only)? */
static bool text_ok(const char *s, size_t len, bool ascii)
{
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < len;) {
		if (ascii && (p[i] < 0x20 || p[i] > 0x7e))
			return false;
		size_t n = p[i] ? utf8_seq(p + i, len - i) : 0;
		if (!n)
			return false;
		i += n;
	}
	return true;
}

/* The string kinds of field f on str (arena memory): checked, then stored at dst. */
static int set_text(const struct jfield *f, struct jstr str, char *dst, struct arena *a)
{
	if ((f->flags & JF_ASCII) && !text_ok(str.s, str.len, true))
		return -1;
	switch (f->type) {
	case JF_STRING: {
		size_t cps = json_utf8_len(str.s, str.len);
		if ((int64_t)cps < f->min || (f->max && (int64_t)cps > f->max))
			return -1;
		break;
	}
	case JF_ENUM:
		for (int k = 0; f->enums && f->enums[k]; k++) {
			if (strlen(f->enums[k]) == str.len &&
			    memcmp(f->enums[k], str.s, str.len) == 0) {
				int v = k + (int)f->min;
				memcpy(dst, &v, sizeof v);
				return 0;
			}
		}
		return -1;
	case JF_ID:
		if (!id_valid(str.s, str.len)) /* names nothing: never sent to the database */
			str = (struct jstr){"", 0};
		break;
	case JF_EMAIL: {
		char *norm = json_email_normalise(str.s, str.len, a);
		if (!norm)
			return -1;
		str = (struct jstr){norm, strlen(norm)};
		break;
	}
	default:
		return -1;
	}
	memcpy(dst, &str, sizeof str);
	return 0;
}

err_t json_field_text(const struct jfield *f, const char *s, size_t len, void *out, struct arena *a)
{
	if (!text_ok(s, len, false))
		return ERR_INVALID;
	struct jstr str = {arena_strndup(a, s, len), len};
	if (!str.s)
		return ERR_INTERNAL;
	return set_text(f, str, (char *)out + f->off, a) ? ERR_INVALID : ERR_OK;
}

static int set_field(const struct jfield *f, struct json_object *v, void *out, struct arena *a)
{
	char *dst = (char *)out + f->off;
	switch (f->type) {
	case JF_STRING:
	case JF_ENUM:
	case JF_ID:
	case JF_EMAIL: {
		struct jstr str;
		if (get_str(v, a, &str))
			return -1;
		return set_text(f, str, dst, a);
	}
	case JF_INT: {
		if (json_object_get_type(v) != json_type_int)
			return -1;
		int64_t n = json_object_get_int64(v);
		if (n < f->min || n > f->max)
			return -1;
		memcpy(dst, &n, sizeof n);
		return 0;
	}
	case JF_BOOL: {
		if (json_object_get_type(v) != json_type_boolean)
			return -1;
		bool b = json_object_get_boolean(v);
		memcpy(dst, &b, sizeof b);
		return 0;
	}
	case JF_STRS: {
		struct jstrs strs = {.n = 0};
		if (json_object_get_type(v) == json_type_string) {
			if (get_str(v, a, &strs.v[0]))
				return -1;
			strs.n = 1;
		} else if (json_object_get_type(v) == json_type_array) {
			size_t n = json_object_array_length(v);
			if (n > JSON_STRS_MAX)
				return -1;
			for (size_t j = 0; j < n; j++)
				if (get_str(json_object_array_get_idx(v, j), a, &strs.v[j]))
					return -1;
			strs.n = (int)n;
		} else {
			return -1;
		}
		memcpy(dst, &strs, sizeof strs);
		return 0;
	}
	case JF_ANY:
	case JF_OBJECT: /* decode_object() recurses itself */
		return 0;
	case JF__MAX:
		break;
	}
	return -1;
}

/*
 * Fill out from the object o as fields[0..nfields) say; nested JF_OBJECT
 * fields recurse with their own tables. Returns 0, or -1 with *bad_field set
 * (when a field is at fault).
 */
static int decode_object(struct json_object *o, const struct jfield *fields, size_t nfields,
			 unsigned flags, void *out, uint32_t *present, struct arena *a,
			 const char **bad_field)
{
	assert(nfields <= 32);
	*present = 0;
	json_object_object_foreach(o, key, val)
	{
		size_t klen = strlen(key);
		size_t f = 0;
		while (f < nfields &&
		       !(strlen(fields[f].name) == klen && memcmp(fields[f].name, key, klen) == 0))
			f++;
		if (f == nfields) {
			if (flags & JSON_ALLOW_UNKNOWN)
				continue;
			*bad_field = arena_strndup(a, key, klen);
			return -1;
		}
		if (json_object_get_type(val) == json_type_null && fields[f].type != JF_ANY) {
			if (fields[f].flags & JF_NULLABLE)
				continue;
			*bad_field = fields[f].name;
			return -1;
		}
		if (fields[f].type == JF_OBJECT) {
			uint32_t inner;
			if (json_object_get_type(val) != json_type_object) {
				*bad_field = fields[f].name;
				return -1;
			}
			if (decode_object(val, fields[f].sub, fields[f].nsub, flags,
					  (char *)out + fields[f].off, &inner, a, bad_field))
				return -1;
		} else if (set_field(&fields[f], val, out, a)) {
			*bad_field = fields[f].name;
			return -1;
		}
		*present |= 1u << f;
	}
	for (size_t f = 0; f < nfields; f++) {
		if ((fields[f].flags & JF_REQUIRED) && !(*present & (1u << f))) {
			*bad_field = fields[f].name;
			return -1;
		}
	}
	return 0;
}

err_t json_decode(const char *buf, size_t len, const struct jfield *fields, size_t nfields,
		  unsigned flags, void *out, uint32_t *present, struct arena *a,
		  const char **bad_field)
{
	*present = 0;
	*bad_field = NULL;

	struct scan s = {.p = (const unsigned char *)buf, .end = (const unsigned char *)buf + len};
	skip_ws(&s);
	if (s.p >= s.end || *s.p != '{' || scan_value(&s, a))
		return a->oom ? ERR_INTERNAL : ERR_INVALID;
	skip_ws(&s);
	if (s.p != s.end)
		return ERR_INVALID;

	json_tokener *tok = json_tokener_new_ex(JSON_MAX_DEPTH + 2);
	if (!tok)
		return ERR_INTERNAL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	struct json_object *root = json_tokener_parse_ex(tok, buf, (int)len);
	json_tokener_free(tok);
	err_t err = ERR_INVALID;
	size_t i = 0;
	if (root && json_object_get_type(root) == json_type_object && same_counts(root, &s, &i) &&
	    decode_object(root, fields, nfields, flags, out, present, a, bad_field) == 0)
		err = ERR_OK;
	json_object_put(root);
	if (a->oom)
		return ERR_INTERNAL;
	return err;
}

/* ---- the writer ---------------------------------------------------------- */

void jw_init(struct jw *w, struct buf *b)
{
	*w = (struct jw){.b = b};
}

/* Before a value: a comma unless it is the first in its container or follows a key. */
static void jw_sep(struct jw *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (w->depth > 0) {
		uint32_t bit = 1u << w->depth;
		if (w->started & bit)
			buf_putc(w->b, ',');
		w->started |= bit;
	}
}

static void jw_open(struct jw *w, char c)
{
	jw_sep(w);
	assert(w->depth < JSON_MAX_DEPTH);
	w->depth++;
	w->started &= ~(1u << w->depth);
	buf_putc(w->b, c);
}

static void jw_close(struct jw *w, char c)
{
	assert(w->depth > 0);
	w->depth--;
	buf_putc(w->b, c);
}

void jw_obj(struct jw *w)
{
	jw_open(w, '{');
}

void jw_obj_end(struct jw *w)
{
	jw_close(w, '}');
}

void jw_arr(struct jw *w)
{
	jw_open(w, '[');
}

void jw_arr_end(struct jw *w)
{
	jw_close(w, ']');
}

static void put_escaped(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	buf_putc(b, '"');
	size_t run = 0; /* start of the pending run of plain bytes */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		buf_put(b, s + run, i - run);
		run = i + 1;
		switch (c) {
		case '"':
			buf_put(b, "\\\"", 2);
			break;
		case '\\':
			buf_put(b, "\\\\", 2);
			break;
		case '\n':
			buf_put(b, "\\n", 2);
			break;
		case '\r':
			buf_put(b, "\\r", 2);
			break;
		case '\t':
			buf_put(b, "\\t", 2);
			break;
		default: {
			char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
			buf_put(b, e, sizeof e);
		}
		}
	}
	buf_put(b, s + run, n - run);
	buf_putc(b, '"');
}

void jw_key(struct jw *w, const char *k)
{
	jw_sep(w);
	put_escaped(w->b, k, strlen(k));
	buf_putc(w->b, ':');
	w->after_key = true;
}

void jw_strn(struct jw *w, const char *s, size_t n)
{
	jw_sep(w);
	put_escaped(w->b, s, n);
}

void jw_str(struct jw *w, const char *s)
{
	if (!s) {
		jw_null(w);
		return;
	}
	jw_strn(w, s, strlen(s));
}

void jw_int(struct jw *w, int64_t v)
{
	jw_sep(w);
	buf_printf(w->b, "%" PRId64, v);
}

void jw_bool(struct jw *w, bool v)
{
	jw_sep(w);
	buf_puts(w->b, v ? "true" : "false");
}

void jw_null(struct jw *w)
{
	jw_sep(w);
	buf_puts(w->b, "null");
}

void jw_kstr(struct jw *w, const char *k, const char *s)
{
	jw_key(w, k);
	jw_str(w, s);
}

void jw_kint(struct jw *w, const char *k, int64_t v)
{
	jw_key(w, k);
	jw_int(w, v);
}

void jw_kbool(struct jw *w, const char *k, bool v)
{
	jw_key(w, k);
	jw_bool(w, v);
}
