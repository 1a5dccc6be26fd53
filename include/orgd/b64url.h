/*
 * b64url: strict unpadded base64url (RFC 4648 section 5), the encoding of JWS
 * segments, JWK members and our password hashes.
 *
 * The decoder accepts exactly the canonical encoding and nothing else: no '='
 * padding, no '+' or '/', no whitespace or any byte outside A-Z a-z 0-9 - _,
 * no length of 1 mod 4, and the unused low bits of the last character must be
 * zero. Every string thus has at most one decoding and every byte string
 * exactly one encoding.
 */
#ifndef ORGD_B64URL_H
#define ORGD_B64URL_H

#include <stddef.h>

#include "orgd/error.h"
#include "orgd/mem.h"

/* The length of the encoding of n bytes (no padding, no NUL). */
#define B64URL_ENC_LEN(n) (((n) / 3) * 4 + ((n) % 3 ? (n) % 3 + 1 : 0))
/* An upper bound on the bytes that n characters decode to. */
#define B64URL_DEC_MAX(n) (((n) / 4) * 3 + 2)

/*
 * Encode in[0..n) into out, which must hold B64URL_ENC_LEN(n) + 1 bytes;
 * out is NUL-terminated. Returns the length written (without the NUL).
 */
size_t b64url_encode(const void *in, size_t n, char *out);

/* Append the encoding of in[0..n) to b (check b->oom). */
void b64url_encode_buf(struct buf *b, const void *in, size_t n);

/*
 * Decode in[0..n) into out (room for outsz bytes; B64URL_DEC_MAX(n) always
 * suffices) and set *outlen. n == 0 decodes to zero bytes.
 * Returns ERR_OK, or ERR_INVALID for anything but a canonical encoding or
 * an output that would not fit (out is then unspecified, *outlen 0).
 */
err_t b64url_decode(const char *in, size_t n, void *out, size_t outsz, size_t *outlen);

#endif
