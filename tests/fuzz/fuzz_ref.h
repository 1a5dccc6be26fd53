/*
 * fuzz_ref: reference models the HTTP fuzz targets (fuzz_fcgi_params,
 * fuzz_query) check orgd's code against. Written again from the contracts in
 * include/orgd/http.h, id.h and route.h, not from the code they check, and
 * kept simple rather than fast: a difference is a bug in one of the two.
 */
#ifndef ORGD_FUZZ_REF_H
#define ORGD_FUZZ_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REF_FAIL(...)                                                                              \
	do {                                                                                       \
		fprintf(stderr, __VA_ARGS__);                                                      \
		fputc('\n', stderr);                                                               \
		abort();                                                                           \
	} while (0)

static inline int ref_hex(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/*
 * Percent-decode s[0..n) into out (room for n + 1 bytes): "%XY" is the byte
 * 0xXY (both digits hex, any case), '+' a space if plus_is_space, any other
 * byte itself. Returns the decoded length, or -1 for a '%' without two hex
 * digits behind it or a decoded NUL (whatever the room: http_unescape also
 * refuses for a lack of room, which the caller checks separately).
 */
static inline long ref_unescape(const char *s, size_t n, char *out, bool plus_is_space)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '%') {
			if (n - i < 3 || ref_hex((unsigned char)s[i + 1]) < 0 ||
			    ref_hex((unsigned char)s[i + 2]) < 0)
				return -1;
			c = (unsigned char)(ref_hex((unsigned char)s[i + 1]) * 16 +
					    ref_hex((unsigned char)s[i + 2]));
			i += 2;
		} else if (c == '+' && plus_is_space) {
			c = ' ';
		}
		if (c == 0)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return (long)o;
}

/* One of our ids (id.h): [a-z]+ '_' [a-z2-7]+, 3 to 32 bytes. */
static inline bool ref_id_shaped(const char *s, size_t len)
{
	if (len < 3 || len > 32)
		return false;
	size_t i = 0;
	while (i < len && s[i] >= 'a' && s[i] <= 'z')
		i++;
	if (i == 0 || i >= len - 1 || s[i] != '_')
		return false;
	for (i++; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '2' && s[i] <= '7')))
			return false;
	return true;
}

/* Printable ASCII only (JF_ASCII). */
static inline bool ref_printable(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

/*
 * Query parameter name of the NUL-terminated query q, as http.h says: the
 * '&'-separated segments that start with name '='; the value percent-decoded
 * with '+' as a space. Returns 1 (value in out, malloc'ed, length *len), 0 if
 * no segment names it, -1 if one that does is malformed or two do.
 */
static inline int ref_query(const char *q, const char *name, char **out, size_t *len)
{
	size_t nl = strlen(name), ql = strlen(q);
	int found = 0;
	bool bad = false;
	*out = NULL;
	*len = 0;
	for (size_t start = 0; start <= ql;) {
		size_t end = start;
		while (end < ql && q[end] != '&')
			end++;
		if (end - start > nl && memcmp(q + start, name, nl) == 0 && q[start + nl] == '=') {
			const char *v = q + start + nl + 1;
			size_t vl = end - start - nl - 1;
			char *dec = malloc(vl + 1);
			if (!dec)
				abort();
			long n = ref_unescape(v, vl, dec, true);
			if (n < 0 || found) {
				bad = true;
				free(dec);
			} else {
				free(*out);
				*out = dec;
				*len = (size_t)n;
			}
			found++;
		}
		start = end + 1;
	}
	if (bad || found > 1) {
		free(*out);
		*out = NULL;
		*len = 0;
		return -1;
	}
	return found;
}

/*
 * Does the raw path match the route pattern (route.h)? Both are cut at '/'
 * into segments; same count, "{id}" matches any non-empty segment, any other
 * segment itself. seg and seglen: the path's segment where the last {id} was.
 */
static inline bool ref_route_match(const char *pattern, const char *path, const char **seg,
				   size_t *seglen)
{
	*seg = NULL;
	*seglen = 0;
	for (;;) {
		size_t pl = strcspn(pattern, "/"), sl = strcspn(path, "/");
		if (pl == 4 && memcmp(pattern, "{id}", 4) == 0) {
			if (sl == 0)
				return false;
			*seg = path;
			*seglen = sl;
		} else if (pl != sl || memcmp(pattern, path, pl) != 0) {
			return false;
		}
		pattern += pl;
		path += sl;
		if (!*pattern || !*path)
			return !*pattern && !*path;
		pattern++, path++; /* both at a '/' */
	}
}

#endif
