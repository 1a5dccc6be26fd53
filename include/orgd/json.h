/*
 * json: strict decoding of JSON objects into typed C fields, and encoding.
 * The only module that includes json-c.
 *
 * Decoding is stricter than json-c alone (SECURITY.md): RFC 8259 grammar only
 * (no NaN, single quotes, comments or trailing garbage), valid UTF-8, no NUL
 * in strings, nesting at most JSON_MAX_DEPTH, no duplicate names, integers
 * within int64, every type checked, strings compared with their length.
 * A field table says what an object may hold; the decoder fills a caller's
 * struct through offsetof().
 */
#ifndef ORGD_JSON_H
#define ORGD_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orgd/error.h"
#include "orgd/mem.h"

#define JSON_MAX_DEPTH 16
#define JSON_STRS_MAX  8

/* A decoded string: NUL-terminated arena memory, len bytes (no NUL inside). */
struct jstr {
	const char *s;
	size_t len;
};

/* A string, or an array of at most JSON_STRS_MAX strings (the JWT "aud"). */
struct jstrs {
	struct jstr v[JSON_STRS_MAX];
	int n;
};

enum jf_type {
	JF_STRING, /* struct jstr; min/max bound the length in code points */
	JF_INT,    /* int64_t; min/max bound the value */
	JF_BOOL,   /* bool */
	JF_STRS,   /* struct jstrs; a string or an array of strings */
	JF_ANY,    /* presence only: any value (e.g. JWS "crit", refused by the caller) */
	JF_OBJECT, /* a nested object decoded into the struct at off by sub[0..nsub); the
		      flags of the call (JSON_ALLOW_UNKNOWN) apply inside it too */
	JF_ENUM,   /* a string that is one of enums[] (NULL-terminated): an int, its index + min */
	JF_ID,     /* struct jstr: one of our ids (id.h); a string of another shape names
		      nothing and is decoded as "" (a lookup of it finds nothing: 404) */
	JF_EMAIL,  /* struct jstr: an email address, normalised (json_email_normalise) */
	JF__MAX
};

enum {
	JF_REQUIRED = 1u << 0, /* absent -> ERR_INVALID naming the field */
	JF_NULLABLE = 1u << 1, /* null accepted, reported as absent */
	JF_ASCII = 1u << 2,    /* a string kind: printable ASCII only */
};

struct jfield {
	const char *name;
	enum jf_type type;
	unsigned flags;
	int64_t min, max;
	size_t off;               /* offsetof(the target struct, member) */
	const struct jfield *sub; /* JF_OBJECT: the nested object's table */
	size_t nsub;
	const char *const *enums; /* JF_ENUM: the allowed strings, NULL-terminated */
};

enum {
	JSON_ALLOW_UNKNOWN = 1u << 0, /* ignore names not in the table (JWS headers, claims) */
};

/*
 * Decode the object in buf[0..len) into out, as fields[0..nfields) say.
 * Strings are copied into a. *present gets bit i set for fields[i] present
 * and not null (nfields <= 32). On ERR_INVALID, *bad_field names the field
 * at fault when one is (else NULL).
 * Returns ERR_OK, ERR_INVALID, or ERR_INTERNAL (out of memory).
 */
err_t json_decode(const char *buf, size_t len, const struct jfield *fields, size_t nfields,
		  unsigned flags, void *out, uint32_t *present, struct arena *a,
		  const char **bad_field);

/*
 * Apply field f, of a string kind (JF_STRING, JF_ENUM, JF_ID, JF_EMAIL), to
 * the text s[0..len) (a query parameter, say): valid UTF-8 without NUL, then
 * the field's own checks; stored into out + f->off as the decoder would.
 * Returns ERR_OK, ERR_INVALID or ERR_INTERNAL.
 */
err_t json_field_text(const struct jfield *f, const char *s, size_t len, void *out,
		      struct arena *a);

/*
 * The email as orgd stores it, in a: surrounding white space trimmed, ASCII
 * lower-cased; NULL unless in[0..len) looks like an address (or out of memory).
 */
char *json_email_normalise(const char *in, size_t len, struct arena *a);

/* Count the code points of a valid UTF-8 string. */
size_t json_utf8_len(const char *s, size_t len);

/*
 * Encoding: a writer appending compact JSON to a buf, placing commas itself.
 * Nesting deeper than JSON_MAX_DEPTH is a programming error (asserted).
 */
struct jw {
	struct buf *b;
	int depth;
	uint32_t started; /* bit d: the container at depth d has an element */
	bool after_key;
};

void jw_init(struct jw *w, struct buf *b);
void jw_obj(struct jw *w);     /* { */
void jw_obj_end(struct jw *w); /* } */
void jw_arr(struct jw *w);     /* [ */
void jw_arr_end(struct jw *w); /* ] */
void jw_key(struct jw *w, const char *k);
void jw_str(struct jw *w, const char *s);            /* NULL writes null */
void jw_strn(struct jw *w, const char *s, size_t n); /* escapes as needed */
void jw_int(struct jw *w, int64_t v);
void jw_bool(struct jw *w, bool v);
void jw_null(struct jw *w);
/* Shorthands for a key and its value. */
void jw_kstr(struct jw *w, const char *k, const char *s);
void jw_kint(struct jw *w, const char *k, int64_t v);
void jw_kbool(struct jw *w, const char *k, bool v);

#endif
