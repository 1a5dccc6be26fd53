/*
 * password: scrypt hashing through EVP_KDF, the "$scrypt$" encoding and its
 * strict parser, and constant-time verification (see password.h).
 */
#include "orgd/password.h"

#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "orgd/b64url.h"

#define SALT_LEN    16
#define HASH_LEN    32
#define SALT_MIN    8 /* what a stored hash may carry */
#define SALT_MAX    64
#define HASH_MIN    16
#define HASH_MAX    64
#define MEM_MAX     ((uint64_t)1 << 30)
#define WORK_MAX    ((uint64_t)1 << 24)
#define RAW_MEM_MAX ((uint64_t)2 << 30)
#define RAW_OUT_MAX 1024

/* The memory scrypt needs for n, r, p (OpenSSL's count), or UINT64_MAX if huge. */
static uint64_t scrypt_mem(uint64_t n, uint64_t r, uint64_t p)
{
	if (n > ((uint64_t)1 << 40) || r > ((uint64_t)1 << 20) || p > ((uint64_t)1 << 20))
		return UINT64_MAX;
	return 128 * r * (n + 2) + 128 * r * p;
}

err_t password_scrypt_raw(const void *pw, size_t pwlen, const void *salt, size_t saltlen,
			  uint64_t n, uint32_t r, uint32_t p, unsigned char *out, size_t outlen)
{
	if (n < 2 || (n & (n - 1)) || r < 1 || p < 1 || outlen < 1 || outlen > RAW_OUT_MAX)
		return ERR_INVALID;
	uint64_t mem = scrypt_mem(n, r, p);
	if (mem > RAW_MEM_MAX)
		return ERR_INVALID;
	uint64_t maxmem = mem + ((uint64_t)1 << 20);

	err_t err = ERR_INTERNAL;
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "SCRYPT", NULL);
	EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	if (ctx) {
		OSSL_PARAM params[] = {
			OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD,
							  (void *)(pwlen ? pw : ""), pwlen),
			OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
							  (void *)(saltlen ? salt : ""), saltlen),
			OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n),
			OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r),
			OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p),
			OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem),
			OSSL_PARAM_construct_end(),
		};
		if (EVP_KDF_derive(ctx, out, outlen, params) == 1)
			err = ERR_OK;
	}
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	ERR_clear_error();
	if (err)
		OPENSSL_cleanse(out, outlen);
	return err;
}

/* params within the bounds of password.h; min_log2n: 14 for new hashes, 10 for stored. */
static bool params_ok(const struct pw_params *pp, int min_log2n)
{
	if (pp->log2n < min_log2n || pp->log2n > 20 || pp->r < 1 || pp->r > 16 || pp->p < 1 ||
	    pp->p > 4)
		return false;
	uint64_t n = (uint64_t)1 << pp->log2n;
	return 128 * n * (uint64_t)pp->r <= MEM_MAX &&
	       n * (uint64_t)pp->r * (uint64_t)pp->p <= WORK_MAX;
}

static err_t derive(const char *pw, size_t len, const unsigned char *salt, size_t saltlen,
		    const struct pw_params *pp, unsigned char *out, size_t outlen)
{
	return password_scrypt_raw(pw, len, salt, saltlen, (uint64_t)1 << pp->log2n,
				   (uint32_t)pp->r, (uint32_t)pp->p, out, outlen);
}

err_t password_hash(const char *pw, size_t len, const struct pw_params *params, char *out,
		    size_t outsz)
{
	struct pw_params pp = params ? *params : PW_PARAMS_DEFAULT;
	if (outsz)
		out[0] = '\0';
	if (len > PASSWORD_MAX || !params_ok(&pp, 14))
		return ERR_INVALID;

	unsigned char salt[SALT_LEN], hash[HASH_LEN];
	if (RAND_bytes(salt, sizeof salt) != 1) {
		ERR_clear_error();
		return ERR_INTERNAL;
	}
	err_t err = derive(pw, len, salt, sizeof salt, &pp, hash, sizeof hash);
	if (err == ERR_OK) {
		char s64[B64URL_ENC_LEN(SALT_LEN) + 1], h64[B64URL_ENC_LEN(HASH_LEN) + 1];
		b64url_encode(salt, sizeof salt, s64);
		b64url_encode(hash, sizeof hash, h64);
		int n = snprintf(out, outsz, "$scrypt$ln=%d,r=%d,p=%d$%s$%s", pp.log2n, pp.r, pp.p,
				 s64, h64);
		if (n < 0 || (size_t)n >= outsz) {
			if (outsz)
				out[0] = '\0';
			err = ERR_INTERNAL;
		}
	}
	OPENSSL_cleanse(hash, sizeof hash);
	return err;
}

/* A decimal 0..99 at *p with no sign or leading zero, then the byte end. */
static bool parse_num(const char **p, char end, int *v)
{
	const char *s = *p;
	if (s[0] < '0' || s[0] > '9')
		return false;
	int n = s[0] - '0';
	size_t i = 1;
	if (s[0] != '0' && s[1] >= '0' && s[1] <= '9') {
		n = n * 10 + (s[1] - '0');
		i = 2;
	}
	if (s[i] != end)
		return false;
	*v = n;
	*p = s + i + 1;
	return true;
}

/* A base64url field of 'min..max' bytes ending at the byte end (or the NUL). */
static bool parse_b64(const char **p, char end, unsigned char *out, size_t min, size_t max,
		      size_t *len)
{
	const char *s = *p;
	const char *e = end ? strchr(s, end) : s + strlen(s);
	if (!e || (size_t)(e - s) > B64URL_ENC_LEN(max))
		return false;
	if (b64url_decode(s, (size_t)(e - s), out, max, len) || *len < min)
		return false;
	*p = end ? e + 1 : e;
	return true;
}

err_t password_verify(const char *pw, size_t len, const char *encoded, bool *ok)
{
	*ok = false;
	if (len > PASSWORD_MAX)
		return ERR_INVALID;

	static const char prefix[] = "$scrypt$ln=";
	struct pw_params pp;
	unsigned char salt[SALT_MAX], want[HASH_MAX], got[HASH_MAX];
	size_t saltlen, hashlen;
	const char *p = encoded;
	if (strncmp(p, prefix, sizeof prefix - 1) != 0)
		return ERR_INTERNAL;
	p += sizeof prefix - 1;
	if (!parse_num(&p, ',', &pp.log2n) || strncmp(p, "r=", 2) != 0)
		return ERR_INTERNAL;
	p += 2;
	if (!parse_num(&p, ',', &pp.r) || strncmp(p, "p=", 2) != 0)
		return ERR_INTERNAL;
	p += 2;
	if (!parse_num(&p, '$', &pp.p) || !params_ok(&pp, 10) ||
	    !parse_b64(&p, '$', salt, SALT_MIN, SALT_MAX, &saltlen) ||
	    !parse_b64(&p, '\0', want, HASH_MIN, HASH_MAX, &hashlen) || *p != '\0')
		return ERR_INTERNAL;

	err_t err = derive(pw, len, salt, saltlen, &pp, got, hashlen);
	if (err == ERR_OK)
		*ok = CRYPTO_memcmp(got, want, hashlen) == 0;
	OPENSSL_cleanse(got, sizeof got);
	return err;
}

void password_burn(const char *pw, size_t len, const struct pw_params *params)
{
	static const unsigned char salt[SALT_LEN] = "orgd-burn-salt!";
	struct pw_params pp = params ? *params : PW_PARAMS_DEFAULT;
	unsigned char out[HASH_LEN];
	if (!params_ok(&pp, 10))
		pp = PW_PARAMS_DEFAULT;
	if (len > PASSWORD_MAX)
		len = PASSWORD_MAX;
	(void)derive(pw, len, salt, sizeof salt, &pp, out, sizeof out);
	OPENSSL_cleanse(out, sizeof out);
}
