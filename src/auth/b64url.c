/*
 * b64url: the strict base64url codec (see b64url.h). Table-driven; the
 * decoder's loop has no branch on the data: it ORs every lookup into one
 * flag and looks at it once at the end.
 */
#include "orgd/b64url.h"

#include <stdint.h>
#include <string.h>

static const char enc[64] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

#define X 0x80 /* not in the alphabet */
/* clang-format off */
static const uint8_t dec[256] = {
	X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  /* 0x00 */
	X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  /* 0x10 */
	X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  62, X,  X,  /* 0x20: '-' */
	52, 53, 54, 55, 56, 57, 58, 59, 60, 61, X,  X,  X,  X,  X,  X,  /* 0x30: 0-9 */
	X,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, /* 0x40: A-O */
	15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, X,  X,  X,  X,  63, /* 0x50: P-Z _ */
	X,  26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, /* 0x60: a-o */
	41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, X,  X,  X,  X,  X,  /* 0x70: p-z */
	X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  /* 0x80 */
	X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  /* 0x90 */
	X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  /* 0xa0 */
	X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  /* 0xb0 */
	X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  /* 0xc0 */
	X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  /* 0xd0 */
	X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  /* 0xe0 */
	X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  /* 0xf0 */
};
/* clang-format on */
#undef X

size_t b64url_encode(const void *in, size_t n, char *out)
{
	const unsigned char *p = in;
	char *o = out;
	size_t i = 0;
	for (; n - i >= 3; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*o++ = enc[v >> 18];
		*o++ = enc[(v >> 12) & 63];
		*o++ = enc[(v >> 6) & 63];
		*o++ = enc[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;
		*o++ = enc[v >> 18];
		*o++ = enc[(v >> 12) & 63];
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		*o++ = enc[v >> 18];
		*o++ = enc[(v >> 12) & 63];
		*o++ = enc[(v >> 6) & 63];
	}
	*o = '\0';
	return (size_t)(o - out);
}

void b64url_encode_buf(struct buf *b, const void *in, size_t n)
{
	const unsigned char *p = in;
	char tmp[B64URL_ENC_LEN(48) + 1]; /* 48 bytes at a time: a whole number of groups */
	while (n > 0) {
		size_t k = n < 48 ? n : 48;
		size_t m = b64url_encode(p, k, tmp);
		buf_put(b, tmp, m);
		p += k;
		n -= k;
	}
}

err_t b64url_decode(const char *in, size_t n, void *out, size_t outsz, size_t *outlen)
{
	const unsigned char *s = (const unsigned char *)in;
	unsigned char *o = out;
	size_t rem = n % 4, full = n - rem;
	size_t need = full / 4 * 3 + (rem ? rem - 1 : 0);
	uint32_t bad = 0;

	*outlen = 0;
	if (rem == 1 || need > outsz)
		return ERR_INVALID;
	for (size_t i = 0; i < full; i += 4) {
		uint32_t a = dec[s[i]], b = dec[s[i + 1]], c = dec[s[i + 2]], d = dec[s[i + 3]];
		bad |= a | b | c | d;
		uint32_t v = a << 18 | b << 12 | c << 6 | d;
		*o++ = (unsigned char)(v >> 16);
		*o++ = (unsigned char)(v >> 8);
		*o++ = (unsigned char)v;
	}
	if (rem == 2) {
		uint32_t a = dec[s[full]], b = dec[s[full + 1]];
		bad |= a | b | (((b & 0x0f) + 0x7f) & 0x80); /* the 4 unused low bits must be 0 */
		*o++ = (unsigned char)(a << 2 | (b & 0x3f) >> 4);
	} else if (rem == 3) {
		uint32_t a = dec[s[full]], b = dec[s[full + 1]], c = dec[s[full + 2]];
		bad |= a | b | c | (((c & 0x03) + 0x7f) & 0x80); /* 2 unused low bits must be 0 */
		uint32_t v = a << 12 | (b & 0x3f) << 6 | (c & 0x3f);
		*o++ = (unsigned char)(v >> 10);
		*o++ = (unsigned char)(v >> 2);
	}
	if (bad & 0x80) {
		if (need)
			memset(out, 0, need);
		return ERR_INVALID;
	}
	*outlen = need;
	return ERR_OK;
}
