/*
 * digest: SHA-256 and HMAC-SHA256 through OpenSSL's EVP interfaces, and the
 * constant-time compare (see digest.h).
 */
#include "orgd/digest.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
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

void digest_hmac_sha256(const void *key, size_t keylen, const void *const *parts,
			const size_t *lens, size_t n, unsigned char out[DIGEST_LEN])
{
	/* fetched once per process: the lookup costs more than a short HMAC */
	static EVP_MAC *mac;
	static const unsigned char no_key[1];
	if (!mac && !(mac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL)))
		abort();
	char md[] = OSSL_DIGEST_NAME_SHA2_256;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, md, 0),
		OSSL_PARAM_construct_end(),
	};
	EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
	/* a NULL key would mean "keep the previous one": pass a real pointer */
	if (!ctx || EVP_MAC_init(ctx, keylen ? key : no_key, keylen, params) != 1)
		abort(); /* out of memory in the digest: nothing sensible remains */
	for (size_t i = 0; i < n; i++)
		if (lens[i] && EVP_MAC_update(ctx, parts[i], lens[i]) != 1)
			abort();
	size_t outlen = 0;
	if (EVP_MAC_final(ctx, out, &outlen, DIGEST_LEN) != 1 || outlen != DIGEST_LEN)
		abort();
	EVP_MAC_CTX_free(ctx);
}

bool digest_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}
