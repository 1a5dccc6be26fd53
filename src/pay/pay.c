/*
 * pay: the provider client (see pay.h). Owns the settings, the worker's one
 * reused curl handle, the form encoding of Stripe's requests and the mapping
 * of every answer to one pay_outcome. The only file that includes curl/curl.h.
 *
 * Every call is a POST with an Idempotency-Key, so repeating it after an
 * unknown outcome (PAY_PENDING) is safe: the provider answers the first
 * outcome again and charges nothing twice. Whatever cannot be read as a
 * definite answer is PAY_PENDING, never PAY_OK or a failure.
 *
 * Transport: http and https only, no redirects, no proxy from the
 * environment, TLS peer and host verification on (curl's defaults, set
 * explicitly), connect and total timeouts from the settings, answers of at
 * most PAY_ANSWER_MAX bytes, no compressed encodings asked for. Logs carry the
 * call, the outcome, the status, the latency and the provider's error code:
 * never the secret key, an id, a form or an answer body.
 */
#include "orgd/pay.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "orgd/json.h"
#include "orgd/log.h"
#include "orgd/metrics.h"

#define CONNECT_TIMEOUT_DEFAULT 2000L
#define TIMEOUT_DEFAULT         5000L

static struct pay_settings settings;

/* The worker's handle, and the process that created it (a fork must not share it). */
static CURL *handle;
static pid_t handle_pid;

void pay_configure(const struct pay_settings *s)
{
	settings = *s;
	if (settings.connect_timeout_ms <= 0)
		settings.connect_timeout_ms = CONNECT_TIMEOUT_DEFAULT;
	if (settings.timeout_ms <= 0)
		settings.timeout_ms = TIMEOUT_DEFAULT;
	const char *b = settings.api_base;
	size_t n = b ? strlen(b) : 0;
	if (!b || (strncmp(b, "https://", 8) != 0 && strncmp(b, "http://", 7) != 0) ||
	    b[n - 1] == '/')
		log_warn("msg=\"payment provider base is not an http(s) URL without a trailing "
			 "slash: every call will stay pending\"");
}

const struct pay_settings *pay_settings(void)
{
	return &settings;
}

err_t pay_global_init(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_error("msg=\"libcurl cannot start\"");
		return ERR_INTERNAL;
	}
	curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
	if (!(v->features & CURL_VERSION_ASYNCHDNS))
		log_warn("msg=\"libcurl resolves names synchronously: the connect timeout does not "
			 "bound DNS\"");
	return ERR_OK;
}

void pay_global_end(void)
{
	curl_global_cleanup();
}

void pay_worker_end(void)
{
	if (handle && handle_pid == getpid())
		curl_easy_cleanup(handle);
	handle = NULL;
}

/*
 * This process's handle, its options back to the defaults (its connections,
 * DNS and TLS session caches are kept). One inherited across fork() is left
 * alone, not cleaned up: its connections belong to the parent.
 */
static CURL *get_handle(void)
{
	pid_t pid = getpid();
	if (handle && handle_pid != pid)
		handle = NULL;
	if (handle) {
		curl_easy_reset(handle);
		return handle;
	}
	handle = curl_easy_init();
	handle_pid = pid;
	return handle;
}

const char *pay_outcome_name(enum pay_outcome o)
{
	static const char *const names[PAY__MAX] = {
		[PAY_OK] = "ok",
		[PAY_DECLINED] = "declined",
		[PAY_PENDING] = "pending",
		[PAY_REJECTED] = "rejected",
	};
	return (unsigned)o < PAY__MAX ? names[o] : "?";
}

/* ---- requests ------------------------------------------------------------ */

/* One call in flight: what the log line and the answer's reading need. */
struct call {
	const char *name; /* "customer", "attach", "charge" */
	CURL *h;
	struct buf url, form, answer;
	bool too_large;   /* the answer passed PAY_ANSWER_MAX */
	bool oom;         /* an allocation failed while building or reading */
	CURLcode curl;    /* curl_easy_perform's result */
	const char *note; /* why an answer was not read, for the log ("unreadable" ...) */
	int64_t amount;   /* pay_charge: the amount asked for */
};

/* s is 1..PAY_ARG_MAX bytes. */
static bool arg_ok(const char *s)
{
	return s && *s && strnlen(s, PAY_ARG_MAX + 1) <= PAY_ARG_MAX;
}

/*
 * A value fit for a header: 1..PAY_ARG_MAX bytes of printable ASCII (a space
 * only inside, if inner_space: an Idempotency-Key may hold one, a key may not).
 */
static bool header_value_ok(const char *s, bool inner_space)
{
	if (!arg_ok(s))
		return false;
	size_t n = strlen(s);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		bool space_ok = inner_space && i > 0 && i + 1 < n;
		if (ch < 0x20 || ch >= 0x7f || (ch == 0x20 && !space_ok))
			return false;
	}
	return true;
}

/* Append key=value to the form, both percent-encoded, '&' between pairs. */
static void form_add(struct call *c, const char *key, const char *val)
{
	char *k = curl_easy_escape(c->h, key, (int)strlen(key));
	char *v = curl_easy_escape(c->h, val, (int)strlen(val));
	if (!k || !v) {
		c->oom = true;
	} else {
		if (c->form.len)
			buf_putc(&c->form, '&');
		buf_puts(&c->form, k);
		buf_putc(&c->form, '=');
		buf_puts(&c->form, v);
	}
	curl_free(k);
	curl_free(v);
}

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
	struct call *c = ud;
	size_t len = size * n;
	if (len > PAY_ANSWER_MAX - c->answer.len) {
		c->too_large = true;
		return 0; /* curl stops: CURLE_WRITE_ERROR */
	}
	buf_put(&c->answer, p, len);
	if (c->answer.oom) {
		c->oom = true;
		return 0;
	}
	return len;
}

/* Append h to *l; false (and *l unchanged) out of memory. */
static bool add_header(struct curl_slist **l, const char *h)
{
	struct curl_slist *t = curl_slist_append(*l, h);
	if (!t)
		return false;
	*l = t;
	return true;
}

static int64_t monotonic_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * POST c->form to c->url. Fills out->http_status and out->us; c->curl says
 * whether an answer came. false if the request could not even be set up
 * (nothing was sent).
 */
static bool perform(struct call *c, const char *idem_key, struct pay_result *out)
{
	struct buf auth = {0}, idem = {0};
	buf_puts(&auth, "Authorization: Bearer ");
	buf_puts(&auth, settings.secret_key);
	buf_putc(&auth, '\0');
	buf_puts(&idem, "Idempotency-Key: ");
	buf_puts(&idem, idem_key);
	buf_putc(&idem, '\0');
	buf_putc(&c->url, '\0');
	buf_putc(&c->form, '\0');
	bool ok = !auth.oom && !idem.oom && !c->url.oom && !c->form.oom;

	struct curl_slist *hdrs = NULL;
	static const char *const fixed[] = {
		"Content-Type: application/x-www-form-urlencoded", "Accept: application/json",
		"Expect:", /* no 100-continue round trip */
	};
	for (size_t i = 0; ok && i < sizeof fixed / sizeof fixed[0]; i++)
		ok = add_header(&hdrs, fixed[i]);
	ok = ok && add_header(&hdrs, auth.p) && add_header(&hdrs, idem.p);
	explicit_bzero(auth.p, auth.cap);
	buf_free(&auth);
	buf_free(&idem);

	CURL *h = c->h;
	CURLcode rc = ok ? CURLE_OK : CURLE_OUT_OF_MEMORY;
#define SET(opt, val)                                                                              \
	do {                                                                                       \
		if (rc == CURLE_OK)                                                                \
			rc = curl_easy_setopt(h, opt, val);                                        \
	} while (0)
	SET(CURLOPT_URL, c->url.p);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_CONNECTTIMEOUT_MS, settings.connect_timeout_ms);
	SET(CURLOPT_TIMEOUT_MS, settings.timeout_ms);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	SET(CURLOPT_PROXY, ""); /* never a proxy named by the environment */
	SET(CURLOPT_USERAGENT, "orgd");
	SET(CURLOPT_POST, 1L);
	SET(CURLOPT_POSTFIELDS, c->form.p);
	SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(c->form.len - 1));
	SET(CURLOPT_HTTPHEADER, hdrs);
	SET(CURLOPT_WRITEFUNCTION, on_data);
	SET(CURLOPT_WRITEDATA, c);
	SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)PAY_ANSWER_MAX);
#undef SET
	bool sent = false;
	if (rc != CURLE_OK) {
		log_error("msg=\"provider call cannot be set up\" call=%s curl=%d", c->name,
			  (int)rc);
		c->oom = true;
	} else {
		int64_t t0 = monotonic_us();
		c->curl = curl_easy_perform(h);
		out->us = monotonic_us() - t0;
		long status = 0;
		if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK &&
		    status > 0 && status < 1000)
			out->http_status = (int)status;
		sent = true;
	}
	/* the handle must not keep pointers to what is freed now */
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, (char *)NULL);
	curl_slist_free_all(hdrs); /* the Authorization copy goes with it */
	return sent;
}

/* ---- answers ------------------------------------------------------------- */

/* Copy an id, code or brand: 1..size-1 bytes of [A-Za-z0-9_.-]. */
static bool copy_token(char *dst, size_t size, const struct jstr *s)
{
	if (!s->s || s->len == 0 || s->len >= size)
		return false;
	for (size_t i = 0; i < s->len; i++) {
		unsigned char ch = (unsigned char)s->s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '.'))
			return false;
	}
	memcpy(dst, s->s, s->len);
	dst[s->len] = '\0';
	return true;
}

static bool jstr_is(const struct jstr *s, const char *lit)
{
	size_t n = strlen(lit);
	return s->s && s->len == n && memcmp(s->s, lit, n) == 0;
}

/* {"error":{"type","code","decline_code","payment_intent":{"id"}}} */
struct ans_err_pi {
	struct jstr id;
};
struct ans_err {
	struct jstr type, code, decline_code;
	struct ans_err_pi payment_intent;
};
struct ans_error {
	struct ans_err error;
};
static const struct jfield err_pi_fields[] = {
	{"id", JF_STRING, JF_NULLABLE, 0, 0, offsetof(struct ans_err_pi, id), NULL, 0, NULL},
};
static const struct jfield err_fields[] = {
	{"type", JF_STRING, JF_NULLABLE, 0, 0, offsetof(struct ans_err, type), NULL, 0, NULL},
	{"code", JF_STRING, JF_NULLABLE, 0, 0, offsetof(struct ans_err, code), NULL, 0, NULL},
	{"decline_code", JF_STRING, JF_NULLABLE, 0, 0, offsetof(struct ans_err, decline_code), NULL,
	 0, NULL},
	{"payment_intent", JF_OBJECT, JF_NULLABLE, 0, 0, offsetof(struct ans_err, payment_intent),
	 err_pi_fields, sizeof err_pi_fields / sizeof err_pi_fields[0], NULL},
};
static const struct jfield error_fields[] = {
	{"error", JF_OBJECT, JF_REQUIRED, 0, 0, offsetof(struct ans_error, error), err_fields,
	 sizeof err_fields / sizeof err_fields[0], NULL},
};

/* A customer: {"id"}; a payment method: {"id","card":{"brand","last4"}}; a PaymentIntent. */
struct ans_card {
	struct jstr brand, last4;
};
struct ans_obj {
	struct jstr id, status, currency;
	int64_t amount;
	struct ans_card card;
};
static const struct jfield card_fields[] = {
	{"brand", JF_STRING, JF_NULLABLE, 0, 0, offsetof(struct ans_card, brand), NULL, 0, NULL},
	{"last4", JF_STRING, JF_NULLABLE, 0, 0, offsetof(struct ans_card, last4), NULL, 0, NULL},
};
static const struct jfield obj_fields[] = {
	{"id", JF_STRING, JF_REQUIRED, 1, 0, offsetof(struct ans_obj, id), NULL, 0, NULL},
	{"status", JF_STRING, JF_NULLABLE, 0, 0, offsetof(struct ans_obj, status), NULL, 0, NULL},
	{"currency", JF_STRING, JF_NULLABLE, 0, 0, offsetof(struct ans_obj, currency), NULL, 0,
	 NULL},
	{"amount", JF_INT, JF_NULLABLE, 0, INT64_MAX, offsetof(struct ans_obj, amount), NULL, 0,
	 NULL},
	{"card", JF_OBJECT, JF_NULLABLE, 0, 0, offsetof(struct ans_obj, card), card_fields,
	 sizeof card_fields / sizeof card_fields[0], NULL},
};
enum { OBJ_ID, OBJ_STATUS, OBJ_CURRENCY, OBJ_AMOUNT, OBJ_CARD };

/* Reads a 2xx object into out (outcome included); false if it lacks what the call needs. */
typedef bool read_ok_fn(struct call *c, const struct ans_obj *o, uint32_t present,
			struct pay_result *out);

/* A 4xx: DECLINED (402 card_error) or REJECTED, with the provider's code when it has one. */
static void read_error(struct call *c, struct arena *a, struct pay_result *out)
{
	struct ans_error e = {0};
	uint32_t present;
	const char *bad;
	err_t err = json_decode(c->answer.p, c->answer.len, error_fields,
				sizeof error_fields / sizeof error_fields[0], JSON_ALLOW_UNKNOWN,
				&e, &present, a, &bad);
	bool card = err == ERR_OK && jstr_is(&e.error.type, "card_error");
	out->outcome = out->http_status == 402 && card ? PAY_DECLINED : PAY_REJECTED;
	if (err != ERR_OK) {
		c->note = "unreadable error";
		return;
	}
	/* a decline: its decline_code, else its code; other errors: the code, and for an
	   idempotency_error (the same key with other parameters), which has none, its type */
	if (!(card && copy_token(out->code, sizeof out->code, &e.error.decline_code)) &&
	    !copy_token(out->code, sizeof out->code, &e.error.code) &&
	    !(jstr_is(&e.error.type, "idempotency_error") &&
	      copy_token(out->code, sizeof out->code, &e.error.type)))
		out->code[0] = '\0';
	if (!copy_token(out->error_code, sizeof out->error_code, &e.error.code))
		out->error_code[0] = '\0';
	if (!copy_token(out->id, sizeof out->id, &e.error.payment_intent.id))
		out->id[0] = '\0';
}

/* The answer's status and body, read into out; c->curl == CURLE_OK. */
static void read_answer(struct call *c, struct arena *a, struct pay_result *out,
			read_ok_fn *read_ok)
{
	int st = out->http_status;
	if (st >= 200 && st < 300) {
		struct ans_obj o = {0};
		uint32_t present;
		const char *bad;
		if (json_decode(c->answer.p, c->answer.len, obj_fields,
				sizeof obj_fields / sizeof obj_fields[0], JSON_ALLOW_UNKNOWN, &o,
				&present, a, &bad) != ERR_OK ||
		    !copy_token(out->id, sizeof out->id, &o.id) || !read_ok(c, &o, present, out)) {
			out->id[0] = out->brand[0] = out->last4[0] = out->currency[0] = '\0';
			out->amount = 0;
			out->outcome = PAY_PENDING;
			c->note = "unreadable answer";
		}
		return;
	}
	/* 408: the provider gave up reading us; 409: the same Idempotency-Key is still in
	   flight; 424: a dependency outside the provider failed; 429: rate limited. The
	   outcome is not known in any of them. */
	if (st >= 400 && st < 500 && st != 408 && st != 409 && st != 424 && st != 429) {
		read_error(c, a, out);
		return;
	}
	out->outcome = PAY_PENDING; /* 5xx, 1xx, 3xx (not followed), 408, 409, 424, 429 */
}

/* Finish a call: read what came back, log one line, release everything. */
static err_t finish(struct call *c, bool sent, struct pay_result *out, read_ok_fn *read_ok)
{
	struct arena a = {0};
	err_t ret = ERR_OK;
	out->outcome = PAY_PENDING;
	if (!sent) {
		ret = ERR_INTERNAL; /* nothing left this process */
	} else if (c->curl == CURLE_OK && !c->oom) {
		read_answer(c, &a, out, read_ok);
		if (a.oom) {
			out->outcome = PAY_PENDING; /* sent, its answer lost: unknown */
			c->note = "out of memory reading the answer";
		}
	} else if (c->too_large) {
		c->note = "answer too large";
	} else if (c->oom) {
		c->note = "out of memory reading the answer";
	}

	const char *code = out->code[0] ? out->code : NULL;
	if (sent)
		metrics_provider((int)out->outcome, out->us);
	enum log_level lvl =
		out->outcome == PAY_OK || out->outcome == PAY_DECLINED ? LOG_INFO : LOG_WARN;
	if (sent && c->curl != CURLE_OK && !c->too_large && !c->oom)
		log_msg(lvl,
			"msg=\"provider call\" call=%s outcome=%s http=%d us=%" PRId64
			" curl=%d error=\"%s\"",
			c->name, pay_outcome_name(out->outcome), out->http_status, out->us,
			(int)c->curl, curl_easy_strerror(c->curl));
	else if (sent)
		log_msg(lvl,
			"msg=\"provider call\" call=%s outcome=%s http=%d us=%" PRId64 "%s%s%s%s%s",
			c->name, pay_outcome_name(out->outcome), out->http_status, out->us,
			code ? " code=" : "", code ? code : "", c->note ? " note=\"" : "",
			c->note ? c->note : "", c->note ? "\"" : "");
	arena_free(&a);
	buf_free(&c->url);
	buf_free(&c->form);
	buf_free(&c->answer);
	return ret;
}

/*
 * Start a call: check the settings and the idempotency key, get the handle,
 * begin the URL with the base. false (and a log line) on our own failure.
 */
static bool start(struct call *c, const char *name, const char *idem_key, struct pay_result *out)
{
	memset(out, 0, sizeof *out);
	out->outcome = PAY_PENDING;
	memset(c, 0, sizeof *c);
	c->name = name;
	if (!settings.api_base || !*settings.api_base ||
	    !header_value_ok(settings.secret_key, false)) {
		log_error("msg=\"provider call without settings\" call=%s", name);
		return false;
	}
	if (!header_value_ok(idem_key, true)) {
		log_error("msg=\"provider call with a bad idempotency key\" call=%s", name);
		return false;
	}
	if (!(c->h = get_handle())) {
		log_error("msg=\"provider call: no curl handle\" call=%s", name);
		return false;
	}
	buf_puts(&c->url, settings.api_base);
	return true;
}

/* ---- the calls ----------------------------------------------------------- */

static bool customer_ok(struct call *c, const struct ans_obj *o, uint32_t present,
			struct pay_result *out)
{
	(void)c;
	(void)o;
	(void)present;
	out->outcome = PAY_OK;
	return true;
}

err_t pay_customer_create(const char *org_id, const char *idem_key, struct pay_result *out)
{
	struct call c;
	if (!start(&c, "customer", idem_key, out))
		return ERR_INTERNAL;
	if (!arg_ok(org_id)) {
		log_error("msg=\"provider call with a bad argument\" call=%s", c.name);
		return finish(&c, false, out, customer_ok);
	}
	buf_puts(&c.url, "/v1/customers");
	form_add(&c, "metadata[org_id]", org_id);
	return finish(&c, !c.oom && perform(&c, idem_key, out), out, customer_ok);
}

/* A payment method id as the user may send it: 1..64 bytes of [A-Za-z0-9_-] ("pm_..."). */
static bool pm_ok(const char *pm)
{
	size_t n = pm ? strnlen(pm, 65) : 0;
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)pm[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
			return false;
	}
	return true;
}

static bool attach_ok(struct call *c, const struct ans_obj *o, uint32_t present,
		      struct pay_result *out)
{
	(void)c;
	const struct jstr *l4 = &o->card.last4;
	if (!(present & 1u << OBJ_CARD) ||
	    !copy_token(out->brand, sizeof out->brand, &o->card.brand) || !l4->s || l4->len != 4)
		return false;
	for (size_t i = 0; i < 4; i++)
		if (l4->s[i] < '0' || l4->s[i] > '9')
			return false;
	memcpy(out->last4, l4->s, 5);
	out->outcome = PAY_OK;
	return true;
}

err_t pay_method_attach(const char *pm, const char *customer, const char *idem_key,
			struct pay_result *out)
{
	struct call c;
	if (!start(&c, "attach", idem_key, out))
		return ERR_INTERNAL;
	if (!arg_ok(customer)) {
		log_error("msg=\"provider call with a bad argument\" call=%s", c.name);
		return finish(&c, false, out, attach_ok);
	}
	if (!pm_ok(pm)) {
		/* the caller's user named it: answer as the provider would, without asking it */
		finish(&c, false, out, attach_ok);
		out->outcome = PAY_REJECTED;
		strcpy(out->code, "resource_missing");
		return ERR_OK;
	}
	char *p = curl_easy_escape(c.h, pm, (int)strlen(pm));
	if (!p)
		return finish(&c, false, out, attach_ok);
	buf_puts(&c.url, "/v1/payment_methods/");
	buf_puts(&c.url, p);
	buf_puts(&c.url, "/attach");
	curl_free(p);
	form_add(&c, "customer", customer);
	return finish(&c, !c.oom && perform(&c, idem_key, out), out, attach_ok);
}

static bool charge_ok(struct call *c, const struct ans_obj *o, uint32_t present,
		      struct pay_result *out)
{
	if (!(present & 1u << OBJ_AMOUNT) || !(present & 1u << OBJ_STATUS) ||
	    !copy_token(out->currency, sizeof out->currency, &o->currency))
		return false;
	out->amount = o->amount;
	if (out->amount != c->amount || strcmp(out->currency, "usd") != 0) {
		/* not what was asked: never a success, whatever its status says */
		out->outcome = PAY_PENDING;
		c->note = "answer does not match the request";
		return true;
	}
	/* processing, requires_action, requires_capture ...: not (yet) a success */
	out->outcome = jstr_is(&o->status, "succeeded") ? PAY_OK : PAY_PENDING;
	return true;
}

err_t pay_charge(const struct pay_charge *ch, struct pay_result *out)
{
	struct call c;
	if (!start(&c, "charge", ch->idem_key, out))
		return ERR_INTERNAL;
	if (ch->amount_cents <= 0 || !arg_ok(ch->customer) || !arg_ok(ch->payment_method) ||
	    !arg_ok(ch->org_id) || !arg_ok(ch->purchase_id)) {
		log_error("msg=\"provider call with a bad argument\" call=%s", c.name);
		return finish(&c, false, out, charge_ok);
	}
	char amount[24];
	snprintf(amount, sizeof amount, "%" PRId64, ch->amount_cents);
	c.amount = ch->amount_cents;
	buf_puts(&c.url, "/v1/payment_intents");
	form_add(&c, "amount", amount);
	form_add(&c, "currency", "usd");
	form_add(&c, "customer", ch->customer);
	form_add(&c, "payment_method", ch->payment_method);
	form_add(&c, "confirm", "true");
	form_add(&c, "off_session", "true");
	form_add(&c, "metadata[org_id]", ch->org_id);
	form_add(&c, "metadata[purchase_id]", ch->purchase_id);
	return finish(&c, !c.oom && perform(&c, ch->idem_key, out), out, charge_ok);
}
