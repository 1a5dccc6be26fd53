/*
 * digest: SHA-256 and HMAC-SHA256 of byte strings, and a constant-time
 * compare (idempotency keys compare requests by SHA-256; webhook signatures
 * are HMAC-SHA256).
 */
#ifndef ORGD_DIGEST_H
#define ORGD_DIGEST_H

#include <stdbool.h>
#include <stddef.h>

#define DIGEST_LEN 32

/* SHA-256 over the concatenation of n parts. */
void digest_sha256(const void *const *parts, const size_t *lens, size_t n,
		   unsigned char out[DIGEST_LEN]);

/* HMAC-SHA256 with key[0..keylen) (keylen may be 0) over the concatenation of n parts. */
void digest_hmac_sha256(const void *key, size_t keylen, const void *const *parts,
			const size_t *lens, size_t n, unsigned char out[DIGEST_LEN]);

/* Whether a[0..n) equals b[0..n), in time that depends on n only (CRYPTO_memcmp). */
bool digest_equal(const void *a, const void *b, size_t n);

#endif
