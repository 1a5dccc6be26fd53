/*
 * digest: SHA-256 through OpenSSL's EVP interface (see digest.h).
 */
#include "orgd/digest.h"

#include <openssl/evp.h>
#include <stdlib.h>

void digest_sha256(const void *const *parts, const size_t *lens, size_t n,
		   unsigned char out[DIGEST_LEN])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		abort(); /* out of memory in the digest: nothing sensible remains */
	for (size_t i = 0; i < n; i++)
		EVP_DigestUpdate(ctx, parts[i], lens[i]);
	EVP_DigestFinal_ex(ctx, out, NULL);
	EVP_MD_CTX_free(ctx);
}
