/*
 * fuzz_stripe_sig: libFuzzer target for the webhook path: pay_signature_verify
 * and pay_event_parse. The input is a Stripe-Signature header, a '\n', then
 * the raw body (no '\n': all header, empty body; a lone leading '!' line: no
 * header at all). Every '@' in the header becomes the correct v1 for
 * t=1700000000 and this body, so the fuzzer can explore the grammar around a
 * signature it could never guess.
 *
 * Arbitrary bytes must never crash, leak or hang. The verdict must equal that
 * of a reference check written here independently (strtoull, OpenSSL's HMAC(),
 * hex strings compared): in particular an accepted header always carries
 * exactly one t within the tolerance and a v1 that really is
 * HMAC-SHA256(secret, t "." body). A decoded event has an id and a type, and a
 * payment_intent.* event an intent id.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orgd/pay.h"

#define SECRET     "whsec_test_secret"
#define NOW        INT64_C(1700000000)
#define TOL        INT64_C(300)
#define HEADER_MAX 8192

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct arena arena;

/* hex(HMAC-SHA256(SECRET, t "." body)) into out[65], through OpenSSL directly. */
static void ref_sign(const char *t, size_t tlen, const uint8_t *body, size_t len, char out[65])
{
	size_t n = tlen + 1 + len;
	unsigned char *msg = malloc(n ? n : 1), mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	if (!msg)
		abort();
	memcpy(msg, t, tlen);
	msg[tlen] = '.';
	if (len)
		memcpy(msg + tlen + 1, body, len);
	if (!HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET), msg, n, mac, &maclen) || maclen != 32)
		abort();
	free(msg);
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", mac[i]);
}

/* The reference verdict of API.md's rules for header (a C string) and the body. */
static bool ref_valid(const char *header, const uint8_t *body, size_t len)
{
	if (!header || len == 0 || !*header)
		return false;
	for (const char *p = header; *p; p++)
		if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
			return false;
	char *copy = strdup(header);
	if (!copy)
		abort();
	const char *t = NULL, *v1[HEADER_MAX / 4];
	size_t nt = 0, nv1 = 0;
	bool ok = true;
	char *piece = copy;
	for (;;) {
		char *comma = strchr(piece, ',');
		if (comma)
			*comma = '\0';
		char *eq = strchr(piece, '=');
		if (!eq || eq == piece || eq[1] == '\0') {
			ok = false;
			break;
		}
		*eq = '\0';
		const char *val = eq + 1;
		if (!strcmp(piece, "t")) {
			nt++;
			t = val;
			if (strspn(val, "0123456789") != strlen(val))
				ok = false;
		} else if (!strcmp(piece, "v1")) {
			if (strlen(val) != 64 || strspn(val, "0123456789abcdef") != 64)
				ok = false;
			else
				v1[nv1++] = val;
		}
		if (!comma)
			break;
		piece = comma + 1;
	}
	if (ok && (nt != 1 || nv1 == 0))
		ok = false;
	if (ok) {
		errno = 0;
		unsigned long long ts = strtoull(t, NULL, 10);
		if (errno == ERANGE || ts > (unsigned long long)INT64_MAX ||
		    (ts > (unsigned long long)NOW
			     ? ts - (unsigned long long)NOW
			     : (unsigned long long)NOW - ts) > (unsigned long long)TOL)
			ok = false;
	}
	if (ok) {
		char want[65];
		ref_sign(t, strlen(t), body, len, want);
		ok = false;
		for (size_t i = 0; i < nv1; i++)
			ok |= memcmp(v1[i], want, 64) == 0;
	}
	free(copy);
	return ok;
}

static void check_event(const uint8_t *body, size_t len)
{
	struct pay_event ev;
	err_t e = pay_event_parse((const char *)body, len, &arena, &ev);
	if (e != ERR_OK && e != ERR_INVALID && e != ERR_INTERNAL)
		abort();
	if (e == ERR_OK) {
		if (!ev.id || !ev.type || !*ev.id || !*ev.type)
			abort();
		if (!strncmp(ev.type, "payment_intent.", 15) && (!ev.intent_id || !*ev.intent_id))
			abort();
		if (ev.amount < -1)
			abort();
		/* every string is readable to its NUL */
		const char *s[] = {ev.status, ev.currency, ev.org_id, ev.purchase_id,
				   ev.failure_code};
		size_t total = 0;
		for (size_t i = 0; i < sizeof s / sizeof s[0]; i++)
			total += s[i] ? strlen(s[i]) : 0;
		if (total > len)
			abort();
	}
	arena_reset(&arena);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t hlen = nl ? (size_t)(nl - data) : size;
	const uint8_t *body = nl ? nl + 1 : data + size;
	size_t len = nl ? size - hlen - 1 : 0;
	bool no_header = hlen == 1 && data[0] == '!';

	char good[65];
	ref_sign("1700000000", 10, body, len, good);
	/* the header as a C string (stopping at a NUL, as a header would), '@' expanded */
	static char header[HEADER_MAX + 1];
	size_t n = 0;
	for (size_t i = 0; i < hlen && data[i]; i++) {
		if (data[i] == '@') {
			if (n + 64 > HEADER_MAX)
				break;
			memcpy(header + n, good, 64);
			n += 64;
		} else {
			if (n + 1 > HEADER_MAX)
				break;
			header[n++] = (char)data[i];
		}
	}
	header[n] = '\0';
	const char *h = no_header ? NULL : header;

	const char *msg = NULL;
	err_t e = pay_signature_verify(h, (const char *)body, len, SECRET, NOW, TOL, &msg);
	if (e != ERR_OK && e != ERR_INVALID)
		abort();
	if ((e == ERR_OK) != ref_valid(h, body, len))
		abort(); /* the verdicts differ: one of the two checks is wrong */
	if (e != ERR_OK && (!msg || strstr(msg, SECRET)))
		abort();
	check_event(body, len);
	return 0;
}
