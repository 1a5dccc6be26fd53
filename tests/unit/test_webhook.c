/*
 * test_webhook: the provider's webhooks. HMAC-SHA256 (RFC 4231) and the
 * constant-time compare; the strict Stripe-Signature check: the SECURITY.md
 * vector at the edges of the 300 s tolerance, every refusal of SECURITY.md's
 * webhook list, the header grammar (spaces, empty elements, t and v1 shapes,
 * other schemes ignored, one valid v1 among wrong ones); and pay_event_parse
 * on realistic payment_intent events and on malformed ones.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orgd/digest.h"
#include "orgd/pay.h"
#include "t.h"

#define SECRET "whsec_test_secret"
#define T0     INT64_C(1700000000)
#define BODY   "{\"id\":\"evt_test_webhook\",\"object\":\"event\"}"
#define SIG    "d95c6b7477fbd7e9f90b1b0ef5f9c7ac25abca5382460e0d988c2b2a5b71b990"
#define WRONG  "0000000000000000000000000000000000000000000000000000000000000000"
#define TOL    PAY_WEBHOOK_TOLERANCE

static err_t verify_at(const char *header, const char *body, int64_t now)
{
	const char *msg = "unset";
	err_t e =
		pay_signature_verify(header, body, body ? strlen(body) : 0, SECRET, now, TOL, &msg);
	/* a refusal always says why, and never echoes the header or the secret */
	if (e != ERR_OK &&
	    (!msg || strstr(msg, "whsec") || strstr(msg, "d95c") || strstr(msg, "1700000000")))
		return ERR__MAX;
	if (e == ERR_OK && msg)
		return ERR__MAX;
	return e;
}

static err_t verify(const char *header)
{
	return verify_at(header, BODY, T0);
}

static void to_hex(const unsigned char *p, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[p[i] >> 4];
		out[2 * i + 1] = hex[p[i] & 15];
	}
	out[2 * n] = '\0';
}

/* The v1 of HMAC(SECRET, t "." body), as hex. */
static void sign(const char *t, const char *body, char out[65])
{
	unsigned char mac[DIGEST_LEN];
	const void *parts[] = {t, ".", body};
	const size_t lens[] = {strlen(t), 1, strlen(body)};
	digest_hmac_sha256(SECRET, strlen(SECRET), parts, lens, 3, mac);
	to_hex(mac, sizeof mac, out);
}

TEST(hmac_rfc4231)
{
	/* RFC 4231 test cases 1 and 2, and 6 (a key longer than the block) */
	unsigned char key1[20], key6[131], mac[DIGEST_LEN];
	char hex[65];
	memset(key1, 0x0b, sizeof key1);
	memset(key6, 0xaa, sizeof key6);
	const void *p1[] = {"Hi ", "There"};
	const size_t l1[] = {3, 5};
	digest_hmac_sha256(key1, sizeof key1, p1, l1, 2, mac);
	to_hex(mac, sizeof mac, hex);
	CHECK_EQ_STR(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	const void *p2[] = {"what do ya want ", "", "for nothing?"};
	const size_t l2[] = {16, 0, 12};
	digest_hmac_sha256("Jefe", 4, p2, l2, 3, mac);
	to_hex(mac, sizeof mac, hex);
	CHECK_EQ_STR(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	const char *m6 = "Test Using Larger Than Block-Size Key - Hash Key First";
	const void *p6[] = {m6};
	const size_t l6[] = {strlen(m6)};
	digest_hmac_sha256(key6, sizeof key6, p6, l6, 1, mac);
	to_hex(mac, sizeof mac, hex);
	CHECK_EQ_STR(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
	/* an empty key is a valid HMAC key */
	const void *pe[] = {""};
	const size_t le[] = {0};
	digest_hmac_sha256("", 0, pe, le, 1, mac);
	to_hex(mac, sizeof mac, hex);
	CHECK_EQ_STR(hex, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

TEST(digest_equal_compares)
{
	unsigned char a[32], b[32];
	memset(a, 7, sizeof a);
	memcpy(b, a, sizeof b);
	CHECK(digest_equal(a, b, sizeof a));
	CHECK(digest_equal(a, b, 0));
	for (size_t i = 0; i < sizeof a; i++) {
		b[i] ^= 0x80;
		CHECK(!digest_equal(a, b, sizeof a));
		b[i] ^= 0x80;
	}
}

TEST(stripe_vector)
{
	char mine[65];
	sign("1700000000", BODY, mine);
	CHECK_EQ_STR(mine, SIG);
	CHECK(verify("t=1700000000,v1=" SIG) == ERR_OK);
	CHECK(verify_at("t=1700000000,v1=" SIG, BODY, T0 + TOL) == ERR_OK);
	CHECK(verify_at("t=1700000000,v1=" SIG, BODY, T0 - TOL) == ERR_OK);
	CHECK(verify_at("t=1700000000,v1=" SIG, BODY, T0 + TOL + 1) == ERR_INVALID);
	CHECK(verify_at("t=1700000000,v1=" SIG, BODY, T0 - TOL - 1) == ERR_INVALID);
	/* v1 first, t last: the order of elements is free */
	CHECK(verify("v1=" SIG ",t=1700000000") == ERR_OK);
	/* r_msg may be NULL */
	CHECK(pay_signature_verify("t=1700000000,v1=" SIG, BODY, strlen(BODY), SECRET, T0, TOL,
				   NULL) == ERR_OK);
	CHECK(pay_signature_verify("t=1", BODY, strlen(BODY), SECRET, T0, TOL, NULL) ==
	      ERR_INVALID);
}

/* SECURITY.md "Webhooks -> 400": each case there. */
TEST(security_refusals)
{
	const char *msg = NULL;
	/* missing header */
	CHECK(verify(NULL) == ERR_INVALID);
	CHECK(verify("") == ERR_INVALID);
	/* wrong secret */
	CHECK(pay_signature_verify("t=1700000000,v1=" SIG, BODY, strlen(BODY), "whsec_other", T0,
				   TOL, &msg) == ERR_INVALID);
	CHECK(msg && !strstr(msg, "whsec"));
	CHECK(pay_signature_verify("t=1700000000,v1=" SIG, BODY, strlen(BODY), "whsec_test_secre",
				   T0, TOL, NULL) == ERR_INVALID);
	/* body changed by one byte, in every position; and one byte shorter or longer */
	char body[sizeof BODY];
	for (size_t i = 0; i < strlen(BODY); i++) {
		memcpy(body, BODY, sizeof body);
		body[i] ^= 0x01;
		CHECK(verify_at("t=1700000000,v1=" SIG, body, T0) == ERR_INVALID);
	}
	CHECK(pay_signature_verify("t=1700000000,v1=" SIG, BODY, strlen(BODY) - 1, SECRET, T0, TOL,
				   NULL) == ERR_INVALID);
	CHECK(pay_signature_verify("t=1700000000,v1=" SIG, BODY "\n", strlen(BODY) + 1, SECRET, T0,
				   TOL, NULL) == ERR_INVALID);
	/* t older or newer than 300 s (a signature correct for its t) */
	char h[256], v1[65];
	sign("1699999699", BODY, v1);
	snprintf(h, sizeof h, "t=1699999699,v1=%s", v1);
	CHECK(verify(h) == ERR_INVALID);
	CHECK(verify_at(h, BODY, T0 - 1) == ERR_OK);
	sign("1700000301", BODY, v1);
	snprintf(h, sizeof h, "t=1700000301,v1=%s", v1);
	CHECK(verify(h) == ERR_INVALID);
	CHECK(verify_at(h, BODY, T0 + 1) == ERR_OK);
	/* t with trailing junk */
	CHECK(verify("t=1700000000x,v1=" SIG) == ERR_INVALID);
	CHECK(verify("t=1700000000.,v1=" SIG) == ERR_INVALID);
	CHECK(verify("t=1700000000;,v1=" SIG) == ERR_INVALID);
	CHECK(verify("t=1700000000=,v1=" SIG) == ERR_INVALID);
	CHECK(verify("t=0x6553f100,v1=" SIG) == ERR_INVALID);
	/* two t, even equal ones */
	CHECK(verify("t=1700000000,t=1700000000,v1=" SIG) == ERR_INVALID);
	CHECK(verify("t=1700000000,v1=" SIG ",t=1700000001") == ERR_INVALID);
	/* only v0 */
	CHECK(verify("t=1700000000,v0=" SIG) == ERR_INVALID);
	CHECK(verify("t=1700000000") == ERR_INVALID);
	/* v1 of 63 hex digits, of 65, uppercase */
	CHECK(verify("t=1700000000,v1=" SIG "0") == ERR_INVALID);
	char s63[65];
	memcpy(s63, SIG, 63);
	s63[63] = '\0';
	snprintf(h, sizeof h, "t=1700000000,v1=%s", s63);
	CHECK(verify(h) == ERR_INVALID);
	snprintf(h, sizeof h, "t=1700000000,v1=%s,v1=" SIG, s63); /* even next to a valid one */
	CHECK(verify(h) == ERR_INVALID);
	CHECK(verify("t=1700000000,v1="
		     "D95C6B7477FBD7E9F90B1B0EF5F9C7AC25ABCA5382460E0D988C2B2A5B71B990") ==
	      ERR_INVALID);
	CHECK(verify("t=1700000000,v1="
		     "d95c6b7477fbd7e9f90b1b0ef5f9c7ac25abca5382460e0d988c2b2a5b71b99A") ==
	      ERR_INVALID);
	/* an empty body */
	CHECK(verify_at("t=1700000000,v1=" SIG, "", T0) == ERR_INVALID);
	CHECK(verify_at("t=1700000000,v1=" SIG, NULL, T0) == ERR_INVALID);
	sign("1700000000", "", v1);
	snprintf(h, sizeof h, "t=1700000000,v1=%s", v1); /* even correctly signed */
	CHECK(verify_at(h, "", T0) == ERR_INVALID);
}

TEST(one_valid_among_others)
{
	CHECK(verify("t=1700000000,v1=" WRONG ",v1=" SIG) == ERR_OK);
	CHECK(verify("t=1700000000,v1=" SIG ",v1=" WRONG) == ERR_OK);
	CHECK(verify("t=1700000000,v1=" WRONG ",v1=" SIG ",v1=" WRONG) == ERR_OK);
	CHECK(verify("t=1700000000,v1=" WRONG ",v1=" WRONG) == ERR_INVALID);
	/* other schemes and keys are ignored, whatever they hold */
	CHECK(verify("t=1700000000,v1=" SIG ",v0=" WRONG) == ERR_OK);
	CHECK(verify("t=1700000000,v0=zz,v1=" SIG ",x=y,v2=" SIG "=") == ERR_OK);
	CHECK(verify("t=1700000000,v0=" SIG ",v1=" WRONG) == ERR_INVALID); /* v0 never counts */
}

TEST(spaces_refused)
{
	CHECK(verify("t=1700000000, v1=" SIG) == ERR_INVALID);
	CHECK(verify(" t=1700000000,v1=" SIG) == ERR_INVALID);
	CHECK(verify("t=1700000000,v1=" SIG " ") == ERR_INVALID);
	CHECK(verify("t=1700000000 ,v1=" SIG) == ERR_INVALID);
	CHECK(verify("t= 1700000000,v1=" SIG) == ERR_INVALID);
	CHECK(verify("t =1700000000,v1=" SIG) == ERR_INVALID);
	CHECK(verify("t=1700000000,\tv1=" SIG) == ERR_INVALID);
	CHECK(verify("t=1700000000,v1=" SIG "\r\n") == ERR_INVALID);
	CHECK(verify("t=1700000000,v1=" SIG ",v0=a b") == ERR_INVALID); /* anywhere */
	CHECK(verify("t=1700000000,v1=" SIG ",v0=\xc3\xa9") == ERR_INVALID);
}

TEST(grammar)
{
	/* empty elements, keys and values */
	CHECK(verify("t=1700000000,,v1=" SIG) == ERR_INVALID);
	CHECK(verify(",t=1700000000,v1=" SIG) == ERR_INVALID);
	CHECK(verify("t=1700000000,v1=" SIG ",") == ERR_INVALID);
	CHECK(verify("t=1700000000,v1=" SIG ",=x") == ERR_INVALID);
	CHECK(verify("t=1700000000,v1=" SIG ",v0=") == ERR_INVALID);
	CHECK(verify("t=1700000000,v1=" SIG ",junk") == ERR_INVALID);
	CHECK(verify("t=,v1=" SIG) == ERR_INVALID);
	CHECK(verify("t,v1=" SIG) == ERR_INVALID);
	CHECK(verify("v1=" SIG) == ERR_INVALID); /* no t */
	CHECK(verify(",") == ERR_INVALID);
	CHECK(verify("=") == ERR_INVALID);
	/* t: digits only, within int64 */
	CHECK(verify("t=-1700000000,v1=" SIG) == ERR_INVALID);
	CHECK(verify("t=+1700000000,v1=" SIG) == ERR_INVALID);
	CHECK(verify("t=1.7e9,v1=" SIG) == ERR_INVALID);
	CHECK(verify("t=99999999999999999999,v1=" SIG) == ERR_INVALID);
	CHECK(verify("t=9223372036854775808,v1=" SIG) == ERR_INVALID);
	CHECK(verify("t=9223372036854775807,v1=" SIG) == ERR_INVALID); /* parses; stale */
	/* the signed payload is t's digits exactly as sent */
	char h[256], v1[65];
	sign("01700000000", BODY, v1);
	snprintf(h, sizeof h, "t=01700000000,v1=%s", v1);
	CHECK(verify(h) == ERR_OK);
	CHECK(verify("t=01700000000,v1=" SIG) == ERR_INVALID);
	/* v1: exactly 64 of [0-9a-f] */
	CHECK(verify("t=1700000000,v1=") == ERR_INVALID);
	CHECK(verify("t=1700000000,v1=" SIG ",v1=g" SIG) == ERR_INVALID);
	CHECK(verify("t=1700000000,v1=" WRONG "z") == ERR_INVALID);
	CHECK(verify("t=1700000000,V1=" SIG) == ERR_INVALID); /* keys are case-sensitive */
	CHECK(verify("T=1700000000,v1=" SIG) == ERR_INVALID);
	/* many v1 are fine */
	char big[64 * 80 + 64];
	size_t n = (size_t)snprintf(big, sizeof big, "t=1700000000");
	for (int i = 0; i < 70; i++)
		n += (size_t)snprintf(big + n, sizeof big - n, ",v1=%s", i == 69 ? SIG : WRONG);
	CHECK(verify(big) == ERR_OK);
}

TEST(clock_edges)
{
	const char *h = "t=1700000000,v1=" SIG;
	const size_t n = strlen(BODY);
	CHECK(pay_signature_verify(h, BODY, n, SECRET, T0, 0, NULL) == ERR_OK);
	CHECK(pay_signature_verify(h, BODY, n, SECRET, T0 + 1, 0, NULL) == ERR_INVALID);
	CHECK(pay_signature_verify(h, BODY, n, SECRET, T0, -5, NULL) == ERR_OK);
	CHECK(pay_signature_verify(h, BODY, n, SECRET, T0 - 1, -5, NULL) == ERR_INVALID);
	/* no overflow at the ends of int64 (UBSan watches) */
	CHECK(pay_signature_verify(h, BODY, n, SECRET, INT64_MIN, TOL, NULL) == ERR_INVALID);
	CHECK(pay_signature_verify(h, BODY, n, SECRET, INT64_MAX, TOL, NULL) == ERR_INVALID);
	CHECK(pay_signature_verify(h, BODY, n, SECRET, T0, INT64_MAX, NULL) == ERR_OK);
	CHECK(pay_signature_verify("t=9223372036854775807,v1=" SIG, BODY, n, SECRET, INT64_MIN,
				   INT64_MAX, NULL) == ERR_INVALID);
	CHECK(pay_signature_verify("t=0,v1=" SIG, BODY, n, SECRET, INT64_MAX, INT64_MAX, NULL) ==
	      ERR_INVALID); /* in tolerance, wrong signature */
}

TEST(secret_not_configured)
{
	const char *msg = NULL;
	CHECK(pay_signature_verify("t=1700000000,v1=" SIG, BODY, strlen(BODY), NULL, T0, TOL,
				   &msg) == ERR_INTERNAL);
	CHECK(msg != NULL);
	CHECK(pay_signature_verify("t=1700000000,v1=" SIG, BODY, strlen(BODY), "", T0, TOL, NULL) ==
	      ERR_INTERNAL);
}

/* A payment_intent event as Stripe sends it (API 2023-10-16), trimmed a little. */
static const char succeeded[] =
	"{\n"
	"  \"id\": \"evt_3OEnpq2eZvKYlo2C0vJx6rOa\",\n"
	"  \"object\": \"event\",\n"
	"  \"api_version\": \"2023-10-16\",\n"
	"  \"created\": 1700000000,\n"
	"  \"data\": {\n"
	"    \"object\": {\n"
	"      \"id\": \"pi_3OEnpq2eZvKYlo2C0aTQ1xyz\",\n"
	"      \"object\": \"payment_intent\",\n"
	"      \"amount\": 2500,\n"
	"      \"amount_capturable\": 0,\n"
	"      \"amount_details\": {\"tip\": {}},\n"
	"      \"amount_received\": 2500,\n"
	"      \"application\": null,\n"
	"      \"automatic_payment_methods\": null,\n"
	"      \"canceled_at\": null,\n"
	"      \"capture_method\": \"automatic\",\n"
	"      \"client_secret\": \"pi_3OEnpq_secret_abc\",\n"
	"      \"confirmation_method\": \"automatic\",\n"
	"      \"created\": 1699999990,\n"
	"      \"currency\": \"usd\",\n"
	"      \"customer\": \"cus_P2tJ1kIHjqM7Tn\",\n"
	"      \"description\": null,\n"
	"      \"last_payment_error\": null,\n"
	"      \"latest_charge\": \"ch_3OEnpq2eZvKYlo2C0kx1\",\n"
	"      \"livemode\": false,\n"
	"      \"metadata\": {\"org_id\": \"org_7f3a\", \"purchase_id\": \"pur_91c2\", \"x\": "
	"\"y\"},\n"
	"      \"next_action\": null,\n"
	"      \"payment_method\": \"pm_1OEnpp2eZvKYlo2Cw\",\n"
	"      \"payment_method_options\": {\"card\": {\"installments\": null, "
	"\"mandate_options\": "
	"null, \"network\": null, \"request_three_d_secure\": \"automatic\"}},\n"
	"      \"payment_method_types\": [\"card\"],\n"
	"      \"processing\": null,\n"
	"      \"setup_future_usage\": null,\n"
	"      \"status\": \"succeeded\",\n"
	"      \"transfer_data\": null\n"
	"    }\n"
	"  },\n"
	"  \"livemode\": false,\n"
	"  \"pending_webhooks\": 1,\n"
	"  \"request\": {\"id\": \"req_Nq0bX\", \"idempotency_key\": \"charge:pur_91c2\"},\n"
	"  \"type\": \"payment_intent.succeeded\"\n"
	"}\n";

static err_t parse(const char *body, struct pay_event *ev)
{
	static struct arena a;
	arena_reset(&a);
	return pay_event_parse(body, strlen(body), &a, ev);
}

TEST(event_succeeded)
{
	struct pay_event ev;
	CHECK(parse(succeeded, &ev) == ERR_OK);
	CHECK_EQ_STR(ev.id, "evt_3OEnpq2eZvKYlo2C0vJx6rOa");
	CHECK_EQ_STR(ev.type, "payment_intent.succeeded");
	CHECK(ev.intent_id && !strcmp(ev.intent_id, "pi_3OEnpq2eZvKYlo2C0aTQ1xyz"));
	CHECK(ev.status && !strcmp(ev.status, "succeeded"));
	CHECK(ev.amount == 2500);
	CHECK(ev.currency && !strcmp(ev.currency, "usd"));
	CHECK(ev.org_id && !strcmp(ev.org_id, "org_7f3a"));
	CHECK(ev.purchase_id && !strcmp(ev.purchase_id, "pur_91c2"));
	CHECK(ev.failure_code == NULL && ev.error_code == NULL);
}

TEST(event_failed)
{
	struct pay_event ev;
	const char *both =
		"{\"id\":\"evt_2\",\"object\":\"event\",\"type\":\"payment_intent.payment_failed\","
		"\"data\":{\"object\":{\"id\":\"pi_2\",\"object\":\"payment_intent\",\"amount\":"
		"500,"
		"\"currency\":\"usd\",\"status\":\"requires_payment_method\","
		"\"metadata\":{\"org_id\":\"o\",\"purchase_id\":\"p\"},"
		"\"last_payment_error\":{\"type\":\"card_error\",\"code\":\"card_declined\","
		"\"decline_code\":\"insufficient_funds\",\"message\":\"Your card has insufficient "
		"funds.\",\"payment_method\":{\"id\":\"pm_x\",\"card\":{\"exp_month\":12}}}}}}";
	CHECK(parse(both, &ev) == ERR_OK);
	CHECK_EQ_STR(ev.type, "payment_intent.payment_failed");
	CHECK(ev.failure_code && !strcmp(ev.failure_code, "insufficient_funds"));
	CHECK(ev.error_code && !strcmp(ev.error_code, "card_declined"));
	CHECK(ev.status && !strcmp(ev.status, "requires_payment_method"));
	CHECK(ev.amount == 500);

	const char *code_only =
		"{\"id\":\"evt_3\",\"type\":\"payment_intent.payment_failed\",\"data\":{\"object\":"
		"{\"id\":\"pi_3\",\"amount\":500,\"currency\":\"usd\",\"metadata\":{},"
		"\"last_payment_error\":{\"code\":\"expired_card\",\"decline_code\":null}}}}";
	CHECK(parse(code_only, &ev) == ERR_OK);
	CHECK(ev.failure_code && !strcmp(ev.failure_code, "expired_card"));
	CHECK(ev.error_code && !strcmp(ev.error_code, "expired_card"));
	CHECK(ev.org_id == NULL && ev.purchase_id == NULL);
	CHECK(ev.status == NULL);

	/* no metadata, no amount: absent, not an error (the caller finds no match) */
	CHECK(parse("{\"id\":\"evt_4\",\"type\":\"payment_intent.processing\",\"data\":{\"object\":"
		    "{\"id\":\"pi_4\",\"metadata\":null}}}",
		    &ev) == ERR_OK);
	CHECK(ev.amount == -1 && ev.currency == NULL && ev.org_id == NULL &&
	      ev.failure_code == NULL);
	CHECK(ev.intent_id && !strcmp(ev.intent_id, "pi_4"));
}

TEST(event_other_types)
{
	struct pay_event ev;
	CHECK(parse("{\"id\":\"evt_5\",\"object\":\"event\",\"type\":\"customer.created\"}", &ev) ==
	      ERR_OK);
	CHECK_EQ_STR(ev.id, "evt_5");
	CHECK_EQ_STR(ev.type, "customer.created");
	CHECK(ev.intent_id == NULL && ev.amount == -1 && ev.org_id == NULL);
	/* their data.object may hold anything: it is not read */
	CHECK(parse("{\"id\":\"evt_6\",\"type\":\"charge.succeeded\",\"data\":{\"object\":{\"id\":"
		    "7,"
		    "\"amount\":\"lots\",\"metadata\":[1,2]}}}",
		    &ev) == ERR_OK);
	CHECK_EQ_STR(ev.type, "charge.succeeded");
	CHECK(ev.intent_id == NULL);
	/* "payment_intent" without the dot is another type */
	CHECK(parse("{\"id\":\"evt_7\",\"type\":\"payment_intent\"}", &ev) == ERR_OK);
}

TEST(event_malformed)
{
	struct pay_event ev;
	static const char *const bad[] = {
		"",
		"null",
		"[]",
		"\"evt\"",
		"{",
		"not json",
		BODY, /* the SECURITY.md vector's body: no type */
		"{\"type\":\"payment_intent.succeeded\"}",
		"{\"id\":\"evt_1\"}",
		"{\"id\":\"\",\"type\":\"x\"}",
		"{\"id\":\"evt_1\",\"type\":\"\"}",
		"{\"id\":1,\"type\":\"x\"}",
		"{\"id\":\"evt_1\",\"type\":null}",
		"{\"id\":\"evt_1\",\"type\":\"x\"} x",
		"{\"id\":\"evt_1\",\"type\":\"x\",\"id\":\"evt_2\"}",
		"{\"id\":\"evt_1\",\"type\":\"x\",\"object\":\"customer\"}",
		"{\"id\":\"evt_\\u0000\",\"type\":\"x\"}",
		"{\"id\":\"evt_\xff\",\"type\":\"x\"}",
		"{'id':'evt_1','type':'x'}",
		/* payment_intent.*: data.object with an id is needed */
		"{\"id\":\"e\",\"type\":\"payment_intent.succeeded\"}",
		"{\"id\":\"e\",\"type\":\"payment_intent.succeeded\",\"data\":null}",
		"{\"id\":\"e\",\"type\":\"payment_intent.succeeded\",\"data\":{}}",
		"{\"id\":\"e\",\"type\":\"payment_intent.succeeded\",\"data\":{\"object\":{}}}",
		"{\"id\":\"e\",\"type\":\"payment_intent.succeeded\",\"data\":{\"object\":[]}}",
		"{\"id\":\"e\",\"type\":\"payment_intent.succeeded\",\"data\":{\"object\":{\"id\":"
		"5}}}",
		/* and the fields read have their types and ranges */
		"{\"id\":\"e\",\"type\":\"payment_intent.succeeded\",\"data\":{\"object\":{\"id\":"
		"\"pi\","
		"\"amount\":\"2500\"}}}",
		"{\"id\":\"e\",\"type\":\"payment_intent.succeeded\",\"data\":{\"object\":{\"id\":"
		"\"pi\","
		"\"amount\":25.0}}}",
		"{\"id\":\"e\",\"type\":\"payment_intent.succeeded\",\"data\":{\"object\":{\"id\":"
		"\"pi\","
		"\"amount\":-1}}}",
		"{\"id\":\"e\",\"type\":\"payment_intent.succeeded\",\"data\":{\"object\":{\"id\":"
		"\"pi\","
		"\"amount\":1e3}}}",
		"{\"id\":\"e\",\"type\":\"payment_intent.succeeded\",\"data\":{\"object\":{\"id\":"
		"\"pi\","
		"\"amount\":true}}}",
		"{\"id\":\"e\",\"type\":\"payment_intent.succeeded\",\"data\":{\"object\":{\"id\":"
		"\"pi\","
		"\"status\":1}}}",
		"{\"id\":\"e\",\"type\":\"payment_intent.succeeded\",\"data\":{\"object\":{\"id\":"
		"\"pi\","
		"\"object\":\"charge\"}}}",
		"{\"id\":\"e\",\"type\":\"payment_intent.succeeded\",\"data\":{\"object\":{\"id\":"
		"\"pi\","
		"\"metadata\":{\"org_id\":7}}}}",
		"{\"id\":\"e\",\"type\":\"payment_intent.succeeded\",\"data\":{\"object\":{\"id\":"
		"\"pi\","
		"\"metadata\":{\"purchase_id\":\"a\",\"purchase_id\":\"b\"}}}}",
		"{\"id\":\"e\",\"type\":\"payment_intent.succeeded\",\"data\":{\"object\":{\"id\":"
		"\"pi\","
		"\"metadata\":\"org\"}}}",
		"{\"id\":\"e\",\"type\":\"payment_intent.succeeded\",\"data\":{\"object\":{\"id\":"
		"\"pi\","
		"\"last_payment_error\":{\"code\":false}}}}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err_t e = parse(bad[i], &ev);
		if (e != ERR_INVALID)
			printf("# case %zu: %d\n", i, (int)e);
		CHECK(e == ERR_INVALID);
	}
	/* nesting deeper than JSON_MAX_DEPTH, inside a field that is otherwise ignored */
	char deep[200];
	size_t n = (size_t)snprintf(deep, sizeof deep, "{\"id\":\"e\",\"type\":\"x\",\"z\":");
	for (int i = 0; i < 20; i++)
		deep[n++] = '[';
	for (int i = 0; i < 20; i++)
		deep[n++] = ']';
	deep[n++] = '}';
	deep[n] = '\0';
	CHECK(parse(deep, &ev) == ERR_INVALID);
	/* the body is taken with its length: bytes after it are not read */
	static struct arena a;
	const char *two = "{\"id\":\"evt_1\",\"type\":\"x\"}garbage";
	CHECK(pay_event_parse(two, 25, &a, &ev) == ERR_OK);
	CHECK(pay_event_parse(two, 26, &a, &ev) == ERR_INVALID);
	arena_free(&a);
}

int main(void)
{
	RUN(hmac_rfc4231);
	RUN(digest_equal_compares);
	RUN(stripe_vector);
	RUN(security_refusals);
	RUN(one_valid_among_others);
	RUN(spaces_refused);
	RUN(grammar);
	RUN(clock_edges);
	RUN(secret_not_configured);
	RUN(event_succeeded);
	RUN(event_failed);
	RUN(event_other_types);
	RUN(event_malformed);
	T_DONE();
}
