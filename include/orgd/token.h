/*
 * token: session tokens, JWS compact serialisation signed with EdDSA
 * (Ed25519) only, and a small per-process cache of verified tokens.
 *
 * A token is base64url(header) "." base64url(claims) "." base64url(signature),
 * header {"alg":"EdDSA","typ":"JWT","kid":"<kid>"}, claims those of API.md
 * "Sessions". Verification is strict (SECURITY.md "Session tokens -> 401");
 * whether the session (sid) is still live is the caller's check.
 *
 * The cache and its counters are per process and not thread-safe (a worker
 * is one thread).
 */
#ifndef ORGD_TOKEN_H
#define ORGD_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "orgd/error.h"
#include "orgd/keyring.h"
#include "orgd/mem.h"

#define TOKEN_MAX 4096 /* bytes of a whole token */
#define TOKEN_ID_MAX                                                                               \
	64 /* bytes of sub, sid, org the token format takes; a session                             \
	      names only ids of ours (ID_LEN_MAX, checked by session.c) */
#define TOKEN_CACHE_SIZE 256

/* The session claims of API.md. */
struct claims {
	char sub[TOKEN_ID_MAX + 1]; /* the user id (opaque, 1..64 bytes, no NUL) */
	char sid[TOKEN_ID_MAX + 1]; /* the session id */
	char org[TOKEN_ID_MAX + 1]; /* the active organization id; "" when none */
	char role[16];              /* "owner", "admin" or "member"; "" when none */
	int64_t iat, exp;           /* issued at, expires: seconds since the epoch */
};

struct token_cfg {
	const char *iss; /* our issuer, "orgd" */
	const char *aud; /* our audience, "rule-engine" */
	int64_t leeway;  /* seconds of clock skew allowed on exp and iat: 60 */
};

/*
 * Append to out a token for c, signed by the ring's signer:
 * claims {"iss","aud","sub","sid","iat","exp"[,"org","role"]} (org and role
 * only when c->org is not ""). On failure out is as it was.
 * Returns ERR_OK, or ERR_INTERNAL (no signer, sub/sid empty or not
 * NUL-terminated within their arrays, role without org, out of memory).
 */
err_t token_sign(const struct keyring *r, const struct token_cfg *cfg, const struct claims *c,
		 struct buf *out);

/*
 * Append to out the compact JWS of the given header and payload bytes, taken
 * as they are (no JSON check), signed by the ring's signer. token_sign's
 * last step; tests use it to craft tokens with exactly one defect.
 * On failure out is as it was. Returns ERR_OK or ERR_INTERNAL.
 */
err_t token_sign_raw(const struct keyring *r, const void *header, size_t hlen, const void *payload,
		     size_t plen, struct buf *out);

/*
 * Verify tok[0..len) at time now and fill *out with its claims. In order:
 * size and alphabet, three segments, strict base64url, the header (a strict
 * JSON object with alg "EdDSA", the kid of a key of r, no crit), a 64-byte
 * signature that verifies over "header.payload" (or a cache hit for these
 * exact bytes and this key), then the claims (a strict JSON object; integer
 * iat and exp; non-empty sub and sid; iss and aud ours; not expired and not
 * issued in the future beyond cfg->leeway). Strings the decoder copies go
 * into a (released with it); *out owns its own copies. These exact bytes,
 * verified before by a key r still has with the same issuer and audience,
 * are a cache hit: only the time checks run again (token.c).
 * Returns ERR_OK, ERR_UNAUTHENTICATED for any defect (*out is then zeroed),
 * or ERR_INTERNAL (out of memory).
 */
err_t token_verify(const struct keyring *r, const struct token_cfg *cfg, const char *tok,
		   size_t len, int64_t now, struct arena *a, struct claims *out);

/*
 * The signature step alone: whether sig[0..siglen) is the signature of
 * input[0..inlen) by the key of r named kid[0..kidlen).
 * Returns ERR_OK, ERR_UNAUTHENTICATED, or ERR_INTERNAL.
 */
err_t token_verify_signature(const struct keyring *r, const char *kid, size_t kidlen,
			     const void *input, size_t inlen, const unsigned char *sig,
			     size_t siglen);

/* Empty the verified-signature cache and zero its counters. */
void token_cache_clear(void);

/* How many token_verify calls skipped the signature check on a cache hit. */
uint64_t token_cache_hits(void);

#endif
