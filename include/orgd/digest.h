/*
 * digest: SHA-256 of byte strings (idempotency keys compare requests by it).
 */
#ifndef ORGD_DIGEST_H
#define ORGD_DIGEST_H

#include <stddef.h>

#define DIGEST_LEN 32

/* SHA-256 over the concatenation of n parts. */
void digest_sha256(const void *const *parts, const size_t *lens, size_t n,
		   unsigned char out[DIGEST_LEN]);

#endif
