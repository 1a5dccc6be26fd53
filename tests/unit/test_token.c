/*
 * test_token: the key ring (PEM, RFC 7638 kids, JWKS, loading a directory),
 * RFC 8037 A.4, signing, every "Session tokens -> 401" case of SECURITY.md
 * that token_verify owns, and the verified-signature cache.
 *
 * Bad tokens are made by signing crafted header and claims bytes with a test
 * key (token_sign_raw), so each carries exactly its one defect; every group
 * also checks that the same token without the defect verifies.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "orgd/b64url.h"
#include "orgd/json.h"
#include "orgd/keyring.h"
#include "orgd/token.h"
#include "t.h"
#include "vectors/keys.h"

#define NOW INT64_C(1700000000)

static struct keyring *ring; /* K1: our signer */
static struct keyring *atk;  /* the attacker's */
static char kid1[KEYRING_KID_LEN + 1], kid_atk[KEYRING_KID_LEN + 1];
static const struct token_cfg cfg = {.iss = "orgd", .aud = "rule-engine", .leeway = 60};
static struct arena arena;

#define HDR "{\"alg\":\"EdDSA\",\"typ\":\"JWT\",\"kid\":\"$KID\"}"
#define CLAIMS_AT(iat, exp)                                                                        \
	"{\"iss\":\"orgd\",\"aud\":\"rule-engine\",\"sub\":\"u1\",\"sid\":\"s1\",\"iat\":" #iat    \
	",\"exp\":" #exp "}"
#define CLAIMS CLAIMS_AT(1699999990, 1700003600)

static struct keyring *ring_of(const char *pem)
{
	struct keyring *r = NULL;
	if (keyring_new(&r) != ERR_OK || keyring_add_pem(r, pem, strlen(pem)) != ERR_OK) {
		printf("FAIL setup: keyring\n");
		exit(1);
	}
	return r;
}

/* A fresh copy of in with "$KID" replaced by our kid and "$ATK" by the attacker's. */
static char *subst(const char *in, size_t n, size_t *outlen)
{
	char *out = malloc(n * 11 + 64); /* each 4-byte name becomes 43 bytes */
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		if (n - i >= 4 && memcmp(in + i, "$KID", 4) == 0) {
			memcpy(out + o, kid1, KEYRING_KID_LEN);
			o += KEYRING_KID_LEN;
			i += 4;
		} else if (n - i >= 4 && memcmp(in + i, "$ATK", 4) == 0) {
			memcpy(out + o, kid_atk, KEYRING_KID_LEN);
			o += KEYRING_KID_LEN;
			i += 4;
		} else {
			out[o++] = in[i++];
		}
	}
	out[o] = '\0';
	*outlen = o;
	return out;
}

/* Everything crafted lives until the end of the run. */
static char **kept;
static size_t nkept, capkept;

static char *keep(char *p)
{
	if (nkept == capkept) {
		capkept = capkept ? capkept * 2 : 256;
		kept = realloc(kept, capkept * sizeof *kept);
		if (!kept) {
			printf("FAIL setup: out of memory\n");
			exit(1);
		}
	}
	return kept[nkept++] = p;
}

/* A token of header h[0..hn) and claims c[0..cn) (after subst) signed by r. */
static char *craft_n(struct keyring *r, const char *h, size_t hn, const char *c, size_t cn)
{
	size_t hl, cl;
	char *hs = subst(h, hn, &hl), *cs = subst(c, cn, &cl);
	struct buf b = {0};
	if (token_sign_raw(r, hs, hl, cs, cl, &b) != ERR_OK) {
		printf("FAIL setup: token_sign_raw\n");
		exit(1);
	}
	buf_putc(&b, '\0');
	free(hs);
	free(cs);
	return keep(b.p);
}

static char *craft(const char *h, const char *c)
{
	return craft_n(ring, h, strlen(h), c, strlen(c));
}

static err_t verify_with(struct keyring *r, const struct token_cfg *tc, const char *tok, size_t n,
			 int64_t now, struct claims *out)
{
	struct claims tmp;
	err_t e = token_verify(r, tc, tok, n, now, &arena, out ? out : &tmp);
	arena_reset(&arena);
	return e;
}

/* Verify tok against our ring at NOW, with an empty cache. */
static err_t check_n(const char *tok, size_t n)
{
	token_cache_clear();
	return verify_with(ring, &cfg, tok, n, NOW, NULL);
}

static err_t check(const char *tok)
{
	return check_n(tok, strlen(tok));
}

#define OK(tok)  CHECK(check(tok) == ERR_OK)
#define BAD(tok) CHECK(check(tok) == ERR_UNAUTHENTICATED)

/* A copy of tok (kept) with its signature segment replaced by sig. */
static char *with_sig(const char *tok, const char *sig)
{
	const char *dot = strrchr(tok, '.');
	size_t n = (size_t)(dot + 1 - tok);
	char *out = malloc(n + strlen(sig) + 1);
	memcpy(out, tok, n);
	strcpy(out + n, sig);
	return keep(out);
}

/* A copy of tok with s inserted at i. */
static char *with_insert(const char *tok, size_t i, const char *s)
{
	size_t n = strlen(tok), k = strlen(s);
	char *out = malloc(n + k + 1);
	memcpy(out, tok, i);
	memcpy(out + i, s, k);
	memcpy(out + i + k, tok + i, n - i + 1);
	return keep(out);
}

static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/*
 * input, ".", and the base64url of our signer's signature of input: a token
 * whose segments before the last are exactly input, however malformed, and
 * whose signature is good, so only the defect planted in input remains.
 */
static char *sign_input(const char *input)
{
	unsigned char sig[KEYRING_SIG_LEN];
	char s64[B64URL_ENC_LEN(KEYRING_SIG_LEN) + 1];
	size_t n = strlen(input);
	if (keyring_sign(keyring_signer(ring), input, n, sig) != ERR_OK) {
		printf("FAIL setup: keyring_sign\n");
		exit(1);
	}
	b64url_encode(sig, sizeof sig, s64);
	char *out = malloc(n + 1 + sizeof s64);
	memcpy(out, input, n);
	out[n] = '.';
	strcpy(out + n + 1, s64);
	return keep(out);
}

/* a "." b, kept. */
static char *join(const char *a, const char *b)
{
	size_t n = strlen(a), k = strlen(b);
	char *out = malloc(n + k + 2);
	memcpy(out, a, n);
	out[n] = '.';
	memcpy(out + n + 1, b, k + 1);
	return keep(out);
}

/* ---- the key ring ------------------------------------------------------- */

/* A PKCS#8 PEM of the Ed25519 seed 32 x s. */
static void seed_pem(unsigned char s, char *out, size_t outsz)
{
	static const unsigned char prefix[16] = {0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06,
						 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20};
	unsigned char der[48];
	char b64[B64URL_ENC_LEN(48) + 1];
	memcpy(der, prefix, 16);
	memset(der + 16, s, 32);
	b64url_encode(der, sizeof der, b64); /* 48 bytes: no padding either way */
	for (char *p = b64; *p; p++)
		*p = *p == '-' ? '+' : *p == '_' ? '/' : *p;
	snprintf(out, outsz, "-----BEGIN PRIVATE KEY-----\n%s\n-----END PRIVATE KEY-----\n", b64);
}

TEST(keyring_rfc7638_kid_and_jwks)
{
	struct keyring *r = ring_of(KEY_RFC_PUB);
	CHECK(keyring_count(r) == 1);
	CHECK(keyring_signer(r) == NULL);
	const struct keyring_key *k = keyring_find(r, KEY_RFC_KID, strlen(KEY_RFC_KID));
	CHECK(k != NULL);
	CHECK(k && strcmp(keyring_kid(k), KEY_RFC_KID) == 0);
	CHECK(keyring_find(r, KEY_RFC_KID, strlen(KEY_RFC_KID) - 1) == NULL);
	struct buf b = {0};
	struct jw w;
	jw_init(&w, &b);
	keyring_jwks(r, &w);
	buf_putc(&b, '\0');
	CHECK_EQ_STR(b.p, "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" KEY_RFC_X
			  "\",\"kid\":\"" KEY_RFC_KID "\",\"alg\":\"EdDSA\",\"use\":\"sig\"}]}");
	buf_free(&b);
	keyring_free(r);
}

TEST(keyring_dedupes_and_picks_signer)
{
	struct keyring *r = ring_of(KEY_RFC_PUB);
	CHECK(keyring_add_pem(r, KEY_RFC_PRIV, strlen(KEY_RFC_PRIV)) == ERR_OK);
	CHECK(keyring_add_pem(r, KEY_RFC_PUB, strlen(KEY_RFC_PUB)) == ERR_OK);
	CHECK(keyring_count(r) == 1); /* one key, now with its private half */
	CHECK(keyring_signer(r) && strcmp(keyring_kid(keyring_signer(r)), KEY_RFC_KID) == 0);
	CHECK(keyring_add_pem(r, KEY_K1_PRIV, strlen(KEY_K1_PRIV)) == ERR_OK);
	CHECK(keyring_add_pem(r, KEY_K1_PUB, strlen(KEY_K1_PUB)) == ERR_OK);
	CHECK(keyring_count(r) == 2);
	CHECK(keyring_signer(r) && strcmp(keyring_kid(keyring_signer(r)), kid1) == 0);
	struct buf b = {0};
	struct jw w;
	jw_init(&w, &b);
	keyring_jwks(r, &w);
	buf_putc(&b, '\0');
	/* two keys, each once, no private member anywhere */
	const char *p = b.p;
	int n = 0;
	while ((p = strstr(p, "\"kty\":\"OKP\"")) != NULL)
		n++, p++;
	CHECK(n == 2);
	CHECK(strstr(b.p, "\"d\"") == NULL);
	buf_free(&b);
	keyring_free(r);
	keyring_free(NULL);
}

TEST(keyring_refuses_non_ed25519)
{
	struct keyring *r;
	CHECK(keyring_new(&r) == ERR_OK);
	static const char *bad[] = {
		KEY_P256_PRIV,
		KEY_X25519_PRIV,
		KEY_X25519_PUB,
		KEY_ED448_PUB,
		"",
		"garbage",
		"-----BEGIN PRIVATE KEY-----\nMC4CAQAw\n-----END PRIVATE KEY-----\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK(keyring_add_pem(r, bad[i], strlen(bad[i])) == ERR_INVALID);
	CHECK(keyring_count(r) == 0);
	CHECK(keyring_signer(r) == NULL);
	keyring_free(r);
}

TEST(keyring_at_most_16)
{
	struct keyring *r;
	char pem[256];
	CHECK(keyring_new(&r) == ERR_OK);
	for (int i = 0; i < KEYRING_MAX; i++) {
		seed_pem((unsigned char)(0x40 + i), pem, sizeof pem);
		CHECK(keyring_add_pem(r, pem, strlen(pem)) == ERR_OK);
	}
	seed_pem(0x40, pem, sizeof pem); /* a key it has: merged, fine */
	CHECK(keyring_add_pem(r, pem, strlen(pem)) == ERR_OK);
	seed_pem(0x40 + KEYRING_MAX, pem, sizeof pem);
	CHECK(keyring_add_pem(r, pem, strlen(pem)) == ERR_INTERNAL);
	CHECK(keyring_count(r) == KEYRING_MAX);
	keyring_free(r);
}

static void put_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		printf("FAIL setup: %s\n", path);
		exit(1);
	}
}

static void rm_dir(const char *dir, const char *const *names, size_t n)
{
	char path[512];
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
}

TEST(keyring_load_dir)
{
	char dir[] = "/tmp/orgd-test-keys-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	static const char *const names[] = {
		"20240101000000.pem",
		"20250101000000.pem",
		"20230101000000.pem",
		"20240601000000.pem",
		"ec.pem",
		"notes.txt",
		".20990101000000.pem",
		"sub.pem",
	};
	put_file(dir, names[0], KEY_K1_PRIV);
	put_file(dir, names[1], KEY_K2_PRIV);
	put_file(dir, names[2], KEY_RFC_PUB);
	put_file(dir, names[3], KEY_K1_PUB); /* K1 again: merged */
	put_file(dir, names[4], KEY_P256_PRIV);
	put_file(dir, names[5], KEY_ATK_PRIV); /* not *.pem: ignored */
	put_file(dir, names[6], KEY_ATK_PRIV); /* hidden: ignored */
	char sub[600];
	snprintf(sub, sizeof sub, "%s/sub.pem", dir);
	CHECK(mkdir(sub, 0700) == 0); /* not a regular file: skipped */

	struct keyring *r = NULL;
	fprintf(stderr, "(test_token: the two skip lines below are expected)\n");
	CHECK(keyring_load(dir, &r) == ERR_OK);
	CHECK(r && keyring_count(r) == 3);
	struct keyring *k2 = ring_of(KEY_K2_PRIV);
	const char *want = keyring_kid(keyring_signer(k2));
	CHECK(r && keyring_signer(r) && strcmp(keyring_kid(keyring_signer(r)), want) == 0);
	CHECK(r && keyring_find(r, kid1, strlen(kid1)) != NULL);
	CHECK(r && keyring_find(r, KEY_RFC_KID, strlen(KEY_RFC_KID)) != NULL);
	CHECK(r && keyring_find(r, kid_atk, strlen(kid_atk)) == NULL);
	/* the loaded signer's tokens verify with a ring holding only its public half */
	struct buf b = {0};
	struct claims c = {.sub = "u", .sid = "s", .iat = NOW, .exp = NOW + 10};
	CHECK(r && token_sign(r, &cfg, &c, &b) == ERR_OK);
	CHECK(verify_with(k2, &cfg, b.p, b.len, NOW, NULL) == ERR_OK);
	CHECK(verify_with(ring, &cfg, b.p, b.len, NOW, NULL) == ERR_UNAUTHENTICATED);
	buf_free(&b);
	keyring_free(k2);
	keyring_free(r);
	rmdir(sub); /* the directory named like a key */
	rm_dir(dir, names, sizeof names / sizeof names[0]);
}

TEST(keyring_load_refusals)
{
	struct keyring *r = (struct keyring *)1;
	fprintf(stderr, "(test_token: the error lines below are expected)\n");
	CHECK(keyring_load("/nonexistent/orgd-keys", &r) == ERR_INTERNAL && r == NULL);

	char dir[] = "/tmp/orgd-test-keys-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	static const char *const names[] = {"a.pem", "b.pem"};
	put_file(dir, names[0], KEY_RFC_PUB); /* public keys only: nothing signs */
	CHECK(keyring_load(dir, &r) == ERR_INTERNAL && r == NULL);
	rm_dir(dir, names, 1);

	char dir2[] = "/tmp/orgd-test-keys-XXXXXX";
	CHECK(mkdtemp(dir2) != NULL);
	char name[KEYRING_MAX + 1][32], pem[256];
	const char *ptrs[KEYRING_MAX + 1];
	for (int i = 0; i <= KEYRING_MAX; i++) {
		snprintf(name[i], sizeof name[i], "k%02d.pem", i);
		seed_pem((unsigned char)(0x60 + i), pem, sizeof pem);
		put_file(dir2, name[i], pem);
		ptrs[i] = name[i];
	}
	CHECK(keyring_load(dir2, &r) == ERR_INTERNAL && r == NULL); /* 17 keys */
	rm_dir(dir2, ptrs, KEYRING_MAX + 1);
}

/* ---- RFC 8037 A.4 ----------------------------------------------------------- */

#define RFC_INPUT "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
#define RFC_SIG                                                                                    \
	"hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"

TEST(rfc8037_signature_verifies)
{
	struct keyring *r = ring_of(KEY_RFC_PUB);
	unsigned char sig[64];
	size_t n;
	CHECK(b64url_decode(RFC_SIG, strlen(RFC_SIG), sig, sizeof sig, &n) == ERR_OK && n == 64);
	CHECK(token_verify_signature(r, KEY_RFC_KID, strlen(KEY_RFC_KID), RFC_INPUT,
				     strlen(RFC_INPUT), sig, 64) == ERR_OK);
	/* one byte of input, one bit of signature, the length, another kid */
	char in[] = RFC_INPUT;
	in[5] ^= 1;
	CHECK(token_verify_signature(r, KEY_RFC_KID, strlen(KEY_RFC_KID), in, strlen(in), sig,
				     64) == ERR_UNAUTHENTICATED);
	sig[10] ^= 0x20;
	CHECK(token_verify_signature(r, KEY_RFC_KID, strlen(KEY_RFC_KID), RFC_INPUT,
				     strlen(RFC_INPUT), sig, 64) == ERR_UNAUTHENTICATED);
	sig[10] ^= 0x20;
	CHECK(token_verify_signature(r, KEY_RFC_KID, strlen(KEY_RFC_KID), RFC_INPUT,
				     strlen(RFC_INPUT), sig, 63) == ERR_UNAUTHENTICATED);
	CHECK(token_verify_signature(r, kid1, strlen(kid1), RFC_INPUT, strlen(RFC_INPUT), sig,
				     64) == ERR_UNAUTHENTICATED);
	keyring_free(r);
}

TEST(rfc8037_signing_is_byte_exact)
{
	struct keyring *r = ring_of(KEY_RFC_PRIV);
	struct buf b = {0};
	static const char hdr[] = "{\"alg\":\"EdDSA\"}", pl[] = "Example of Ed25519 signing";
	CHECK(token_sign_raw(r, hdr, strlen(hdr), pl, strlen(pl), &b) == ERR_OK);
	buf_putc(&b, '\0');
	CHECK_EQ_STR(b.p, RFC_INPUT "." RFC_SIG);
	buf_free(&b);
	keyring_free(r);
}

TEST(rfc8037_jws_is_not_a_session)
{
	struct keyring *r = ring_of(KEY_RFC_PRIV);
	static const char jws[] = RFC_INPUT "." RFC_SIG;
	token_cache_clear();
	CHECK(verify_with(r, &cfg, jws, strlen(jws), NOW, NULL) == ERR_UNAUTHENTICATED);
	/* with a kid it is still refused: the payload is not JSON */
	struct buf b = {0};
	static const char hdr[] = "{\"alg\":\"EdDSA\",\"kid\":\"" KEY_RFC_KID "\"}";
	static const char pl[] = "Example of Ed25519 signing";
	CHECK(token_sign_raw(r, hdr, strlen(hdr), pl, strlen(pl), &b) == ERR_OK);
	CHECK(verify_with(r, &cfg, b.p, b.len, NOW, NULL) == ERR_UNAUTHENTICATED);
	/* and the same key with session claims passes */
	buf_clear(&b);
	static const char cl[] = CLAIMS;
	CHECK(token_sign_raw(r, hdr, strlen(hdr), cl, strlen(cl), &b) == ERR_OK);
	CHECK(verify_with(r, &cfg, b.p, b.len, NOW, NULL) == ERR_OK);
	buf_free(&b);
	keyring_free(r);
}

/* ---- signing ---------------------------------------------------------------- */

/* The decoded segment i of tok, NUL-terminated, kept. */
static char *segment(const char *tok, int i)
{
	const char *s = tok;
	for (int k = 0; k < i; k++)
		s = strchr(s, '.') + 1;
	const char *e = strchr(s, '.');
	size_t n = e ? (size_t)(e - s) : strlen(s), len;
	char *out = calloc(1, n + 1);
	if (b64url_decode(s, n, out, n + 1, &len) != ERR_OK)
		out[0] = '\0';
	return keep(out);
}

TEST(sign_then_verify)
{
	struct claims c = {.sub = "user_1", .sid = "sess_1", .iat = NOW - 5, .exp = NOW + 43200};
	struct buf b = {0};
	buf_puts(&b, "Bearer ");
	CHECK(token_sign(ring, &cfg, &c, &b) == ERR_OK);
	buf_putc(&b, '\0');
	const char *tok = b.p + 7;
	char want[256];
	snprintf(want, sizeof want, "{\"alg\":\"EdDSA\",\"typ\":\"JWT\",\"kid\":\"%s\"}", kid1);
	CHECK_EQ_STR(segment(tok, 0), want);
	CHECK_EQ_STR(segment(tok, 1),
		     "{\"iss\":\"orgd\",\"aud\":\"rule-engine\",\"sub\":\"user_1\","
		     "\"sid\":\"sess_1\",\"iat\":1699999995,\"exp\":1700043200}");
	struct claims out;
	token_cache_clear();
	CHECK(verify_with(ring, &cfg, tok, strlen(tok), NOW, &out) == ERR_OK);
	CHECK_EQ_STR(out.sub, "user_1");
	CHECK_EQ_STR(out.sid, "sess_1");
	CHECK_EQ_STR(out.org, "");
	CHECK_EQ_STR(out.role, "");
	CHECK(out.iat == NOW - 5 && out.exp == NOW + 43200);

	/* scoped to an organization */
	struct claims o = c;
	strcpy(o.org, "org_9");
	strcpy(o.role, "admin");
	buf_clear(&b);
	CHECK(token_sign(ring, &cfg, &o, &b) == ERR_OK);
	CHECK(strstr(segment(b.p, 1), ",\"org\":\"org_9\",\"role\":\"admin\"}") != NULL);
	token_cache_clear();
	CHECK(verify_with(ring, &cfg, b.p, b.len, NOW, &out) == ERR_OK);
	CHECK_EQ_STR(out.org, "org_9");
	CHECK_EQ_STR(out.role, "admin");
	buf_free(&b);
}

TEST(sign_refusals)
{
	struct buf b = {0};
	buf_puts(&b, "keep");
	struct claims ok = {.sub = "u", .sid = "s", .iat = NOW, .exp = NOW + 1};
	struct claims c = ok;
	c.sub[0] = '\0';
	CHECK(token_sign(ring, &cfg, &c, &b) == ERR_INTERNAL);
	c = ok;
	c.sid[0] = '\0';
	CHECK(token_sign(ring, &cfg, &c, &b) == ERR_INTERNAL);
	c = ok;
	memset(c.sub, 'a', sizeof c.sub); /* not NUL-terminated */
	CHECK(token_sign(ring, &cfg, &c, &b) == ERR_INTERNAL);
	c = ok;
	strcpy(c.role, "owner"); /* a role without an organization */
	CHECK(token_sign(ring, &cfg, &c, &b) == ERR_INTERNAL);
	struct keyring *pub = ring_of(KEY_K1_PUB); /* nothing to sign with */
	CHECK(token_sign(pub, &cfg, &ok, &b) == ERR_INTERNAL);
	CHECK(token_sign_raw(pub, "{}", 2, "{}", 2, &b) == ERR_INTERNAL);
	keyring_free(pub);
	CHECK(b.len == 4 && memcmp(b.p, "keep", 4) == 0);
	CHECK(token_sign(ring, &cfg, &ok, &b) == ERR_OK);
	buf_free(&b);
}

/* ---- SECURITY.md "Session tokens -> 401" ------------------------------------ */

TEST(valid_token_verifies)
{
	OK(craft(HDR, CLAIMS));
	OK(craft("{\"alg\":\"EdDSA\",\"kid\":\"$KID\"}", CLAIMS)); /* typ is optional */
	/* unknown claims and header members are ignored */
	OK(craft(
		"{\"alg\":\"EdDSA\",\"kid\":\"$KID\",\"x\":{\"y\":[1,2,{}]}}",
		"{\"iss\":\"orgd\",\"aud\":\"rule-engine\",\"sub\":\"u1\",\"sid\":\"s1\",\"iat\":1,"
		"\"exp\":1700003600,\"nbf\":1,\"foo\":{\"bar\":[null,true]}}"));
	/* whitespace inside the JSON is JSON's business */
	OK(craft(" {\"alg\" : \"EdDSA\",\n\"kid\":\"$KID\"} ", CLAIMS));
}

TEST(alg_must_be_eddsa)
{
	static const char *algs[] = {
		"\"none\"",  "\"None\"",    "\"NONE\"",   "\"HS256\"",        "\"HS512\"",
		"\"RS256\"", "\"ES256\"",   "\"EdDSA \"", "\" EdDSA\"",       "\"eddsa\"",
		"\"EDDSA\"", "\"Ed25519\"", "\"EdDS\"",   "\"EdDSAx\"",       "null",
		"1",         "[\"EdDSA\"]", "{}",         "\"EdDSA\\u0000\"",
	};
	char h[256];
	for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++) {
		snprintf(h, sizeof h, "{\"alg\":%s,\"typ\":\"JWT\",\"kid\":\"$KID\"}", algs[i]);
		BAD(craft(h, CLAIMS));
	}
	BAD(craft("{\"typ\":\"JWT\",\"kid\":\"$KID\"}", CLAIMS)); /* no alg */
	/* alg none with an empty signature */
	char *t = craft("{\"alg\":\"none\",\"kid\":\"$KID\"}", CLAIMS);
	BAD(with_sig(t, ""));
	/* the control */
	OK(craft("{\"alg\":\"EdDSA\",\"typ\":\"JWT\",\"kid\":\"$KID\"}", CLAIMS));
}

TEST(kid_must_be_ours)
{
	BAD(craft("{\"alg\":\"EdDSA\",\"kid\":\"$ATK\"}", CLAIMS));
	BAD(craft("{\"alg\":\"EdDSA\"}", CLAIMS));
	BAD(craft("{\"alg\":\"EdDSA\",\"kid\":\"\"}", CLAIMS));
	BAD(craft("{\"alg\":\"EdDSA\",\"kid\":null}", CLAIMS));
	BAD(craft("{\"alg\":\"EdDSA\",\"kid\":1}", CLAIMS));
	BAD(craft("{\"alg\":\"EdDSA\",\"kid\":[\"$KID\"]}", CLAIMS));
	BAD(craft("{\"alg\":\"EdDSA\",\"kid\":\"$KIDx\"}", CLAIMS));
	BAD(craft("{\"alg\":\"EdDSA\",\"kid\":\" $KID\"}", CLAIMS));
	BAD(craft("{\"alg\":\"EdDSA\",\"kid\":\"$KID\\u0000\"}", CLAIMS));
	/* 42 characters of our kid */
	char h[128];
	snprintf(h, sizeof h, "{\"alg\":\"EdDSA\",\"kid\":\"%.42s\"}", kid1);
	BAD(craft(h, CLAIMS));
	OK(craft("{\"alg\":\"EdDSA\",\"kid\":\"$KID\"}", CLAIMS));
}

TEST(signature_shapes)
{
	char *t = craft(HDR, CLAIMS);
	const char *sig = strrchr(t, '.') + 1;
	CHECK(strlen(sig) == 86);
	OK(t);
	BAD(with_sig(t, ""));     /* empty */
	BAD(with_sig(t, "AAAA")); /* 3 bytes */
	char s[128];
	snprintf(s, sizeof s, "%.84s", sig); /* truncated: 63 bytes */
	BAD(with_sig(t, s));
	snprintf(s, sizeof s, "%.85s", sig); /* truncated: length 1 mod 4 */
	BAD(with_sig(t, s));
	snprintf(s, sizeof s, "%s==", sig); /* padded */
	BAD(with_sig(t, s));
	snprintf(s, sizeof s, "%sAA", sig); /* 65 bytes */
	BAD(with_sig(t, s));

	/* exactly 63 bytes: the signature's first 63 re-encoded */
	unsigned char raw[64];
	size_t n;
	CHECK(b64url_decode(sig, 86, raw, sizeof raw, &n) == ERR_OK && n == 64);
	b64url_encode(raw, 63, s);
	BAD(with_sig(t, s));
	/* every bit flipped in turn fails */
	for (int bit = 0; bit < 512; bit += 7) {
		raw[bit / 8] ^= (unsigned char)(1u << (bit % 8));
		b64url_encode(raw, 64, s);
		BAD(with_sig(t, s));
		raw[bit / 8] ^= (unsigned char)(1u << (bit % 8));
	}
	b64url_encode(raw, 64, s);
	OK(with_sig(t, s));

	/* non-canonical: the last character carries 4 unused bits */
	strcpy(s, sig);
	const char *pos = strchr(alpha, s[85]);
	CHECK(pos && ((pos - alpha) & 0x0f) == 0);
	s[85] = alpha[(pos - alpha) + 1];
	BAD(with_sig(t, s));

	/* the standard alphabet */
	strcpy(s, sig);
	s[0] = '+';
	BAD(with_sig(t, s));
	strcpy(s, sig);
	s[0] = '/';
	BAD(with_sig(t, s));
	/* '+'/'/' where the signature has '-'/'_' (a lenient decoder maps them) */
	for (int i = 0; i < 85; i++) {
		if (sig[i] == '-' || sig[i] == '_') {
			strcpy(s, sig);
			s[i] = sig[i] == '-' ? '+' : '/';
			BAD(with_sig(t, s));
		}
	}
	/* a valid signature of other bytes */
	char *other = craft(HDR, CLAIMS_AT(1699999990, 1700003601));
	BAD(with_sig(t, strrchr(other, '.') + 1));
	/* the payload changed under the signature */
	char *p = strdup(t);
	char *mid = strchr(p, '.') + 5;
	*mid = *mid == 'A' ? 'B' : 'A';
	BAD(keep(p));
}

TEST(segments_exactly_three)
{
	char *t = craft(HDR, CLAIMS);
	char buf[1024];
	snprintf(buf, sizeof buf, "%.*s", (int)(strrchr(t, '.') - t), t);
	BAD(buf); /* 2: no signature segment */
	snprintf(buf, sizeof buf, "%.*s%s", (int)(strchr(t, '.') - t), t, strrchr(t, '.'));
	BAD(buf); /* 2: no payload segment */
	snprintf(buf, sizeof buf, "%s.", t);
	BAD(buf); /* 4, empty last */
	snprintf(buf, sizeof buf, "%s.AAAA", t);
	BAD(buf); /* 4 */
	snprintf(buf, sizeof buf, ".%s", t);
	BAD(buf);
	BAD(with_insert(t, (size_t)(strchr(t, '.') - t), ".")); /* an empty segment */
	/* four segments whose first three carry a good signature, and the reverse */
	char *input = keep(strndup(t, (size_t)(strrchr(t, '.') - t)));
	BAD(sign_input(join(input, "AAAA")));
	BAD(join(t, strrchr(t, '.') + 1));
	BAD(sign_input(join(keep(strndup(t, (size_t)(strchr(t, '.') - t))), input)));
	OK(sign_input(input));
	BAD("");
	BAD(".");
	BAD("..");
	BAD("...");
	BAD("a.b");
	OK(t);
}

TEST(whitespace_inside)
{
	char *t = craft(HDR, CLAIMS);
	size_t n = strlen(t), d1 = (size_t)(strchr(t, '.') - t), d2 = (size_t)(strrchr(t, '.') - t);
	char *input = keep(strndup(t, d2));
	static const char *ws[] = {" ", "\t", "\n", "\r", "\v", "\f", "%20", "\xc2\xa0"};
	/* in the header or payload, signed as they are */
	size_t in_at[] = {0, 3, d1, d1 + 1, d1 + 7, d2};
	/* in the signature (which no signature covers) */
	size_t sig_at[] = {d2 + 1, d2 + 5, n - 2, n};
	for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) {
		for (size_t j = 0; j < sizeof in_at / sizeof in_at[0]; j++)
			BAD(sign_input(with_insert(input, in_at[j], ws[i])));
		for (size_t j = 0; j < sizeof sig_at / sizeof sig_at[0]; j++)
			BAD(with_insert(t, sig_at[j], ws[i]));
	}
	/* a NUL inside: the length counts, not the NUL */
	char *z = with_insert(t, d1 + 3, "A");
	z[d1 + 3] = '\0';
	CHECK(check_n(z, n + 1) == ERR_UNAUTHENTICATED);
	OK(sign_input(input));
	OK(t);
}

/*
 * The base64url of a JSON object (after subst) made of base (an object
 * without its closing brace) and a filler member, such that the encoding's
 * length is rem mod 4 and it holds both '-' and '_'; kept, or NULL.
 */
static char *shaped(const char *base, size_t rem)
{
	for (size_t fill = 0; fill < 60; fill++) {
		char j[512];
		int n = snprintf(j, sizeof j, "%s,\"f\":\"", base);
		for (size_t i = 0; i < fill; i++)
			j[n++] = "?>~?"[i % 4];
		strcpy(j + n, "\"}");
		size_t l;
		char *js = subst(j, strlen(j), &l);
		char *e = malloc(B64URL_ENC_LEN(l) + 1);
		b64url_encode(js, l, e);
		free(js);
		if (strlen(e) % 4 == rem && strchr(e, '-') && strchr(e, '_'))
			return keep(e);
		free(e);
	}
	return NULL;
}

/* The header or payload segment, strictly encoded except for one defect, is refused. */
TEST(segments_strict_base64url)
{
	static const char hbase[] = "{\"alg\":\"EdDSA\",\"typ\":\"JWT\",\"kid\":\"$KID\"";
	char cbase[256];
	snprintf(cbase, sizeof cbase, "%.*s", (int)strlen(CLAIMS) - 1, CLAIMS);
	for (size_t rem = 0; rem < 4; rem++) {
		if (rem == 1)
			continue;
		for (int which = 0; which < 2; which++) {
			char *h = shaped(hbase, which == 0 ? rem : 0);
			char *c = shaped(cbase, which == 1 ? rem : 0);
			CHECK(h && c);
			if (!h || !c)
				continue;
			char *seg = which == 0 ? h : c;
			size_t n = strlen(seg);
#define WITH(x) (which == 0 ? join((x), c) : join(h, (x)))
			OK(sign_input(WITH(seg)));
			/* padding */
			char *padded = calloc(1, n + 5);
			memcpy(padded, seg, n);
			memcpy(padded + n, "====", rem ? 4 - rem : 4);
			BAD(sign_input(WITH(keep(padded))));
			BAD(sign_input(WITH(with_insert(seg, n, "="))));
			/* the standard alphabet, each of '+' and '/' alone */
			char *plus = keep(strdup(seg)), *slash = keep(strdup(seg));
			*strchr(plus, '-') = '+';
			*strchr(slash, '_') = '/';
			BAD(sign_input(WITH(plus)));
			BAD(sign_input(WITH(slash)));
			/* non-canonical: set an unused low bit of the last character */
			if (rem) {
				char *nc = keep(strdup(seg));
				size_t v = (size_t)(strchr(alpha, nc[n - 1]) - alpha);
				CHECK((v & (rem == 2 ? 0x0f : 0x03)) == 0);
				nc[n - 1] = alpha[v + 1];
				BAD(sign_input(WITH(nc)));
			}
			/* a length of 1 mod 4 */
			BAD(sign_input(WITH(with_insert(seg, n,
							rem == 0   ? "A"
							: rem == 2 ? "AAA"
								   : "AA"))));
#undef WITH
		}
	}
}

TEST(json_must_be_an_object)
{
	static const char *not_obj[] = {"[]", "[{}]", "\"x\"", "1", "null", "true", "", " "};
	for (size_t i = 0; i < sizeof not_obj / sizeof not_obj[0]; i++) {
		BAD(craft(not_obj[i], CLAIMS));
		BAD(craft(HDR, not_obj[i]));
	}
	char arr[512];
	snprintf(arr, sizeof arr, "[%s]", CLAIMS);
	BAD(craft(HDR, arr));
	OK(craft(HDR, CLAIMS));
}

TEST(json_trailing_garbage)
{
	static const char *tails[] = {"x", "{}", ",", "}", "]", "\"\"", "0", "null", "\n}"};
	char h[256], c[512];
	for (size_t i = 0; i < sizeof tails / sizeof tails[0]; i++) {
		snprintf(h, sizeof h, "%s%s", HDR, tails[i]);
		BAD(craft(h, CLAIMS));
		snprintf(c, sizeof c, "%s%s", CLAIMS, tails[i]);
		BAD(craft(HDR, c));
	}
	/* a NUL after the object */
	BAD(craft_n(ring, HDR "\0", sizeof HDR, CLAIMS, strlen(CLAIMS)));
	BAD(craft_n(ring, HDR, strlen(HDR), CLAIMS "\0", sizeof CLAIMS));
	/* what json-c would let through */
	BAD(craft(HDR, "{'iss':'orgd'}"));
	BAD(craft(HDR, "{\"iss\":\"orgd\",\"aud\":\"rule-engine\",\"sub\":\"u1\",\"sid\":\"s1\","
		       "\"iat\":1699999990,\"exp\":1700003600,\"x\":NaN}"));
	BAD(craft(HDR, "{\"iss\":\"orgd\",\"aud\":\"rule-engine\",\"sub\":\"u1\",\"sid\":\"s1\","
		       "\"iat\":1699999990,\"exp\":1700003600,}"));
	BAD(craft(HDR, "{\"iss\":\"orgd\",\"aud\":\"rule-engine\",\"sub\":\"u1\",\"sid\":\"s1\","
		       "\"iat\":1699999990,\"exp\":1700003600 /* c */}"));
	OK(craft(HDR " \n", CLAIMS "\t"));
}

TEST(json_duplicate_names)
{
	BAD(craft("{\"alg\":\"none\",\"alg\":\"EdDSA\",\"kid\":\"$KID\"}", CLAIMS));
	BAD(craft("{\"alg\":\"EdDSA\",\"kid\":\"$ATK\",\"kid\":\"$KID\"}", CLAIMS));
	BAD(craft("{\"alg\":\"EdDSA\",\"kid\":\"$KID\",\"x\":1,\"x\":1}", CLAIMS));
	BAD(craft("{\"alg\":\"EdDSA\",\"kid\":\"$KID\",\"jwk\":{\"x\":1,\"x\":2}}", CLAIMS));
	BAD(craft(HDR, "{\"iss\":\"orgd\",\"aud\":\"rule-engine\",\"sub\":\"u1\",\"sid\":\"s1\","
		       "\"iat\":1699999990,\"exp\":1,\"exp\":1700003600}"));
	BAD(craft(HDR, "{\"iss\":\"orgd\",\"aud\":\"rule-engine\",\"sub\":\"u1\",\"sub\":\"u2\","
		       "\"sid\":\"s1\",\"iat\":1699999990,\"exp\":1700003600}"));
	BAD(craft(HDR, "{\"iss\":\"orgd\",\"aud\":\"rule-engine\",\"sub\":\"u1\",\"sid\":\"s1\","
		       "\"iat\":1699999990,\"exp\":1700003600,\"x\":[{\"a\":1,\"a\":1}]}"));
	/* the same name in different objects is fine */
	OK(craft(HDR, "{\"iss\":\"orgd\",\"aud\":\"rule-engine\",\"sub\":\"u1\",\"sid\":\"s1\","
		      "\"iat\":1699999990,\"exp\":1700003600,\"x\":[{\"sub\":1},{\"sub\":2}]}"));
}

TEST(json_invalid_utf8)
{
	static const char *bad[] = {
		"\xff",         "\xc3\x28",         "\xc0\xaf", "\xe0\x80\xaf",
		"\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82", "\\ud800",
		"\\udc00",      "\\ud800x",         "\x80",
	};
	char h[256], c[512];
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(h, sizeof h, "{\"alg\":\"EdDSA\",\"kid\":\"$KID\",\"typ\":\"%s\"}",
			 bad[i]);
		BAD(craft(h, CLAIMS));
		snprintf(c, sizeof c,
			 "{\"iss\":\"orgd\",\"aud\":\"rule-engine\",\"sub\":\"u%s\",\"sid\":\"s1\","
			 "\"iat\":1699999990,\"exp\":1700003600}",
			 bad[i]);
		BAD(craft(HDR, c));
	}
	/* valid UTF-8 and escapes are fine */
	OK(craft(
		"{\"alg\":\"EdDSA\",\"kid\":\"$KID\",\"typ\":\"\xc3\xa9\\ud83d\\ude00\"}",
		"{\"iss\":\"orgd\",\"aud\":\"rule-engine\",\"sub\":\"\xe2\x82\xac\",\"sid\":\"s1\","
		"\"iat\":1699999990,\"exp\":1700003600}"));
}

/* {"alg":"EdDSA","kid":"...","x":<depth - 1 nested arrays>} */
static char *deep_header(int depth)
{
	static char h[256];
	int n = snprintf(h, sizeof h, "{\"alg\":\"EdDSA\",\"kid\":\"$KID\",\"x\":");
	for (int i = 1; i < depth; i++)
		h[n++] = '[';
	for (int i = 1; i < depth; i++)
		h[n++] = ']';
	strcpy(h + n, "}");
	return h;
}

TEST(json_depth_limit)
{
	OK(craft(deep_header(JSON_MAX_DEPTH), CLAIMS));
	BAD(craft(deep_header(JSON_MAX_DEPTH + 1), CLAIMS));
	BAD(craft(deep_header(100), CLAIMS));
	char c[1024];
	int n = snprintf(c, sizeof c, "%.*s,\"x\":", (int)strlen(CLAIMS) - 1, CLAIMS);
	for (int i = 0; i < JSON_MAX_DEPTH; i++) /* 1 + 16 levels */
		c[n++] = '{', c[n++] = '"', c[n++] = 'a', c[n++] = '"', c[n++] = ':';
	c[n++] = '1';
	for (int i = 0; i < JSON_MAX_DEPTH; i++)
		c[n++] = '}';
	strcpy(c + n, "}");
	BAD(craft(HDR, c));
	/* one level less is fine */
	n = snprintf(c, sizeof c, "%.*s,\"x\":", (int)strlen(CLAIMS) - 1, CLAIMS);
	for (int i = 0; i < JSON_MAX_DEPTH - 1; i++)
		c[n++] = '{', c[n++] = '"', c[n++] = 'a', c[n++] = '"', c[n++] = ':';
	c[n++] = '1';
	for (int i = 0; i < JSON_MAX_DEPTH - 1; i++)
		c[n++] = '}';
	strcpy(c + n, "}");
	OK(craft(HDR, c));
}

/* A valid token padded with an unknown claim to exactly len bytes, or NULL. */
static char *token_of_len(size_t len)
{
	char pre[256];
	int n = snprintf(pre, sizeof pre, "%.*s,\"pad\":\"", (int)strlen(CLAIMS) - 1, CLAIMS);
	size_t base = (size_t)n + 2; /* the claims without padding */
	size_t fixed = strlen(craft(HDR, CLAIMS)) - B64URL_ENC_LEN(strlen(CLAIMS));
	if (len < fixed + B64URL_ENC_LEN(base))
		return NULL;
	size_t want = len - fixed, p = want / 4 * 3; /* claims bytes encoding to want */
	while (B64URL_ENC_LEN(p) < want)
		p++;
	if (B64URL_ENC_LEN(p) != want)
		return NULL; /* a length of 1 mod 4 */
	size_t pad = p - base;
	char *c = malloc(p + 1);
	memcpy(c, pre, (size_t)n);
	memset(c + n, 'p', pad);
	strcpy(c + n + pad, "\"}");
	char *t = craft(HDR, c);
	free(c);
	return strlen(t) == len ? t : NULL;
}

TEST(size_limit_4k)
{
	char *t = token_of_len(TOKEN_MAX);
	CHECK(t != NULL);
	if (t)
		OK(t);
	/* the shortest over the limit (one length in four cannot be made) */
	char *u = token_of_len(TOKEN_MAX + 1);
	if (!u)
		u = token_of_len(TOKEN_MAX + 2);
	CHECK(u != NULL && strlen(u) > TOKEN_MAX);
	if (u)
		BAD(u);
	char *big = token_of_len(100000);
	if (!big)
		big = token_of_len(100001);
	CHECK(big != NULL);
	if (big)
		BAD(big);
}

TEST(exp_and_iat_types)
{
	static const char *bad[] = {
		/* exp */
		"\"iat\":1699999990",
		"\"iat\":1699999990,\"exp\":\"1700003600\"",
		"\"iat\":1699999990,\"exp\":1700003600.0",
		"\"iat\":1699999990,\"exp\":1.7000036e9",
		"\"iat\":1699999990,\"exp\":true",
		"\"iat\":1699999990,\"exp\":1e99",
		"\"iat\":1699999990,\"exp\":null",
		"\"iat\":1699999990,\"exp\":[1700003600]",
		"\"iat\":1699999990,\"exp\":99999999999999999999",
		"\"iat\":1699999990,\"exp\":-1",
		/* iat */
		"\"exp\":1700003600",
		"\"iat\":\"1699999990\",\"exp\":1700003600",
		"\"iat\":1699999990.5,\"exp\":1700003600",
		"\"iat\":false,\"exp\":1700003600",
		"\"iat\":null,\"exp\":1700003600",
	};
	char c[512];
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(c, sizeof c,
			 "{\"iss\":\"orgd\",\"aud\":\"rule-engine\",\"sub\":\"u1\",\"sid\":\"s1\",%"
			 "s}",
			 bad[i]);
		BAD(craft(HDR, c));
	}
	OK(craft(HDR, "{\"iss\":\"orgd\",\"aud\":\"rule-engine\",\"sub\":\"u1\",\"sid\":\"s1\","
		      "\"iat\":1699999990,\"exp\":9223372036854775807}"));
	OK(craft(HDR, "{\"iss\":\"orgd\",\"aud\":\"rule-engine\",\"sub\":\"u1\",\"sid\":\"s1\","
		      "\"iat\":-9223372036854775808,\"exp\":1700003600}"));
}

TEST(exp_leeway)
{
	/* refused once now >= exp + leeway */
	BAD(craft(HDR, CLAIMS_AT(1699990000, 1699999940)));
	BAD(craft(HDR, CLAIMS_AT(1699990000, 1699999000)));
	OK(craft(HDR, CLAIMS_AT(1699990000, 1699999941)));
	OK(craft(HDR, CLAIMS_AT(1699990000, 1700000000)));
	OK(craft(HDR, CLAIMS_AT(1699990000, 1700000001)));
	/* with no leeway, exp == now is expired */
	struct token_cfg strict = cfg;
	strict.leeway = 0;
	token_cache_clear();
	char *t = craft(HDR, CLAIMS_AT(1699990000, 1700000000));
	CHECK(verify_with(ring, &strict, t, strlen(t), NOW, NULL) == ERR_UNAUTHENTICATED);
	CHECK(verify_with(ring, &strict, t, strlen(t), NOW - 1, NULL) == ERR_OK);
}

TEST(iat_in_future)
{
	BAD(craft(HDR, CLAIMS_AT(1700000061, 1700003600)));
	BAD(craft(HDR, CLAIMS_AT(1700003000, 1700003600)));
	OK(craft(HDR, CLAIMS_AT(1700000060, 1700003600)));
	OK(craft(HDR, CLAIMS_AT(1700000000, 1700003600)));
}

static char *claims_iss_aud(const char *iss_aud)
{
	static char c[512];
	snprintf(c, sizeof c,
		 "{%s,\"sub\":\"u1\",\"sid\":\"s1\",\"iat\":1699999990,\"exp\":1700003600}",
		 iss_aud);
	return c;
}

TEST(iss_must_be_ours)
{
	static const char *bad[] = {
		"\"iss\":\"orgd2\"", "\"iss\":\"org\"",
		"\"iss\":\"ORGD\"",  "\"iss\":\"orgd \"",
		"\"iss\":\"\"",      "\"iss\":\"xorgd\"",
		"\"iss\":1",         "\"iss\":[\"orgd\"]",
		"\"iss\":null",      "\"iss\":\"orgd\\u0000\"",
		"\"isss\":\"orgd\"",
	};
	char ia[128];
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(ia, sizeof ia, "%s,\"aud\":\"rule-engine\"", bad[i]);
		BAD(craft(HDR, claims_iss_aud(ia)));
	}
	BAD(craft(HDR, claims_iss_aud("\"aud\":\"rule-engine\""))); /* missing */
	OK(craft(HDR, claims_iss_aud("\"iss\":\"orgd\",\"aud\":\"rule-engine\"")));
}

TEST(aud_must_be_ours)
{
	static const char *bad[] = {
		"\"rule-engine-x\"",
		"\"rule-engin\"",
		"\"rule\"",
		"\"xrule-engine\"",
		"\"\"",
		"\"Rule-Engine\"",
		"1",
		"null",
		"[]",
		"[\"other\"]",
		"[\"rule-engine-x\",\"rule\"]",
		"[1,\"rule-engine\"]",
		"{\"rule-engine\":1}",
		"\"rule-engine\\u0000\"",
		"[\"rule-engine rule\"]",
	};
	char ia[128];
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(ia, sizeof ia, "\"iss\":\"orgd\",\"aud\":%s", bad[i]);
		BAD(craft(HDR, claims_iss_aud(ia)));
	}
	BAD(craft(HDR, claims_iss_aud("\"iss\":\"orgd\""))); /* missing */
	/* refused after sub and sid were read: nothing of them is left in out */
	char *t = craft(HDR, claims_iss_aud("\"iss\":\"orgd\",\"aud\":\"other\""));
	struct claims out;
	memset(&out, 'x', sizeof out);
	token_cache_clear();
	CHECK(verify_with(ring, &cfg, t, strlen(t), NOW, &out) == ERR_UNAUTHENTICATED);
	CHECK(out.sub[0] == '\0' && out.sid[0] == '\0' && out.exp == 0);
	OK(craft(HDR, claims_iss_aud("\"iss\":\"orgd\",\"aud\":\"rule-engine\"")));
	OK(craft(HDR, claims_iss_aud("\"iss\":\"orgd\",\"aud\":[\"rule-engine\"]")));
	OK(craft(HDR, claims_iss_aud("\"iss\":\"orgd\",\"aud\":[\"other\",\"rule-engine\"]")));
}

TEST(nul_in_string_claims)
{
	static const char *bad[] = {
		"\"sub\":\"u1\\u0000admin\",\"sid\":\"s1\"",
		"\"sub\":\"\\u0000\",\"sid\":\"s1\"",
		"\"sub\":\"u1\",\"sid\":\"s1\\u0000\"",
		"\"sub\":\"u1\",\"sid\":\"s1\",\"org\":\"o\\u0000x\",\"role\":\"admin\"",
		"\"sub\":\"u1\",\"sid\":\"s1\",\"org\":\"o\",\"role\":\"admin\\u0000\"",
		"\"sub\":\"u1\",\"sid\":\"s1\",\"note\":\"a\\u0000\"",
		"\"sub\":\"u1\",\"sid\":\"s1\",\"a\\u0000\":1",
	};
	char c[512];
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(c, sizeof c,
			 "{\"iss\":\"orgd\",\"aud\":\"rule-engine\",%s,\"iat\":1699999990,"
			 "\"exp\":1700003600}",
			 bad[i]);
		BAD(craft(HDR, c));
	}
	/* a raw NUL byte inside a string */
	static const char raw[] = "{\"iss\":\"orgd\",\"aud\":\"rule-engine\",\"sub\":\"u1\0x\","
				  "\"sid\":\"s1\",\"iat\":1699999990,\"exp\":1700003600}";
	BAD(craft_n(ring, HDR, strlen(HDR), raw, sizeof raw - 1));
	/* other escapes are fine */
	OK(craft(HDR, "{\"iss\":\"orgd\",\"aud\":\"rule-engine\",\"sub\":\"u\\u0001\\n\","
		      "\"sid\":\"s1\",\"iat\":1699999990,\"exp\":1700003600}"));
}

TEST(ids_and_role)
{
	char id64[65], id65[66], c[512];
	memset(id64, 'a', 64);
	id64[64] = '\0';
	memset(id65, 'a', 65);
	id65[65] = '\0';
	static const char fmt_sub[] = "{\"iss\":\"orgd\",\"aud\":\"rule-engine\",\"sub\":\"%s\","
				      "\"sid\":\"s1\",\"iat\":1699999990,\"exp\":1700003600}";
	snprintf(c, sizeof c, fmt_sub, id64);
	OK(craft(HDR, c));
	snprintf(c, sizeof c, fmt_sub, id65);
	BAD(craft(HDR, c));
	snprintf(c, sizeof c, fmt_sub, "");
	BAD(craft(HDR, c));
	/* 22 three-byte characters: 22 code points but 66 bytes */
	char wide[70] = "";
	for (int i = 0; i < 22; i++)
		strcat(wide, "\xe2\x82\xac");
	snprintf(c, sizeof c, fmt_sub, wide);
	BAD(craft(HDR, c));
	static const char fmt_sid[] = "{\"iss\":\"orgd\",\"aud\":\"rule-engine\",\"sub\":\"u1\","
				      "\"sid\":\"%s\",\"iat\":1699999990,\"exp\":1700003600}";
	snprintf(c, sizeof c, fmt_sid, id64);
	OK(craft(HDR, c));
	snprintf(c, sizeof c, fmt_sid, id65);
	BAD(craft(HDR, c));
	snprintf(c, sizeof c, fmt_sid, "");
	BAD(craft(HDR, c));
	BAD(craft(HDR, "{\"iss\":\"orgd\",\"aud\":\"rule-engine\",\"sub\":\"u1\","
		       "\"iat\":1699999990,\"exp\":1700003600}")); /* no sid */
	BAD(craft(HDR, "{\"iss\":\"orgd\",\"aud\":\"rule-engine\",\"sid\":\"s1\","
		       "\"iat\":1699999990,\"exp\":1700003600}")); /* no sub */
	BAD(craft(HDR, "{\"iss\":\"orgd\",\"aud\":\"rule-engine\",\"sub\":7,\"sid\":\"s1\","
		       "\"iat\":1699999990,\"exp\":1700003600}"));
	static const char fmt_org[] = "{\"iss\":\"orgd\",\"aud\":\"rule-engine\",\"sub\":\"u1\","
				      "\"sid\":\"s1\",\"iat\":1699999990,\"exp\":1700003600,"
				      "\"org\":\"%s\",\"role\":\"%s\"}";
	snprintf(c, sizeof c, fmt_org, id64, "owner");
	OK(craft(HDR, c));
	snprintf(c, sizeof c, fmt_org, id64, "member");
	OK(craft(HDR, c));
	snprintf(c, sizeof c, fmt_org, id65, "owner");
	BAD(craft(HDR, c));
	snprintf(c, sizeof c, fmt_org, "o1", "superuser");
	BAD(craft(HDR, c));
	snprintf(c, sizeof c, fmt_org, "o1", "Owner");
	BAD(craft(HDR, c));
	snprintf(c, sizeof c, fmt_org, "o1", "");
	BAD(craft(HDR, c));
	BAD(craft(HDR, "{\"iss\":\"orgd\",\"aud\":\"rule-engine\",\"sub\":\"u1\",\"sid\":\"s1\","
		       "\"iat\":1699999990,\"exp\":1700003600,\"org\":null}"));
	BAD(craft(HDR, "{\"iss\":\"orgd\",\"aud\":\"rule-engine\",\"sub\":\"u1\",\"sid\":\"s1\","
		       "\"iat\":1699999990,\"exp\":1700003600,\"org\":5}"));
}

TEST(crit_refused)
{
	BAD(craft("{\"alg\":\"EdDSA\",\"kid\":\"$KID\",\"crit\":[\"exp\"]}", CLAIMS));
	BAD(craft("{\"alg\":\"EdDSA\",\"kid\":\"$KID\",\"crit\":[\"b64\"],\"b64\":false}", CLAIMS));
	BAD(craft("{\"alg\":\"EdDSA\",\"kid\":\"$KID\",\"crit\":[]}", CLAIMS));
	BAD(craft("{\"alg\":\"EdDSA\",\"kid\":\"$KID\",\"crit\":null}", CLAIMS));
	BAD(craft("{\"alg\":\"EdDSA\",\"kid\":\"$KID\",\"crit\":\"x\"}", CLAIMS));
	OK(craft("{\"alg\":\"EdDSA\",\"kid\":\"$KID\",\"Crit\":[\"exp\"]}", CLAIMS));
}

#define ATK_JWK "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" KEY_ATK_X "\"}"

TEST(jku_jwk_x5u_ignored)
{
	/* present but ignored: the ring's key decides */
	OK(craft("{\"alg\":\"EdDSA\",\"kid\":\"$KID\",\"jku\":\"https://evil.example/jwks\","
		 "\"jwk\":" ATK_JWK ",\"x5u\":\"https://evil.example/x5u\","
		 "\"x5c\":[\"MIIB\"],\"x5t\":\"abc\"}",
		 CLAIMS));
	/* signed by the attacker, carrying the attacker's key: refused, whatever the kid */
	static const char *hdrs[] = {
		"{\"alg\":\"EdDSA\",\"kid\":\"$ATK\",\"jwk\":" ATK_JWK "}",
		"{\"alg\":\"EdDSA\",\"kid\":\"$KID\",\"jwk\":" ATK_JWK "}",
		"{\"alg\":\"EdDSA\",\"jwk\":" ATK_JWK "}",
		"{\"alg\":\"EdDSA\",\"kid\":\"$ATK\",\"jku\":\"https://evil.example/jwks\"}",
		"{\"alg\":\"EdDSA\",\"kid\":\"$KID\",\"jku\":\"https://evil.example/jwks\"}",
		"{\"alg\":\"EdDSA\",\"kid\":\"$KID\",\"x5u\":\"https://evil.example/x5u\"}",
	};
	for (size_t i = 0; i < sizeof hdrs / sizeof hdrs[0]; i++) {
		char *t = craft_n(atk, hdrs[i], strlen(hdrs[i]), CLAIMS, strlen(CLAIMS));
		BAD(t);
		/* and it would verify under the attacker's own ring (the defect is only trust) */
		if (strstr(hdrs[i], "$ATK")) {
			token_cache_clear();
			CHECK(verify_with(atk, &cfg, t, strlen(t), NOW, NULL) == ERR_OK);
		}
	}
}

/* ---- the verified-signature cache ------------------------------------------- */

TEST(cache_hit_on_second_verify)
{
	char *t = craft(HDR, CLAIMS);
	size_t n = strlen(t);
	struct claims out;
	token_cache_clear();
	CHECK(token_cache_hits() == 0);
	CHECK(verify_with(ring, &cfg, t, n, NOW, &out) == ERR_OK);
	CHECK(token_cache_hits() == 0);
	CHECK(verify_with(ring, &cfg, t, n, NOW, &out) == ERR_OK);
	CHECK(token_cache_hits() == 1);
	CHECK_EQ_STR(out.sub, "u1");
	CHECK(verify_with(ring, &cfg, t, n, NOW + 100, &out) == ERR_OK);
	CHECK(token_cache_hits() == 2);
	/* another ring object holding the same key may use the entry */
	struct keyring *same = ring_of(KEY_K1_PUB);
	CHECK(verify_with(same, &cfg, t, n, NOW, &out) == ERR_OK);
	CHECK(token_cache_hits() == 3);
	keyring_free(same);
	/* cleared: verified again */
	token_cache_clear();
	CHECK(verify_with(ring, &cfg, t, n, NOW, &out) == ERR_OK);
	CHECK(token_cache_hits() == 0);
}

TEST(cache_not_used_across_rings)
{
	char *t = craft(HDR, CLAIMS);
	size_t n = strlen(t);
	token_cache_clear();
	CHECK(verify_with(ring, &cfg, t, n, NOW, NULL) == ERR_OK);
	/* a ring without the key (it was retired): refused, the cache never consulted */
	struct keyring *other = ring_of(KEY_K2_PRIV);
	CHECK(keyring_add_pem(other, KEY_RFC_PUB, strlen(KEY_RFC_PUB)) == ERR_OK);
	CHECK(verify_with(other, &cfg, t, n, NOW, NULL) == ERR_UNAUTHENTICATED);
	CHECK(token_cache_hits() == 0);
	keyring_free(other);
	/* still a hit with ours */
	CHECK(verify_with(ring, &cfg, t, n, NOW, NULL) == ERR_OK);
	CHECK(token_cache_hits() == 1);
}

TEST(cache_hit_still_checks_claims)
{
	char *t = craft(HDR, CLAIMS); /* exp 1700003600 */
	size_t n = strlen(t);
	token_cache_clear();
	CHECK(verify_with(ring, &cfg, t, n, NOW, NULL) == ERR_OK);
	struct token_cfg other_aud = cfg, other_iss = cfg;
	other_aud.aud = "billing";
	other_iss.iss = "someone";
	CHECK(verify_with(ring, &other_aud, t, n, NOW, NULL) == ERR_UNAUTHENTICATED);
	CHECK(verify_with(ring, &other_iss, t, n, NOW, NULL) == ERR_UNAUTHENTICATED);
	CHECK(token_cache_hits() == 2); /* the signature was skipped, the claims were not */
	/* iat in the future relative to an earlier clock */
	CHECK(verify_with(ring, &cfg, t, n, 1699999990 - 61, NULL) == ERR_UNAUTHENTICATED);
	CHECK(token_cache_hits() == 3);
	/* at exp the entry is dropped: within the leeway it verifies again, beyond it fails */
	CHECK(verify_with(ring, &cfg, t, n, 1700003600, NULL) == ERR_OK);
	CHECK(token_cache_hits() == 3);
	CHECK(verify_with(ring, &cfg, t, n, 1700003600 + 60, NULL) == ERR_UNAUTHENTICATED);
	CHECK(token_cache_hits() == 3);
}

TEST(cache_keyed_by_exact_bytes)
{
	char *t = craft(HDR, CLAIMS);
	size_t n = strlen(t);
	token_cache_clear();
	CHECK(verify_with(ring, &cfg, t, n, NOW, NULL) == ERR_OK);
	/* the same header and claims with a broken signature: not a hit */
	char *b = strdup(t);
	b[n - 5] = b[n - 5] == 'A' ? 'B' : 'A';
	CHECK(verify_with(ring, &cfg, b, n, NOW, NULL) == ERR_UNAUTHENTICATED);
	free(b);
	/* a prefix of it */
	CHECK(verify_with(ring, &cfg, t, n - 4, NOW, NULL) == ERR_UNAUTHENTICATED);
	CHECK(token_cache_hits() == 0);
	/* many tokens: the cache is bounded, each still verifies */
	for (int i = 0; i < 3 * TOKEN_CACHE_SIZE; i++) {
		char c[256];
		snprintf(c, sizeof c,
			 "{\"iss\":\"orgd\",\"aud\":\"rule-engine\",\"sub\":\"u%d\",\"sid\":\"s1\","
			 "\"iat\":1699999990,\"exp\":1700003600}",
			 i);
		char *u = craft(HDR, c);
		CHECK(verify_with(ring, &cfg, u, strlen(u), NOW, NULL) == ERR_OK);
	}
	/* with (almost) every slot taken, forged tokens for our kid still fail */
	for (int i = 0; i < 16; i++) {
		char c[256];
		snprintf(c, sizeof c,
			 "{\"iss\":\"orgd\",\"aud\":\"rule-engine\",\"sub\":\"admin%d\","
			 "\"sid\":\"s1\",\"iat\":1699999990,\"exp\":1700003600}",
			 i);
		char *f = craft_n(atk, HDR, strlen(HDR), c, strlen(c));
		CHECK(verify_with(ring, &cfg, f, strlen(f), NOW, NULL) == ERR_UNAUTHENTICATED);
	}
}

int main(void)
{
	ring = ring_of(KEY_K1_PRIV);
	atk = ring_of(KEY_ATK_PRIV);
	strcpy(kid1, keyring_kid(keyring_signer(ring)));
	strcpy(kid_atk, keyring_kid(keyring_signer(atk)));

	RUN(keyring_rfc7638_kid_and_jwks);
	RUN(keyring_dedupes_and_picks_signer);
	RUN(keyring_refuses_non_ed25519);
	RUN(keyring_at_most_16);
	RUN(keyring_load_dir);
	RUN(keyring_load_refusals);
	RUN(rfc8037_signature_verifies);
	RUN(rfc8037_signing_is_byte_exact);
	RUN(rfc8037_jws_is_not_a_session);
	RUN(sign_then_verify);
	RUN(sign_refusals);
	RUN(valid_token_verifies);
	RUN(alg_must_be_eddsa);
	RUN(kid_must_be_ours);
	RUN(signature_shapes);
	RUN(segments_exactly_three);
	RUN(whitespace_inside);
	RUN(segments_strict_base64url);
	RUN(json_must_be_an_object);
	RUN(json_trailing_garbage);
	RUN(json_duplicate_names);
	RUN(json_invalid_utf8);
	RUN(json_depth_limit);
	RUN(size_limit_4k);
	RUN(exp_and_iat_types);
	RUN(exp_leeway);
	RUN(iat_in_future);
	RUN(iss_must_be_ours);
	RUN(aud_must_be_ours);
	RUN(nul_in_string_claims);
	RUN(ids_and_role);
	RUN(crit_refused);
	RUN(jku_jwk_x5u_ignored);
	RUN(cache_hit_on_second_verify);
	RUN(cache_not_used_across_rings);
	RUN(cache_hit_still_checks_claims);
	RUN(cache_keyed_by_exact_bytes);

	for (size_t i = 0; i < nkept; i++)
		free(kept[i]);
	free(kept);
	keyring_free(ring);
	keyring_free(atk);
	arena_free(&arena);
	T_DONE();
}
