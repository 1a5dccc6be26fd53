/*
 * keyring: the Ed25519 keys that sign and verify session tokens, and the
 * signing and verifying themselves (the private keys never leave keyring.c).
 *
 * A ring holds at most KEYRING_MAX keys, each named by its kid: the RFC 7638
 * JWK thumbprint, base64url(SHA-256 of {"crv":"Ed25519","kty":"OKP","x":"<x>"}),
 * so a kid names exactly one public key. Every key verifies; one private key,
 * the signer, signs.
 *
 * On disk (keyring_load): every "*.pem" file of one directory, read in the
 * order of their names; each holds an Ed25519 private key (a PKCS#8 PEM) or
 * public key (a SubjectPublicKeyInfo PEM). The signer is the
 * last private key in that order, so name files so that they sort by age:
 * `var/keys/$(date -u +%Y%m%d%H%M%S).pem`, made with
 * `openssl genpkey -algorithm ed25519 -out <that file>`. To rotate: add a new
 * private key (it signs once orgd reloads, on SIGHUP), keep the old one (or only its
 * public half, `openssl pkey -pubout`) until the last token it signed has
 * expired, then delete it.
 *
 * A ring is immutable once loaded and is used by one thread (a worker).
 */
#ifndef ORGD_KEYRING_H
#define ORGD_KEYRING_H

#include <stdbool.h>
#include <stddef.h>

#include "orgd/error.h"
#include "orgd/json.h"

#define KEYRING_MAX     16
#define KEYRING_KID_LEN 43 /* base64url of 32 bytes */
#define KEYRING_PUB_LEN 32 /* an Ed25519 public key */
#define KEYRING_SIG_LEN 64 /* an Ed25519 signature */
#define KEYRING_PEM_MAX (64 * 1024)

struct keyring;
struct keyring_key;

/* An empty ring in *out (for tests and tools). Returns ERR_OK or ERR_INTERNAL. */
err_t keyring_new(struct keyring **out);

/*
 * Load every "*.pem" of dir (not hidden files, not other names) into a new
 * ring in *out. A file that is not an Ed25519 key is skipped with an error
 * line on stderr naming the file (never its content).
 * Returns ERR_OK, or ERR_INTERNAL (logged on stderr) when dir cannot be read,
 * it holds more than KEYRING_MAX keys, or it holds no private key.
 */
err_t keyring_load(const char *dir, struct keyring **out);

/*
 * Add the first Ed25519 key of the PEM text pem[0..len): a private key, else a
 * public key. A private key becomes the signer. A key already in the ring is
 * merged (a public key gains its private half), never listed twice.
 * Returns ERR_OK, ERR_INVALID (not PEM, not Ed25519, encrypted, or a private
 * key whose halves disagree), or ERR_INTERNAL (the ring is full, or out of memory).
 */
err_t keyring_add_pem(struct keyring *r, const char *pem, size_t len);

/* Free r and every key in it (wiping private keys); NULL is fine. */
void keyring_free(struct keyring *r);

/* The number of keys in r. */
size_t keyring_count(const struct keyring *r);

/* The key named kid[0..len), or NULL. */
const struct keyring_key *keyring_find(const struct keyring *r, const char *kid, size_t len);

/* The signing key, or NULL when r holds no private key. */
const struct keyring_key *keyring_signer(const struct keyring *r);

/* k's kid: KEYRING_KID_LEN characters, NUL-terminated, owned by the ring. */
const char *keyring_kid(const struct keyring_key *k);

/* k's raw public key: KEYRING_PUB_LEN bytes owned by the ring. */
const unsigned char *keyring_pub(const struct keyring_key *k);

/*
 * Sign msg[0..len) with k (Ed25519, deterministic) into sig.
 * Returns ERR_OK, or ERR_INTERNAL (k has no private half, or OpenSSL failed).
 */
err_t keyring_sign(const struct keyring_key *k, const void *msg, size_t len,
		   unsigned char sig[KEYRING_SIG_LEN]);

/*
 * Check that sig[0..siglen) is k's Ed25519 signature of msg[0..len).
 * Returns ERR_OK, ERR_UNAUTHENTICATED (a wrong signature or length), or
 * ERR_INTERNAL (OpenSSL failed, e.g. out of memory).
 */
err_t keyring_verify(const struct keyring_key *k, const void *msg, size_t len,
		     const unsigned char *sig, size_t siglen);

/*
 * Write r's public keys as a JWK Set:
 * {"keys":[{"kty":"OKP","crv":"Ed25519","x":...,"kid":...,"alg":"EdDSA","use":"sig"},...]}
 */
void keyring_jwks(const struct keyring *r, struct jw *w);

#endif
