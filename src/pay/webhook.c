/*
 * webhook: the provider's events (see pay.h): the strict Stripe-Signature
 * check over the raw body, and the decoding of event bodies.
 *
 * The header is `t=<unix>,v1=<hex>[,v1=<hex>...]`, possibly with other
 * schemes (`v0=...`). We are stricter than Stripe's libraries (API.md):
 * every element is key=value with a non-empty key and value, elements are
 * separated by ',' alone, and any space, control or non-ASCII byte refuses the
 * header (stripe-node trims spaces around elements; orgd does not: the
 * provider never sends them). Exactly one t, of decimal digits only, within
 * int64. Every v1 is exactly 64 lowercase hex digits, whether or not it
 * matches; other keys are ignored whatever they hold. The signed payload is
 * t's digits exactly as sent, ".", then the body bytes; at least one v1 must
 * equal HMAC-SHA256(secret, payload), compared in constant time.
 */
#include "orgd/pay.h"

#include <stdbool.h>
#include <string.h>

#include "orgd/digest.h"
#include "orgd/json.h"

#define V1_HEX_LEN (2 * DIGEST_LEN)

static int hex_lower(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static bool key_is(const char *k, size_t klen, const char *lit)
{
	return klen == strlen(lit) && memcmp(k, lit, klen) == 0;
}

/* s[0..n) is 1+ decimal digits whose value fits int64; *v gets it. */
static bool parse_ts(const char *s, size_t n, int64_t *v)
{
	if (n == 0)
		return false;
	int64_t x = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		int d = s[i] - '0';
		if (x > (INT64_MAX - d) / 10)
			return false;
		x = x * 10 + d;
	}
	*v = x;
	return true;
}

/* Decode one v1 value (already checked: 64 lowercase hex digits). */
static void decode_v1(const char *s, unsigned char out[DIGEST_LEN])
{
	for (size_t i = 0; i < DIGEST_LEN; i++)
		out[i] = (unsigned char)(hex_lower((unsigned char)s[2 * i]) << 4 |
					 hex_lower((unsigned char)s[2 * i + 1]));
}

/* |now - t| <= tolerance, without overflow for any int64 now (t >= 0). */
static bool within(int64_t now, int64_t t, int64_t tolerance)
{
	uint64_t tol = tolerance > 0 ? (uint64_t)tolerance : 0;
	uint64_t diff = t >= now ? (uint64_t)t - (uint64_t)now : (uint64_t)now - (uint64_t)t;
	return diff <= tol;
}

/*
 * One element of the header: [p, e) split at its first '=' into key and value.
 * false if it is not key=value with both non-empty and bytes 0x21..0x7e only.
 */
static bool split_element(const char *p, const char *e, const char **key, size_t *klen,
			  const char **val, size_t *vlen)
{
	for (const char *q = p; q < e; q++)
		if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f)
			return false;
	const char *eq = memchr(p, '=', (size_t)(e - p));
	if (!eq || eq == p || eq + 1 == e)
		return false;
	*key = p;
	*klen = (size_t)(eq - p);
	*val = eq + 1;
	*vlen = (size_t)(e - eq - 1);
	return true;
}

err_t pay_signature_verify(const char *header, const char *body, size_t len, const char *secret,
			   int64_t now, int64_t tolerance, const char **r_msg)
{
	const char *unused;
	if (!r_msg)
		r_msg = &unused;
	if (!secret || !*secret) {
		*r_msg = "webhook secret not configured";
		return ERR_INTERNAL;
	}
	if (!header) {
		*r_msg = "missing Stripe-Signature header";
		return ERR_INVALID;
	}
	if (!body || len == 0) {
		*r_msg = "empty body";
		return ERR_INVALID;
	}

	/* pass 1: the grammar, the one timestamp, the count of v1 */
	const char *end = header + strlen(header);
	const char *t = NULL;
	size_t tlen = 0, nv1 = 0;
	int64_t ts = 0;
	for (const char *p = header;;) {
		const char *e = memchr(p, ',', (size_t)(end - p));
		if (!e)
			e = end;
		const char *k, *v;
		size_t klen, vlen;
		if (!split_element(p, e, &k, &klen, &v, &vlen)) {
			*r_msg = "malformed Stripe-Signature header";
			return ERR_INVALID;
		}
		if (key_is(k, klen, "t")) {
			if (t) {
				*r_msg = "Stripe-Signature has two timestamps";
				return ERR_INVALID;
			}
			if (!parse_ts(v, vlen, &ts)) {
				*r_msg = "Stripe-Signature timestamp is not a number";
				return ERR_INVALID;
			}
			t = v;
			tlen = vlen;
		} else if (key_is(k, klen, "v1")) {
			bool hex = vlen == V1_HEX_LEN;
			for (size_t i = 0; hex && i < vlen; i++)
				hex = hex_lower((unsigned char)v[i]) >= 0;
			if (!hex) {
				*r_msg = "Stripe-Signature v1 is not 64 lowercase hex digits";
				return ERR_INVALID;
			}
			nv1++;
		} /* any other scheme (v0, ...) is ignored */
		if (e == end)
			break;
		p = e + 1; /* a trailing ',' leaves an empty element: malformed */
	}
	if (!t) {
		*r_msg = "Stripe-Signature has no timestamp";
		return ERR_INVALID;
	}
	if (nv1 == 0) {
		*r_msg = "Stripe-Signature has no v1 signature";
		return ERR_INVALID;
	}
	if (!within(now, ts, tolerance)) {
		*r_msg = "Stripe-Signature timestamp outside the tolerance";
		return ERR_INVALID;
	}

	/* pass 2: compare every v1 (no early exit) with the expected HMAC */
	unsigned char want[DIGEST_LEN], got[DIGEST_LEN];
	const void *parts[] = {t, ".", body};
	const size_t lens[] = {tlen, 1, len};
	digest_hmac_sha256(secret, strlen(secret), parts, lens, 3, want);
	bool match = false;
	for (const char *p = header;;) {
		const char *e = memchr(p, ',', (size_t)(end - p));
		if (!e)
			e = end;
		const char *k, *v;
		size_t klen, vlen;
		if (split_element(p, e, &k, &klen, &v, &vlen) && key_is(k, klen, "v1")) {
			decode_v1(v, got);
			match |= digest_equal(got, want, DIGEST_LEN);
		}
		if (e == end)
			break;
		p = e + 1;
	}
	if (!match) {
		*r_msg = "Stripe-Signature does not match";
		return ERR_INVALID;
	}
	*r_msg = NULL;
	return ERR_OK;
}

/* ---- events -------------------------------------------------------------- */

struct ev_meta {
	struct jstr org_id, purchase_id;
};
struct ev_lpe {
	struct jstr code, decline_code;
};
struct ev_obj {
	struct jstr id, object, status, currency;
	int64_t amount;
	struct ev_meta metadata;
	struct ev_lpe last_payment_error;
};
struct ev_data {
	struct ev_obj object;
};
struct ev {
	struct jstr id, object, type;
	struct ev_data data;
};

static const struct jfield meta_fields[] = {
	{"org_id", JF_STRING, JF_NULLABLE, 0, 0, offsetof(struct ev_meta, org_id), NULL, 0, NULL},
	{"purchase_id", JF_STRING, JF_NULLABLE, 0, 0, offsetof(struct ev_meta, purchase_id), NULL,
	 0, NULL},
};
static const struct jfield lpe_fields[] = {
	{"code", JF_STRING, JF_NULLABLE, 0, 0, offsetof(struct ev_lpe, code), NULL, 0, NULL},
	{"decline_code", JF_STRING, JF_NULLABLE, 0, 0, offsetof(struct ev_lpe, decline_code), NULL,
	 0, NULL},
};
static const struct jfield obj_fields[] = {
	{"id", JF_STRING, 0, 1, 255, offsetof(struct ev_obj, id), NULL, 0, NULL},
	{"object", JF_STRING, JF_NULLABLE, 0, 0, offsetof(struct ev_obj, object), NULL, 0, NULL},
	{"status", JF_STRING, JF_NULLABLE, 0, 0, offsetof(struct ev_obj, status), NULL, 0, NULL},
	{"currency", JF_STRING, JF_NULLABLE, 0, 0, offsetof(struct ev_obj, currency), NULL, 0,
	 NULL},
	{"amount", JF_INT, JF_NULLABLE, 0, INT64_MAX, offsetof(struct ev_obj, amount), NULL, 0,
	 NULL},
	{"metadata", JF_OBJECT, JF_NULLABLE, 0, 0, offsetof(struct ev_obj, metadata), meta_fields,
	 sizeof meta_fields / sizeof meta_fields[0], NULL},
	{"last_payment_error", JF_OBJECT, JF_NULLABLE, 0, 0,
	 offsetof(struct ev_obj, last_payment_error), lpe_fields,
	 sizeof lpe_fields / sizeof lpe_fields[0], NULL},
};
static const struct jfield data_fields[] = {
	{"object", JF_OBJECT, 0, 0, 0, offsetof(struct ev_data, object), obj_fields,
	 sizeof obj_fields / sizeof obj_fields[0], NULL},
};
/* the head of every event; the full table adds data (payment_intent.* only) */
static const struct jfield event_fields[] = {
	{"id", JF_STRING, JF_REQUIRED, 1, 255, offsetof(struct ev, id), NULL, 0, NULL},
	{"object", JF_STRING, 0, 0, 0, offsetof(struct ev, object), NULL, 0, NULL},
	{"type", JF_STRING, JF_REQUIRED, 1, 255, offsetof(struct ev, type), NULL, 0, NULL},
	{"data", JF_OBJECT, JF_REQUIRED, 0, 0, offsetof(struct ev, data), data_fields,
	 sizeof data_fields / sizeof data_fields[0], NULL},
};
enum { EV_ID, EV_OBJECT, EV_TYPE, EV_DATA, EV__HEAD = EV_DATA };

#define PI_PREFIX "payment_intent."

static const char *opt_str(const struct jstr *s)
{
	return s->s; /* NULL when absent or null; the decoder refuses \u0000 */
}

err_t pay_event_parse(const char *body, size_t len, struct arena *a, struct pay_event *out)
{
	memset(out, 0, sizeof *out);
	out->amount = -1;
	struct ev ev = {0};
	uint32_t present;
	const char *bad;
	err_t err = json_decode(body, len, event_fields, EV__HEAD, JSON_ALLOW_UNKNOWN, &ev,
				&present, a, &bad);
	if (err != ERR_OK)
		return err;
	if ((present & 1u << EV_OBJECT) &&
	    !(ev.object.len == 5 && !memcmp(ev.object.s, "event", 5)))
		return ERR_INVALID;
	out->id = ev.id.s;
	out->type = ev.type.s;
	if (ev.type.len < sizeof PI_PREFIX - 1 ||
	    memcmp(ev.type.s, PI_PREFIX, sizeof PI_PREFIX - 1) != 0)
		return ERR_OK; /* another type: the caller answers 200 and ignores it */

	struct ev full = {0};
	full.data.object.amount = -1;
	err = json_decode(body, len, event_fields, sizeof event_fields / sizeof event_fields[0],
			  JSON_ALLOW_UNKNOWN, &full, &present, a, &bad);
	if (err != ERR_OK)
		return err;
	const struct ev_obj *o = &full.data.object;
	if (!o->id.s)
		return ERR_INVALID;
	if (o->object.s && !(o->object.len == 14 && !memcmp(o->object.s, "payment_intent", 14)))
		return ERR_INVALID;
	out->intent_id = o->id.s;
	out->status = opt_str(&o->status);
	out->amount = o->amount;
	out->currency = opt_str(&o->currency);
	out->org_id = opt_str(&o->metadata.org_id);
	out->purchase_id = opt_str(&o->metadata.purchase_id);
	out->failure_code = o->last_payment_error.decline_code.s
				    ? o->last_payment_error.decline_code.s
				    : opt_str(&o->last_payment_error.code);
	out->error_code = opt_str(&o->last_payment_error.code);
	return ERR_OK;
}
