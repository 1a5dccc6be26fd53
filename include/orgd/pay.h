/*
 * pay: the payment provider, spoken in Stripe's REST wire format (API.md
 * "Payment provider"), and the provider's webhooks (API.md "Webhooks").
 *
 * pay.c owns the provider client: the settings, one reused curl handle per
 * worker process, the three calls orgd makes, and the mapping of every answer
 * (or its absence) to one pay_outcome. It is the only file that includes
 * curl/curl.h. webhook.c owns the Stripe-Signature check and the decoding of
 * event bodies.
 *
 * Process rules: pay_global_init() once in the master before any fork; the
 * curl handle is created in each worker on its first call (never in the
 * master) and freed by pay_worker_end(). A worker is single-threaded: the calls
 * are not meant to run from two threads at once. Workers ignore SIGPIPE
 * (CURLOPT_NOSIGNAL leaves it to the process).
 *
 * A call blocks for at most the configured timeout: call it only between
 * transactions (DESIGN.md), never inside one.
 */
#ifndef ORGD_PAY_H
#define ORGD_PAY_H

#include <stddef.h>
#include <stdint.h>

#include "orgd/error.h"
#include "orgd/mem.h"

/* Longest argument (an id, an idempotency key) a call accepts, in bytes. */
#define PAY_ARG_MAX 255
/* Largest provider answer read; a longer one is a transport failure (PAY_PENDING). */
#define PAY_ANSWER_MAX (64 * 1024)
/* The webhook timestamp tolerance of API.md, in seconds, either way. */
#define PAY_WEBHOOK_TOLERANCE 300

struct pay_settings {
	const char *api_base;   /* ORGD_PAY_API_BASE, e.g. http://127.0.0.1:18081 (no trailing /) */
	const char *secret_key; /* ORGD_PAY_SECRET_KEY */
	const char *webhook_secret; /* ORGD_PAY_WEBHOOK_SECRET (whsec_...) */
	long connect_timeout_ms;    /* ORGD_PAY_CONNECT_TIMEOUT_MS, default 2000 */
	long timeout_ms;            /* ORGD_PAY_TIMEOUT_MS, default 5000 */
};

/*
 * Install the settings: once, before workers fork. The struct is copied, the
 * strings are not: they must live as long as the process. A timeout <= 0
 * takes its default (2000 ms to connect, 5000 ms in all).
 */
void pay_configure(const struct pay_settings *s);

/* The settings pay_configure() installed (all NULL/0 before it). */
const struct pay_settings *pay_settings(void);

/*
 * curl_global_init(): once in the master, before any fork and before any
 * thread. ERR_OK, or ERR_INTERNAL if libcurl cannot start.
 */
err_t pay_global_init(void);

/* curl_global_cleanup(): once in the master at exit, after every worker is gone. */
void pay_global_end(void);

/* Free this worker's curl handle (and its kept connections); NULL-safe to repeat. */
void pay_worker_end(void);

enum pay_outcome {
	PAY_OK,       /* 2xx: the object was created / the charge succeeded */
	PAY_DECLINED, /* 402 card_error: code[] holds decline_code if present, else code */
	PAY_PENDING,  /* the outcome is unknown: timeout, transport error, an oversized or
			 unreadable answer, 409 (the same Idempotency-Key in flight), 408, 424,
			 429, 5xx, any other status, or a 2xx PaymentIntent whose status is not
			 "succeeded" (processing / requires_action); repeat the same request
			 with the same Idempotency-Key later */
	PAY_REJECTED, /* another 4xx (bad request, unknown payment method, bad key), or a
			 402 that is not a card_error: code[] holds Stripe's error code, e.g.
			 resource_missing ("idempotency_error" for the same key with other
			 parameters), or "" */
	PAY__MAX
};

struct pay_result {
	enum pay_outcome outcome;
	int http_status;     /* 0 when no answer came */
	int64_t us;          /* the call's latency, microseconds */
	char id[65];         /* cus_..., pm_... or pi_... of the answer, "" if none (a decline
				gives the PaymentIntent's id when the error names it) */
	char code[65];       /* decline or error code, "" if none */
	char error_code[65]; /* a 4xx's error.code exactly ("card_declined" where code[] has the
				decline_code "generic_decline"), "" if none */
	char brand[33];      /* pay_method_attach: card.brand, "" for other calls */
	char last4[5];       /* pay_method_attach: card.last4 (4 digits), "" for other calls */
	int64_t amount;      /* pay_charge: what the provider says it charged (cents), else 0 */
	char currency[8];    /* pay_charge: its currency, e.g. "usd", else "" */
};

/* The outcome's name for logs and tests: "ok", "declined", "pending", "rejected". */
const char *pay_outcome_name(enum pay_outcome o);

/*
 * POST /v1/customers with metadata[org_id], under Idempotency-Key idem_key
 * (e.g. "cus:<org_id>"). On PAY_OK, out->id is the customer's id.
 * Returns ERR_OK whenever out->outcome was determined (whatever it is),
 * ERR_INTERNAL for our own failures: out of memory, no settings, an argument
 * NULL, empty or longer than PAY_ARG_MAX, an idempotency key that is not
 * printable ASCII (spaces only inside it). out->outcome is then PAY_PENDING
 * and nothing was sent.
 */
err_t pay_customer_create(const char *org_id, const char *idem_key, struct pay_result *out);

/*
 * POST /v1/payment_methods/{pm}/attach customer=<customer>, pm escaped in the
 * path, under Idempotency-Key idem_key. On PAY_OK, out->id is the payment
 * method's id and out->brand / out->last4 its card's (an answer without a card
 * brand and 4-digit last4 counts as unreadable: PAY_PENDING). A pm that does
 * not exist is PAY_REJECTED with code "resource_missing"; so is, without a
 * call (http_status 0, no log line), a pm that is not 1..64 bytes of
 * [A-Za-z0-9_-]: it comes from a user, so it is never ERR_INTERNAL. Returns as
 * pay_customer_create().
 */
err_t pay_method_attach(const char *pm, const char *customer, const char *idem_key,
			struct pay_result *out);

struct pay_charge {
	int64_t amount_cents; /* > 0 */
	const char *customer, *payment_method, *org_id, *purchase_id, *idem_key;
};

/*
 * POST /v1/payment_intents amount, currency=usd, customer, payment_method,
 * confirm=true, off_session=true, metadata[org_id], metadata[purchase_id], with
 * Idempotency-Key: c->idem_key. PAY_OK only for a 2xx PaymentIntent whose
 * status is "succeeded" and whose amount and currency are the ones asked for
 * (a 2xx that differs is PAY_PENDING, logged); out->id, out->amount and
 * out->currency are what the answer says. A decline is PAY_DECLINED with the
 * decline code (and out->id the PaymentIntent's, when the error names it).
 * Returns as pay_customer_create() (amount_cents <= 0 is ERR_INTERNAL).
 */
err_t pay_charge(const struct pay_charge *c, struct pay_result *out);

/*
 * The strict Stripe-Signature check of API.md over the exact raw body
 * body[0..len): one t= of digits only, each v1= exactly 64 lowercase hex
 * digits, other schemes (v0=, ...) ignored, at least one v1 must match
 * HMAC-SHA256(secret, t "." body) in constant time, |now - t| <= tolerance.
 * No spaces anywhere (stripe-node trims them; we do not).
 * Returns ERR_OK, or ERR_INVALID (also for a missing header or an empty body),
 * or ERR_INTERNAL if secret is NULL or empty (not configured). *r_msg, if
 * r_msg is not NULL, gets a short static reason for the 400 message on
 * failure; it never contains the header or the secret.
 */
err_t pay_signature_verify(const char *header, const char *body, size_t len, const char *secret,
			   int64_t now, int64_t tolerance, const char **r_msg);

struct pay_event {
	const char *id, *type;    /* evt_..., "payment_intent.succeeded" ... (arena memory) */
	const char *intent_id;    /* data.object.id (payment_intent.* events), else NULL */
	const char *status;       /* data.object.status, NULL if absent */
	int64_t amount;           /* data.object.amount, -1 if absent */
	const char *currency;     /* data.object.currency, NULL if absent */
	const char *org_id;       /* data.object.metadata.org_id, NULL if absent */
	const char *purchase_id;  /* data.object.metadata.purchase_id, NULL if absent */
	const char *failure_code; /* data.object.last_payment_error.decline_code, else .code,
				     else NULL */
	const char *error_code;   /* data.object.last_payment_error.code, NULL if absent */
};

/*
 * Decode an event body (strict JSON, unknown fields ignored) into out, strings
 * in a. ERR_INVALID if it is not an object with a string id and type (and, if
 * it says, "object":"event"); for a payment_intent.* type also if it has no
 * data.object with a string id, or a field we read has the wrong type or range.
 * Events of other types need no data.object: only out->id and out->type are set.
 * ERR_INTERNAL out of memory.
 */
err_t pay_event_parse(const char *body, size_t len, struct arena *a, struct pay_event *out);

#endif
