/*
 * fuzz_token: libFuzzer target for token_verify (and the strict base64url
 * decoder it rests on). Arbitrary bytes must never crash, leak or hang; the
 * answer is ERR_OK or ERR_UNAUTHENTICATED (ERR_INTERNAL only out of memory);
 * a second verify of the same bytes (a cache hit when the first passed) gives
 * the same answer and claims; a string that decodes re-encodes to itself.
 * The ring (tests/unit/vectors/keys.h: K1 signs, the RFC 8037 key verifies) and
 * the clock are fixed, so scripts/fuzz can seed valid tokens.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orgd/b64url.h"
#include "orgd/keyring.h"
#include "orgd/token.h"

#include "../unit/vectors/keys.h"

#define NOW INT64_C(1700000000)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct keyring *ring;
static struct arena arena;
static const struct token_cfg cfg = {.iss = "orgd", .aud = "rule-engine", .leeway = 60};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (keyring_new(&ring) != ERR_OK ||
	    keyring_add_pem(ring, KEY_RFC_PUB, strlen(KEY_RFC_PUB)) != ERR_OK ||
	    keyring_add_pem(ring, KEY_K1_PRIV, strlen(KEY_K1_PRIV)) != ERR_OK) {
		fprintf(stderr, "fuzz_token: cannot build the test ring\n");
		abort();
	}
	return 0;
}

static void check_claims(const struct claims *c)
{
	size_t sub = strnlen(c->sub, sizeof c->sub), sid = strnlen(c->sid, sizeof c->sid);
	if (sub == 0 || sub > TOKEN_ID_MAX || sid == 0 || sid > TOKEN_ID_MAX ||
	    strnlen(c->org, sizeof c->org) > TOKEN_ID_MAX ||
	    strnlen(c->role, sizeof c->role) >= sizeof c->role || c->exp <= NOW - cfg.leeway ||
	    c->iat > NOW + cfg.leeway)
		abort();
}

static void fuzz_b64url(const uint8_t *data, size_t size)
{
	if (size > 8192)
		return;
	unsigned char *dec = malloc(B64URL_DEC_MAX(size));
	char *enc = malloc(size + 1);
	size_t n;
	if (!dec || !enc)
		abort();
	if (b64url_decode((const char *)data, size, dec, B64URL_DEC_MAX(size), &n) == ERR_OK) {
		if (B64URL_ENC_LEN(n) != size || b64url_encode(dec, n, enc) != size ||
		    memcmp(enc, data, size) != 0)
			abort(); /* two encodings of one byte string */
	}
	free(dec);
	free(enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct claims c1, c2;
	err_t e1 = token_verify(ring, &cfg, (const char *)data, size, NOW, &arena, &c1);
	arena_reset(&arena);
	err_t e2 = token_verify(ring, &cfg, (const char *)data, size, NOW, &arena, &c2);
	arena_reset(&arena);
	if (e1 != ERR_OK && e1 != ERR_UNAUTHENTICATED && e1 != ERR_INTERNAL)
		abort();
	if (e1 != e2 || memcmp(&c1, &c2, sizeof c1) != 0)
		abort();
	if (e1 == ERR_OK)
		check_claims(&c1);
	fuzz_b64url(data, size);
	return 0;
}
