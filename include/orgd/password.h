/*
 * password: salted, memory-hard password hashes (scrypt through OpenSSL's
 * EVP_KDF), their stored encoding, and constant-time verification.
 *
 * The stored form is PHC-like, with unpadded base64url (b64url.h) for the
 * salt and the hash:
 *   $scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt>$<hash>
 * with a 16-byte random salt and a 32-byte hash. Parameters are read back
 * from the stored string, so raising the defaults later keeps old hashes
 * valid (rehash them at the next login).
 */
#ifndef ORGD_PASSWORD_H
#define ORGD_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orgd/error.h"

#define PASSWORD_HASH_MAX 128  /* room for an encoded hash, with its NUL */
#define PASSWORD_MAX      4096 /* bytes of a password hash/verify accept */

/* scrypt cost: N = 2^log2n, r, p. The default is OWASP's minimum, 17, 8, 1. */
struct pw_params {
	int log2n;
	int r;
	int p;
};
#define PW_PARAMS_DEFAULT ((struct pw_params){.log2n = 17, .r = 8, .p = 1})

/*
 * Bounds: a new hash needs log2n 14..20; a stored one is accepted with log2n
 * 10..20; both need r 1..16, p 1..4, memory 128 * r * N at most 1 GiB and
 * work N * r * p at most 2^24 (16 x the default), so a corrupted row cannot
 * make a verify exhaust the host (log2n 20 with r 8 is the most it allows).
 */

/*
 * Hash pw[0..len) with params (NULL: the default) and a fresh random salt,
 * writing the NUL-terminated encoding into out (outsz >= PASSWORD_HASH_MAX
 * always suffices).
 * Returns ERR_OK, ERR_INVALID (params out of bounds, len > PASSWORD_MAX),
 * or ERR_INTERNAL (outsz too small, no randomness, scrypt failed).
 */
err_t password_hash(const char *pw, size_t len, const struct pw_params *params, char *out,
		    size_t outsz);

/*
 * Whether pw[0..len) matches the stored encoding: sets *ok (false unless
 * ERR_OK and a match). The comparison is constant-time.
 * Returns ERR_OK (match or not), ERR_INVALID (len > PASSWORD_MAX), or
 * ERR_INTERNAL (encoded is malformed or out of bounds, or scrypt failed).
 */
err_t password_verify(const char *pw, size_t len, const char *encoded, bool *ok);

/*
 * Spend what a password_verify against a hash made with params (NULL: the
 * default) spends, and throw the result away: the answer for an unknown
 * email takes as long as for a wrong password.
 */
void password_burn(const char *pw, size_t len, const struct pw_params *params);

/*
 * Raw scrypt (RFC 7914): out[0..outlen) = scrypt(pw, salt, n, r, p).
 * Checks only that n is a power of two >= 2, r and p >= 1, memory at most
 * 2 GiB, outlen 1..1024.
 * Returns ERR_OK, ERR_INVALID (parameters), or ERR_INTERNAL (OpenSSL failed).
 */
err_t password_scrypt_raw(const void *pw, size_t pwlen, const void *salt, size_t saltlen,
			  uint64_t n, uint32_t r, uint32_t p, unsigned char *out, size_t outlen);

#endif
