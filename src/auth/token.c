/*
 * token: signing and strict verification of EdDSA session tokens, and the
 * per-process cache of verified tokens (see token.h).
 *
 * The cache is direct-mapped: TOKEN_CACHE_SIZE entries indexed by the first
 * byte of SHA-256(token). An entry holds that digest, the kid and the raw
 * public key that verified the signature, and the claims as they were
 * checked. A hit needs the same digest (the exact token bytes: the same
 * header, claims and signature), the ring's key for that kid still being that
 * public key (a retired or replaced key misses), and the time checks again
 * (now < exp, exp and iat within the leeway); it skips the decoding, the
 * parsing and the Ed25519 check, whose answers for those bytes cannot have
 * changed. Checked against another token_cfg (issuer, audience), a hit skips
 * the Ed25519 check alone. Only tokens that passed every check are stored.
 */
#include "orgd/token.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "orgd/b64url.h"
#include "orgd/digest.h"
#include "orgd/json.h"

/* ---- the cache ------------------------------------------------------------ */

struct cache_entry {
	unsigned char digest[DIGEST_LEN];
	unsigned char pub[KEYRING_PUB_LEN];
	char kid[KEYRING_KID_LEN + 1];
	struct claims claims;  /* as checked; the time checks run again on a hit */
	char iss[32], aud[32]; /* the token_cfg they were checked against */
	bool used;
};

static struct cache_entry cache[TOKEN_CACHE_SIZE];
static uint64_t cache_hits;

void token_cache_clear(void)
{
	OPENSSL_cleanse(cache, sizeof cache);
	cache_hits = 0;
}

uint64_t token_cache_hits(void)
{
	return cache_hits;
}

static struct cache_entry *cache_slot(const unsigned char digest[DIGEST_LEN])
{
	return &cache[digest[0] % TOKEN_CACHE_SIZE];
}

/* The entry of exactly these token bytes, verified by a key the ring still has, or NULL. */
static const struct cache_entry *cache_hit(const struct keyring *r,
					   const unsigned char digest[DIGEST_LEN], int64_t now)
{
	struct cache_entry *e = cache_slot(digest);
	if (!e->used)
		return NULL;
	if (now >= e->claims.exp) {
		memset(e, 0, sizeof *e); /* dropped at exp */
		return NULL;
	}
	if (CRYPTO_memcmp(e->digest, digest, sizeof e->digest) != 0)
		return NULL;
	const struct keyring_key *k = keyring_find(r, e->kid, strlen(e->kid));
	return k && CRYPTO_memcmp(e->pub, keyring_pub(k), sizeof e->pub) == 0 ? e : NULL;
}

/* Were e's claims checked against cfg? */
static bool same_cfg(const struct cache_entry *e, const struct token_cfg *cfg)
{
	return strcmp(e->iss, cfg->iss) == 0 && strcmp(e->aud, cfg->aud) == 0;
}

static void cache_put(const unsigned char digest[DIGEST_LEN], const struct keyring_key *k,
		      const struct token_cfg *cfg, const struct claims *c)
{
	struct cache_entry *e = cache_slot(digest);
	if (strlen(cfg->iss) >= sizeof e->iss || strlen(cfg->aud) >= sizeof e->aud)
		return; /* not ours to compare later: never a hit */
	snprintf(e->iss, sizeof e->iss, "%s", cfg->iss);
	snprintf(e->aud, sizeof e->aud, "%s", cfg->aud);
	memcpy(e->digest, digest, sizeof e->digest);
	memcpy(e->pub, keyring_pub(k), sizeof e->pub);
	snprintf(e->kid, sizeof e->kid, "%s", keyring_kid(k));
	e->claims = *c;
	e->used = true;
}

/* ---- signing ---------------------------------------------------------------- */

err_t token_sign_raw(const struct keyring *r, const void *header, size_t hlen, const void *payload,
		     size_t plen, struct buf *out)
{
	const struct keyring_key *k = keyring_signer(r);
	if (!k || out->oom)
		return ERR_INTERNAL;
	size_t start = out->len;
	b64url_encode_buf(out, header, hlen);
	buf_putc(out, '.');
	b64url_encode_buf(out, payload, plen);
	unsigned char sig[KEYRING_SIG_LEN];
	err_t err = ERR_INTERNAL;
	if (!out->oom)
		err = keyring_sign(k, out->p + start, out->len - start, sig);
	if (err == ERR_OK) {
		buf_putc(out, '.');
		b64url_encode_buf(out, sig, sizeof sig);
	}
	if (err == ERR_OK && out->oom)
		err = ERR_INTERNAL;
	if (err) {
		out->len = start;
		out->oom = false;
	}
	return err;
}

/* s is NUL-terminated within n bytes and not empty. */
static bool filled(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	return len > 0 && len < n;
}

err_t token_sign(const struct keyring *r, const struct token_cfg *cfg, const struct claims *c,
		 struct buf *out)
{
	const struct keyring_key *k = keyring_signer(r);
	bool has_org = c->org[0] != '\0';
	if (!k || !filled(c->sub, sizeof c->sub) || !filled(c->sid, sizeof c->sid) ||
	    (has_org && !filled(c->org, sizeof c->org)) ||
	    (has_org && !filled(c->role, sizeof c->role)) || (!has_org && c->role[0]))
		return ERR_INTERNAL;

	struct buf hdr = {0}, pl = {0};
	struct jw w;
	jw_init(&w, &hdr);
	jw_obj(&w);
	jw_kstr(&w, "alg", "EdDSA");
	jw_kstr(&w, "typ", "JWT");
	jw_kstr(&w, "kid", keyring_kid(k));
	jw_obj_end(&w);

	jw_init(&w, &pl);
	jw_obj(&w);
	jw_kstr(&w, "iss", cfg->iss);
	jw_kstr(&w, "aud", cfg->aud);
	jw_kstr(&w, "sub", c->sub);
	jw_kstr(&w, "sid", c->sid);
	jw_kint(&w, "iat", c->iat);
	jw_kint(&w, "exp", c->exp);
	if (has_org) {
		jw_kstr(&w, "org", c->org);
		jw_kstr(&w, "role", c->role);
	}
	jw_obj_end(&w);

	err_t err = ERR_INTERNAL;
	if (!hdr.oom && !pl.oom)
		err = token_sign_raw(r, hdr.p, hdr.len, pl.p, pl.len, out);
	buf_free(&hdr);
	buf_free(&pl);
	return err;
}

/* ---- verifying ---------------------------------------------------------------- */

struct jws_header {
	struct jstr alg, kid;
	struct jstrs crit; /* JF_ANY: presence only, never written */
};

static const struct jfield header_fields[] = {
	{"alg", JF_STRING, JF_REQUIRED, 0, 0, offsetof(struct jws_header, alg)},
	{"kid", JF_STRING, JF_REQUIRED, 0, 0, offsetof(struct jws_header, kid)},
	{"crit", JF_ANY, 0, 0, 0, offsetof(struct jws_header, crit)},
};
enum { HDR_ALG, HDR_KID, HDR_CRIT };

struct jws_claims {
	struct jstr iss, sub, sid, org, role;
	struct jstrs aud;
	int64_t iat, exp;
};

static const struct jfield claim_fields[] = {
	{"iss", JF_STRING, JF_REQUIRED, 0, 0, offsetof(struct jws_claims, iss)},
	{"aud", JF_STRS, JF_REQUIRED, 0, 0, offsetof(struct jws_claims, aud)},
	{"sub", JF_STRING, JF_REQUIRED, 1, TOKEN_ID_MAX, offsetof(struct jws_claims, sub)},
	{"sid", JF_STRING, JF_REQUIRED, 1, TOKEN_ID_MAX, offsetof(struct jws_claims, sid)},
	{"org", JF_STRING, 0, 1, TOKEN_ID_MAX, offsetof(struct jws_claims, org)},
	{"role", JF_STRING, 0, 1, 15, offsetof(struct jws_claims, role)},
	{"iat", JF_INT, JF_REQUIRED, INT64_MIN, INT64_MAX, offsetof(struct jws_claims, iat)},
	{"exp", JF_INT, JF_REQUIRED, INT64_MIN, INT64_MAX, offsetof(struct jws_claims, exp)},
};
enum { CL_ISS, CL_AUD, CL_SUB, CL_SID, CL_ORG, CL_ROLE, CL_IAT, CL_EXP };

static bool b64url_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

static bool jstr_eq(const struct jstr *s, const char *lit)
{
	size_t n = strlen(lit);
	return s->len == n && memcmp(s->s, lit, n) == 0;
}

/* s is a 1..max-byte string without NUL; copy it into dst (max + 1 bytes). */
static bool copy_id(char *dst, const struct jstr *s, size_t max)
{
	if (s->len == 0 || s->len > max || memchr(s->s, '\0', s->len))
		return false;
	memcpy(dst, s->s, s->len);
	dst[s->len] = '\0';
	return true;
}

/* The claims' times against now: not expired, not issued in the future, within the leeway. */
static err_t check_times(const struct token_cfg *cfg, const struct claims *c, int64_t now)
{
	int64_t leeway = cfg->leeway > 0 ? cfg->leeway : 0;
	int64_t lo, hi; /* now - leeway, now + leeway, saturated */
	if (__builtin_sub_overflow(now, leeway, &lo))
		lo = INT64_MIN;
	if (__builtin_add_overflow(now, leeway, &hi))
		hi = INT64_MAX;
	if (c->exp <= lo) /* expired beyond the leeway: now >= exp + leeway */
		return ERR_UNAUTHENTICATED;
	if (c->iat > hi) /* issued in the future beyond the leeway */
		return ERR_UNAUTHENTICATED;
	return ERR_OK;
}

/* The claims checks, after the signature. */
static err_t check_claims(const struct token_cfg *cfg, const unsigned char *pl, size_t plen,
			  int64_t now, struct arena *a, struct claims *out)
{
	struct jws_claims c = {0};
	uint32_t present;
	const char *bad;
	err_t err = json_decode((const char *)pl, plen, claim_fields,
				sizeof claim_fields / sizeof claim_fields[0], JSON_ALLOW_UNKNOWN,
				&c, &present, a, &bad);
	if (err)
		return err == ERR_INTERNAL ? ERR_INTERNAL : ERR_UNAUTHENTICATED;

	if (!copy_id(out->sub, &c.sub, TOKEN_ID_MAX) || !copy_id(out->sid, &c.sid, TOKEN_ID_MAX))
		return ERR_UNAUTHENTICATED;
	if ((present & 1u << CL_ORG) && !copy_id(out->org, &c.org, TOKEN_ID_MAX))
		return ERR_UNAUTHENTICATED;
	if (present & 1u << CL_ROLE) {
		if (!jstr_eq(&c.role, "owner") && !jstr_eq(&c.role, "admin") &&
		    !jstr_eq(&c.role, "member"))
			return ERR_UNAUTHENTICATED;
		memcpy(out->role, c.role.s, c.role.len + 1);
	}
	if (!jstr_eq(&c.iss, cfg->iss))
		return ERR_UNAUTHENTICATED;
	bool aud_ok = false;
	for (int i = 0; i < c.aud.n; i++)
		aud_ok |= jstr_eq(&c.aud.v[i], cfg->aud);
	if (!aud_ok)
		return ERR_UNAUTHENTICATED;

	out->iat = c.iat;
	out->exp = c.exp;
	return check_times(cfg, out, now);
}

err_t token_verify_signature(const struct keyring *r, const char *kid, size_t kidlen,
			     const void *input, size_t inlen, const unsigned char *sig,
			     size_t siglen)
{
	const struct keyring_key *k = keyring_find(r, kid, kidlen);
	if (!k || siglen != KEYRING_SIG_LEN)
		return ERR_UNAUTHENTICATED;
	return keyring_verify(k, input, inlen, sig, siglen);
}

/* The steps of token_verify; out is zeroed by the caller on failure. */
static err_t verify(const struct keyring *r, const struct token_cfg *cfg, const char *tok,
		    size_t len, int64_t now, struct arena *a, struct claims *out)
{
	/* 1. size and alphabet, 2. exactly three segments */
	if (len == 0 || len > TOKEN_MAX)
		return ERR_UNAUTHENTICATED;
	/* 0. these exact bytes passed every check before: the time checks alone again */
	unsigned char digest[DIGEST_LEN];
	const void *part = tok;
	digest_sha256(&part, &len, 1, digest);
	const struct cache_entry *e = cache_hit(r, digest, now);
	if (e)
		cache_hits++;
	if (e && same_cfg(e, cfg)) {
		*out = e->claims;
		return check_times(cfg, out, now);
	}
	/* else all of it, but for the signature of a hit (checked against another cfg) */
	size_t dot[2], ndots = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)tok[i];
		if (ch == '.') {
			if (ndots == 2)
				return ERR_UNAUTHENTICATED;
			dot[ndots++] = i;
		} else if (!b64url_char(ch)) {
			return ERR_UNAUTHENTICATED;
		}
	}
	if (ndots != 2)
		return ERR_UNAUTHENTICATED;

	/* 3. each segment strict base64url */
	unsigned char hdr[B64URL_DEC_MAX(TOKEN_MAX)], pl[B64URL_DEC_MAX(TOKEN_MAX)];
	unsigned char sig[B64URL_DEC_MAX(TOKEN_MAX)];
	size_t hlen, plen, siglen;
	if (b64url_decode(tok, dot[0], hdr, sizeof hdr, &hlen) ||
	    b64url_decode(tok + dot[0] + 1, dot[1] - dot[0] - 1, pl, sizeof pl, &plen) ||
	    b64url_decode(tok + dot[1] + 1, len - dot[1] - 1, sig, sizeof sig, &siglen))
		return ERR_UNAUTHENTICATED;

	/* 4. the header: alg EdDSA exactly, a kid of ours, no crit */
	struct jws_header h = {0};
	uint32_t present;
	const char *bad;
	err_t err = json_decode((const char *)hdr, hlen, header_fields,
				sizeof header_fields / sizeof header_fields[0], JSON_ALLOW_UNKNOWN,
				&h, &present, a, &bad);
	if (err)
		return err == ERR_INTERNAL ? ERR_INTERNAL : ERR_UNAUTHENTICATED;
	if (!jstr_eq(&h.alg, "EdDSA"))
		return ERR_UNAUTHENTICATED;
	const struct keyring_key *k = keyring_find(r, h.kid.s, h.kid.len);
	if (!k) /* an Ed25519 key: EdDSA is the only algorithm it does */
		return ERR_UNAUTHENTICATED;
	if (present & 1u << HDR_CRIT)
		return ERR_UNAUTHENTICATED;

	/* 5. the signature over "header.payload" */
	if (siglen != KEYRING_SIG_LEN)
		return ERR_UNAUTHENTICATED;
	if (!e && (err = keyring_verify(k, tok, dot[1], sig, siglen)) != ERR_OK)
		return err;

	/* 6. the claims */
	err = check_claims(cfg, pl, plen, now, a, out);
	if (err)
		return err;
	if (!e && out->exp > now)
		cache_put(digest, k, cfg, out);
	return ERR_OK;
}

err_t token_verify(const struct keyring *r, const struct token_cfg *cfg, const char *tok,
		   size_t len, int64_t now, struct arena *a, struct claims *out)
{
	memset(out, 0, sizeof *out);
	err_t err = verify(r, cfg, tok, len, now, a, out);
	if (err)
		memset(out, 0, sizeof *out);
	return err;
}
