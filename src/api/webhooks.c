/*
 * webhooks: POST /v1/webhooks/payments, the payment provider's events (API.md
 * "Webhooks"). The Stripe-Signature is checked over the exact bytes read
 * (pay_signature_verify), then payment_intent.succeeded / payment_failed
 * settle the purchase their metadata names, through the same path as the
 * provider's answer (db_pay.h): exactly once, whichever comes first.
 */
#include <string.h>

#include "orgd/api.h"
#include "orgd/clock.h"
#include "orgd/db_pay.h"
#include "orgd/id.h"
#include "orgd/pay.h"

/* s if it is 1..64 printable ASCII characters (a provider's id), else NULL. */
static const char *ascii_id(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return NULL;
	return n >= 1 && n <= 64 ? s : NULL;
}

err_t api_webhook(struct req *r)
{
	const char *why = NULL;
	err_t err = pay_signature_verify(r->signature, r->body, r->body_len,
					 pay_settings()->webhook_secret, clock_now(),
					 PAY_WEBHOOK_TOLERANCE, &why);
	if (err != ERR_OK) {
		r->err_field = "Stripe-Signature";
		r->err_msg = why ? why : "The Stripe-Signature header is not valid for this body.";
		return err == ERR_INTERNAL ? ERR_INTERNAL : ERR_INVALID;
	}
	struct pay_event ev;
	if ((err = pay_event_parse(r->body, r->body_len, &r->arena, &ev)) != ERR_OK) {
		r->err_msg = "The body is not a payment provider event.";
		return err;
	}
	struct settlement s = {.check = true,
			       .amount = ev.amount,
			       .currency = ev.currency,
			       .org_id = ev.org_id,
			       .intent_id = ascii_id(ev.intent_id)};
	bool succeeded = strcmp(ev.type, "payment_intent.succeeded") == 0;
	bool failed = strcmp(ev.type, "payment_intent.payment_failed") == 0;
	s.how = succeeded ? SETTLE_SUCCEEDED : SETTLE_FAILED;
	if (failed)
		s.failure_code = api_failure_code(ev.failure_code);
	const char *purchase = ev.purchase_id && id_valid(ev.purchase_id, strlen(ev.purchase_id))
				       ? ev.purchase_id
				       : NULL;
	enum webhook_outcome out;
	err = db_webhook_apply(ev.id, ev.type, purchase, succeeded || failed ? &s : NULL,
			       clock_now(), &r->arena, &out);
	if (err != ERR_OK)
		return err;
	jw_obj(&r->w);
	jw_kbool(&r->w, "received", true);
	jw_obj_end(&r->w);
	return ERR_OK;
}
