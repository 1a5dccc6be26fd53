#!/usr/bin/python3
"""payprov: the sandbox payment provider of the local stack and of the tests.

It speaks the part of Stripe's REST API that orgd uses (API.md "Payment provider") and
sends Stripe-signed webhooks (API.md "Webhooks"). Python 3 standard library only.

    payprov.py --port N --secret-key sk_test_... --webhook-secret whsec_...
               --webhook-url http://127.0.0.1:PORT/v1/webhooks/payments
               [--state FILE] [--host 127.0.0.1] [--webhook-workers 4]

The two secrets may come from the environment instead (PAYPROV_SECRET_KEY,
PAYPROV_WEBHOOK_SECRET), which keeps them out of `ps`: scripts/stack does that. Without
--webhook-url events are recorded but never sent. One line per request goes to stderr
(method, path, status, time; never a secret or a body). SIGTERM or SIGINT: it stops,
writes --state one last time and exits 0.

Provider API (Stripe's wire format: form-encoded bodies, JSON answers, HTTP/1.1 with
keep-alive; `Authorization: Bearer <secret key>` (or Basic with the key as user) on every
/v1/ call, else 401 invalid_request_error):

    POST /v1/customers                    email, name, description, phone, metadata[k],
                                          payment_method, invoice_settings[...]
    GET  /v1/customers/{cus}
    POST /v1/payment_methods/{pm}/attach  customer
    GET  /v1/payment_methods/{pm}
    POST /v1/payment_intents              amount, currency, customer, payment_method,
                                          confirm, off_session, metadata[k], description...
    GET  /v1/payment_intents/{pi}

Test payment methods (Stripe's test tokens; attaching one returns it under the same id):

    pm_card_visa                             visa 4242        succeeds
    pm_card_visa_debit                       visa 5556        succeeds
    pm_card_mastercard                       mastercard 4444  succeeds
    pm_card_amex                             amex 0005        succeeds
    pm_card_chargeDeclined (_visa_ alias)    visa 0002        402 card_declined / generic_decline
    pm_card_chargeCustomerFail               visa 0341        402 card_declined / generic_decline
    pm_card_chargeDeclinedInsufficientFunds  visa 9995        402 card_declined / insufficient_funds
    pm_card_chargeDeclinedExpiredCard        visa 0069        402 expired_card / expired_card
    pm_card_authenticationRequired           visa 3184        402 authentication_required /
                                                              authentication_required

Every one attaches; the declining ones decline every charge. A decline is HTTP 402
{"error":{"type":"card_error","code","decline_code","message","charge","payment_intent":
{..."status":"requires_payment_method","last_payment_error":{...}},...}}.

Idempotency-Key (1..255 characters) on a POST: the first answer that ran the endpoint (a
success or a 402 decline) is kept 24 h; the same key with the same endpoint and the same
parameters (in any order) gets it again byte for byte with `Idempotent-Replayed: true`
and changes nothing; another endpoint or other parameters: 400 idempotency_error.
Answers that did not run the endpoint (401, 400/404 validation errors, the injected
429/500 below) are not kept: a retry with that key runs anew.

Control interface for the tests, on the same port under /_sandbox/ (no auth: it listens
on 127.0.0.1 only; JSON in and out; errors are 400/404/405 {"error":{"message":...}};
an unknown field in a body is 400):

    GET  /_sandbox/health      200 {"status":"ok","pid":N,"port":N,"webhook_url":...}
    GET  /_sandbox/mode        {"mode","delay_ms","calls_left"}
    POST /_sandbox/mode        {"mode":"normal"|"slow"|"timeout"|"error_500"|"error_429",
                                "delay_ms":N,"calls":K} -> the new mode
         slow: the call runs and its answer comes after delay_ms (default 2000);
         timeout: the call runs (a charge happens, its webhook is sent) but the answer is
           withheld for delay_ms (default 30000) or until the client disconnects;
         error_500 / error_429: Stripe's api_error 500 / rate_limit 429 (with
           Stripe-Should-Retry: true); nothing runs, nothing is kept.
         calls: only the next K /v1/ calls, then normal again (absent: until changed).
         The mode applies to /v1/ calls (after the key check) only.
    GET  /_sandbox/webhooks    {"enabled","duplicate","delay_ms","max_attempts","content_type"}
    POST /_sandbox/webhooks    any of those -> the new settings. enabled false: events are
         recorded ("held") but not sent, until POST /_sandbox/events/deliver-pending;
         duplicate: each new event is sent twice, concurrently (Stripe's duplicate
         delivery); delay_ms: a new event's first send waits that long; max_attempts
         (default 8): tries per send, retried after 0.5 s, 1 s, 2 s... (capped at 30 s)
         while the answer is not 2xx or the connection fails; content_type (default
         "application/json").
    GET  /_sandbox/charges     {"data":[{"id","amount","currency","status","customer",
         "payment_method","metadata","idempotency_key","created","failure_code",
         "latest_charge"}]}: every PaymentIntent created, in order (status "succeeded",
         "requires_payment_method" after a decline, or "requires_confirmation" when not
         confirmed). Filters: ?status= ?customer= ?org_id= ?purchase_id= (metadata).
    GET  /_sandbox/events      {"data":[{"id","type","created","payment_intent",
         "purchase_id","delivered","held","attempts","last_status","last_error",
         "last_attempt_at","history":[{"at","status","error","ms"}]}]} in order (history:
         the last 10 tries). Filters: ?type= ?payment_intent= ?purchase_id= ?delivered=true|false
    GET  /_sandbox/events/{evt}  that record plus "event" (the event object) and "body"
         (the exact bytes sent, as a string)
    POST /_sandbox/events/{evt}/deliver   sends it once now, whatever the settings, and
         answers after that try: {"id","status":HTTP status|null,"error":str|null,
         "delivered":bool} (no retries)
    POST /_sandbox/events/deliver-pending  {"wait":bool,"timeout_ms":N}: queues every
         event not yet delivered with a 2xx (held ones too), retried as usual ->
         202 {"queued":N}; with wait (timeout_ms default 30000), 200
         {"queued","delivered","pending"} once they are all delivered or out of tries.
    POST /_sandbox/reset       {"clear":bool} -> mode normal, webhook settings back to the
         defaults; clear also forgets customers, intents, idempotency keys and events.

Deliberate differences from Stripe: attaching a test token returns that id (Stripe makes
a new pm_... each time), and every listed token attaches, even those that decline (Stripe
refuses to attach 0002); a charge does not check that its payment method is attached to
its customer; no payment_intent.created / charge.* events; 429 and 5xx answers are never
kept for idempotency (Stripe keeps a 500); a missing customer or payment method is 404
resource_missing (also when named by a body parameter); confirm=true without
payment_method is 400 parameter_missing; the webhook's Content-Type is exactly
application/json (Stripe adds "; charset=utf-8"; see /_sandbox/webhooks content_type).
"""

import argparse
import base64
import hashlib
import hmac
import heapq
import http.client
import json
import os
import select
import signal
import socket
import sys
import threading
import time
import traceback
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API_VERSION = "2024-06-20"
BODY_CAP = 1 << 20          # bytes of a request body
IDEM_TTL = 24 * 3600        # seconds an idempotency key is kept
MAX_HISTORY = 10            # delivery tries kept per event
EXP_YEAR = 2034             # every test card's expiry (a constant: replays stay identical)
MODES = ("normal", "slow", "timeout", "error_500", "error_429")
DEFAULT_DELAY_MS = {"normal": 0, "slow": 2000, "timeout": 30000, "error_500": 0,
                    "error_429": 0}
HOOK_DEFAULTS = {"enabled": True, "duplicate": False, "delay_ms": 0, "max_attempts": 8,
                 "content_type": "application/json"}

# test payment method -> (brand, last4, funding, decline kind or None)
CARDS = {
    "pm_card_visa": ("visa", "4242", "credit", None),
    "pm_card_visa_debit": ("visa", "5556", "debit", None),
    "pm_card_mastercard": ("mastercard", "4444", "credit", None),
    "pm_card_amex": ("amex", "0005", "credit", None),
    "pm_card_chargeDeclined": ("visa", "0002", "credit", "generic_decline"),
    "pm_card_visa_chargeDeclined": ("visa", "0002", "credit", "generic_decline"),
    "pm_card_chargeCustomerFail": ("visa", "0341", "credit", "generic_decline"),
    "pm_card_chargeDeclinedInsufficientFunds": ("visa", "9995", "credit", "insufficient_funds"),
    "pm_card_visa_chargeDeclinedInsufficientFunds": ("visa", "9995", "credit",
                                                     "insufficient_funds"),
    "pm_card_chargeDeclinedExpiredCard": ("visa", "0069", "credit", "expired_card"),
    "pm_card_authenticationRequired": ("visa", "3184", "credit", "authentication_required"),
}

# decline kind -> (code, decline_code, message, param)
DECLINES = {
    "generic_decline": ("card_declined", "generic_decline", "Your card was declined.", None),
    "insufficient_funds": ("card_declined", "insufficient_funds",
                           "Your card has insufficient funds.", None),
    "expired_card": ("expired_card", "expired_card", "Your card has expired.", "exp_month"),
    "authentication_required": ("authentication_required", "authentication_required",
                                "Your card was declined. This transaction requires "
                                "authentication.", None),
}

PI_PARAMS = frozenset((
    "amount", "currency", "customer", "payment_method", "confirm", "off_session", "metadata",
    "description", "receipt_email", "expand", "payment_method_types", "capture_method",
    "confirmation_method", "setup_future_usage", "statement_descriptor",
    "statement_descriptor_suffix", "error_on_requires_action", "return_url", "use_stripe_sdk",
    "automatic_payment_methods", "payment_method_options", "mandate", "mandate_data",
    "on_behalf_of", "transfer_data", "transfer_group", "application_fee_amount", "shipping",
    "radar_options"))
CUSTOMER_PARAMS = frozenset(("email", "name", "description", "phone", "metadata",
                             "payment_method", "invoice_settings", "expand"))
ATTACH_PARAMS = frozenset(("customer", "expand"))


def dumps(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def log(msg):
    line = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()) + " payprov: " + msg + "\n"
    try:
        os.write(2, line.encode("utf-8", "replace"))
    except OSError:
        pass


_B62 = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def new_id(prefix, n=24):
    return prefix + bytes(_B62[b % 62] for b in os.urandom(n)).decode()


def fingerprint(pm):
    return bytes(_B62[b % 62] for b in hashlib.sha256(pm.encode()).digest()[:16]).decode()


class ApiError(Exception):
    """A Stripe error answer that did not run the endpoint (never kept for idempotency)."""

    def __init__(self, status, message, type_="invalid_request_error", code=None, param=None):
        super().__init__(message)
        self.status, self.message, self.type, self.code, self.param = \
            status, message, type_, code, param

    def body(self, request_id):
        e = {}
        if self.code:
            e["code"] = self.code
            e["doc_url"] = "https://stripe.com/docs/error-codes/" + self.code.replace("_", "-")
        e["message"] = self.message
        if self.param:
            e["param"] = self.param
        e["request_log_url"] = f"https://dashboard.stripe.com/test/logs/{request_id}"
        e["type"] = self.type
        return {"error": e}


def missing(param):
    return ApiError(400, f"Missing required param: {param}.", code="parameter_missing",
                    param=param)


# --- Stripe objects, rendered from the internal records (deterministic: a replay of
# --- the same record gives the same bytes) ------------------------------------------

def customer_object(c):
    return {
        "id": c["id"], "object": "customer", "address": None, "balance": 0,
        "created": c["created"], "currency": None, "default_source": None,
        "delinquent": False, "description": c["description"], "discount": None,
        "email": c["email"], "invoice_prefix": c["invoice_prefix"],
        "invoice_settings": {"custom_fields": None,
                             "default_payment_method": c["default_pm"], "footer": None,
                             "rendering_options": None},
        "livemode": False, "metadata": c["metadata"], "name": c["name"],
        "next_invoice_sequence": 1, "phone": c["phone"], "preferred_locales": [],
        "shipping": None, "tax_exempt": "none", "test_clock": None,
    }


def pm_object(pm, customer, created):
    brand, last4, funding, _ = CARDS[pm]
    return {
        "id": pm, "object": "payment_method", "allow_redisplay": "unspecified",
        "billing_details": {"address": {"city": None, "country": None, "line1": None,
                                        "line2": None, "postal_code": None, "state": None},
                            "email": None, "name": None, "phone": None},
        "card": {"brand": brand,
                 "checks": {"address_line1_check": None, "address_postal_code_check": None,
                            "cvc_check": None},
                 "country": "US", "display_brand": brand, "exp_month": 12,
                 "exp_year": EXP_YEAR, "fingerprint": fingerprint(pm), "funding": funding,
                 "generated_from": None, "last4": last4,
                 "networks": {"available": [brand], "preferred": None},
                 "three_d_secure_usage": {"supported": True}, "wallet": None},
        "created": created, "customer": customer, "livemode": False, "metadata": {},
        "type": "card",
    }


def card_error(r):
    """The error object of a declined intent record r (without payment_intent)."""
    code, decline_code, message, param = DECLINES[r["decline"]]
    e = {"charge": r["charge"], "code": code, "decline_code": decline_code,
         "doc_url": "https://stripe.com/docs/error-codes/" + code.replace("_", "-"),
         "message": message}
    if param:
        e["param"] = param
    e["payment_method"] = pm_object(r["pm"], r["customer"], r["pm_created"])
    e["type"] = "card_error"
    return e


def pi_object(r):
    declined = r["decline"] is not None
    return {
        "id": r["id"], "object": "payment_intent", "amount": r["amount"],
        "amount_capturable": 0, "amount_details": {"tip": {}},
        "amount_received": r["amount"] if r["status"] == "succeeded" else 0,
        "application": None, "application_fee_amount": None,
        "automatic_payment_methods": None, "canceled_at": None, "cancellation_reason": None,
        "capture_method": "automatic", "client_secret": r["id"] + "_secret_" + r["secret"],
        "confirmation_method": "automatic", "created": r["created"],
        "currency": r["currency"], "customer": r["customer"],
        "description": r["description"], "invoice": None,
        "last_payment_error": card_error(r) if declined else None,
        "latest_charge": r["charge"], "livemode": False, "metadata": r["metadata"],
        "next_action": None, "on_behalf_of": None,
        # after a failed attempt Stripe clears payment_method (it stays in last_payment_error)
        "payment_method": None if declined else r["pm"],
        "payment_method_configuration_details": None,
        "payment_method_options": {"card": {"installments": None, "mandate_options": None,
                                            "network": None,
                                            "request_three_d_secure": "automatic"}},
        "payment_method_types": ["card"], "processing": None,
        "receipt_email": r["receipt_email"], "review": None, "setup_future_usage": None,
        "shipping": None, "source": None, "statement_descriptor": None,
        "statement_descriptor_suffix": None, "status": r["status"], "transfer_data": None,
        "transfer_group": None,
    }


def decline_body(r):
    e = card_error(r)
    pm = e.pop("payment_method")
    typ = e.pop("type")
    e["payment_intent"] = pi_object(r)
    e["payment_method"] = pm
    e["request_log_url"] = (f"https://dashboard.stripe.com/test/logs/{r['request_id']}"
                            f"?t={r['created']}")
    e["type"] = typ
    return {"error": e}


# --- parameters ----------------------------------------------------------------------

def split_params(pairs, allowed):
    """Form pairs -> (plain {name: value}, metadata {k: v}); unknown names are 400."""
    plain, meta = {}, {}
    for k, v in pairs:
        top = k.split("[", 1)[0]
        if top not in allowed:
            raise ApiError(400, f"Received unknown parameter: {k}", code="parameter_unknown",
                           param=k)
        if top == "metadata":
            if k == "metadata":
                if v == "":
                    meta.clear()
                    continue
                raise ApiError(400, "Invalid object", param="metadata")
            if not (k.startswith("metadata[") and k.endswith("]") and k.count("[") == 1
                    and len(k) > 10):
                raise ApiError(400, f"Invalid metadata key: {k}", param="metadata")
            mk = k[9:-1]
            if len(mk) > 40:
                raise ApiError(400, "Metadata keys can have a maximum length of 40 "
                               "characters.", param=k)
            if len(v) > 500:
                raise ApiError(400, "Metadata values can have a maximum length of 500 "
                               "characters.", param=k)
            if v == "":
                meta.pop(mk, None)
            else:
                meta[mk] = v
        elif top != "expand":
            plain[k] = v
    if len(meta) > 50:
        raise ApiError(400, "Metadata can have a maximum of 50 keys.", param="metadata")
    return plain, meta


def parse_bool(p, name, extra=()):
    v = p.get(name)
    if v is None:
        return None
    if v == "true" or v in extra:
        return True
    if v == "false":
        return False
    raise ApiError(400, f"Invalid boolean: {v}", param=name)


def parse_amount(p):
    v = p.get("amount")
    if v is None:
        raise missing("amount")
    if not (v.isascii() and v.isdigit() and len(v) <= 18):
        if v[:1] == "-" and v[1:].isascii() and v[1:].isdigit():
            raise ApiError(400, "This value must be greater than or equal to 1.",
                           code="amount_too_small", param="amount")
        raise ApiError(400, f"Invalid integer: {v}", code="parameter_invalid_integer",
                       param="amount")
    return int(v)


# --- the provider --------------------------------------------------------------------

class Sandbox:
    def __init__(self, args):
        self.secret_key = args.secret_key.encode()
        self.port = args.port
        self.webhook_url = args.webhook_url
        self.state_path = args.state
        self.lock = threading.Lock()
        self.save_lock = threading.Lock()
        self.mode = {"mode": "normal", "delay_ms": 0, "calls_left": None}
        self.hooks = dict(HOOK_DEFAULTS)
        self.wipe()
        self.dirty = False
        self.stopping = threading.Event()
        self.dispatcher = Dispatcher(self, args.webhook_url, args.webhook_secret,
                                     args.webhook_workers)

    def wipe(self):
        self.customers = {}      # id -> record (records are never changed: replaced)
        self.intents = {}        # id -> record
        self.intent_order = []
        self.idem = {}           # key -> {endpoint, sig, status, kind, ref, created, request_id}
        self.events = {}         # id -> record
        self.event_order = []

    # --- state file -------------------------------------------------------------------

    def load(self):
        if not self.state_path or not os.path.exists(self.state_path):
            return
        with open(self.state_path, "rb") as f:
            data = json.load(f)
        if not isinstance(data, dict) or data.get("version") != 1:
            raise ValueError("not a payprov state file (version 1)")
        for c in data["customers"]:
            self.customers[c["id"]] = c
        for r in data["intents"]:
            self.intents[r["id"]] = r
            self.intent_order.append(r["id"])
        now = time.time()
        self.idem = {k: v for k, v in data["idem"].items() if v["created"] + IDEM_TTL > now}
        requeue = []
        for e in data["events"]:
            self.events[e["id"]] = e
            self.event_order.append(e["id"])
            if not e["delivered"] and not e["held"] and e["attempts"] < self.hooks["max_attempts"]:
                requeue.append(e["id"])
        log(f"state: {len(self.customers)} customers, {len(self.intents)} intents, "
            f"{len(self.idem)} idempotency keys, {len(self.events)} events from "
            f"{self.state_path}")
        for evt in requeue:
            self.dispatcher.submit(evt, 1.0)

    def save(self):
        """Writes the state file (atomically) if anything changed; returns seconds spent."""
        if not self.state_path:
            return 0.0
        with self.save_lock:
            with self.lock:
                if not self.dirty:
                    return 0.0
                self.dirty = False
                now = time.time()
                customers = list(self.customers.values())
                intents = [self.intents[i] for i in self.intent_order]
                idem = [(k, v) for k, v in self.idem.items() if v["created"] + IDEM_TTL > now]
                events = [self.events[e] for e in self.event_order]
            t0 = time.monotonic()
            tmp = f"{self.state_path}.tmp.{os.getpid()}"
            try:
                # record by record, so that the other threads keep running meanwhile
                with open(tmp, "wb") as f:
                    f.write(b'{"version":1,"saved_at":%d,"customers":[' % int(now))
                    f.write(b",".join(dumps(c) for c in customers))
                    f.write(b'],"intents":[')
                    f.write(b",".join(dumps(r) for r in intents))
                    f.write(b'],"idem":{')
                    f.write(b",".join(dumps(k) + b":" + dumps(v) for k, v in idem))
                    f.write(b'},"events":[')
                    f.write(b",".join(dumps(e) for e in events))
                    f.write(b"]}\n")
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self.state_path)
            except OSError as e:
                log(f"state: cannot write {self.state_path}: {e}")
                with self.lock:
                    self.dirty = True
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
            return time.monotonic() - t0

    def saver(self):
        interval = 1.0
        while not self.stopping.wait(interval):
            took = self.save()
            interval = max(1.0, 5 * took)   # a big state is written less often

    # --- /v1/ ---------------------------------------------------------------------------

    def authorized(self, header):
        """None if header carries our secret key, else the 401 message."""
        if not header:
            return ("You did not provide an API key. You need to provide your API key in the "
                    "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                    "YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for "
                    "details, or we can help at https://support.stripe.com/.")
        scheme, _, cred = header.strip().partition(" ")
        cred = cred.strip()
        key = None
        if scheme.lower() == "bearer":
            key = cred
        elif scheme.lower() == "basic":
            try:
                key = base64.b64decode(cred, validate=True).decode().split(":", 1)[0]
            except (ValueError, UnicodeDecodeError):
                key = None
        if key is not None and hmac.compare_digest(key.encode("utf-8", "replace"),
                                                   self.secret_key):
            return None
        shown = "****"
        if key and len(key) > 12:   # as Stripe shows it: the prefix and the last 4
            prefix = key[:8] if key[:8] in ("sk_test_", "sk_live_", "rk_test_") else ""
            shown = prefix + "*" * 8 + key[-4:]
        return f"Invalid API Key provided: {shown}"

    def take_fault(self):
        with self.lock:
            m = self.mode
            if m["mode"] == "normal":
                return None
            fault = (m["mode"], m["delay_ms"] / 1000.0)
            if m["calls_left"] is not None:
                left = m["calls_left"] - 1
                self.mode = ({"mode": "normal", "delay_ms": 0, "calls_left": None} if left <= 0
                             else dict(m, calls_left=left))
            return fault

    def api(self, method, path, headers, body):
        """-> (status, body bytes, extra headers, fault or None, log note)."""
        rid = new_id("req_", 14)
        hdrs = [("Request-Id", rid), ("Stripe-Version", API_VERSION)]
        why = self.authorized(headers.get("Authorization"))
        if why is not None:
            hdrs.append(("WWW-Authenticate", 'Basic realm="Stripe"'))
            return 401, dumps({"error": {"message": why, "type": "invalid_request_error"}}), \
                hdrs, None, ""
        fault = self.take_fault()
        if fault and fault[0] == "error_500":
            hdrs.append(("Stripe-Should-Retry", "true"))
            return 500, dumps({"error": {
                "message": "Sorry, something went wrong. We've already been notified of the "
                           "problem, but if you need any help, you can reach us at "
                           "support.stripe.com/contact.",
                "type": "api_error"}}), hdrs, fault, "error_500"
        if fault and fault[0] == "error_429":
            hdrs.append(("Stripe-Should-Retry", "true"))
            return 429, dumps({"error": {
                "code": "rate_limit", "doc_url": "https://stripe.com/docs/error-codes/rate-limit",
                "message": "Request rate limit exceeded. Learn more about rate limits here "
                           "https://stripe.com/docs/rate-limits.",
                "type": "invalid_request_error"}}), hdrs, fault, "error_429"
        note = fault[0] if fault else ""
        try:
            if method == "POST":
                status, payload, more, replayed = self.post(path, headers, body, rid)
                hdrs += more
                if replayed:
                    note = (note + " replayed").strip()
            elif method in ("GET", "HEAD"):
                status, payload = self.get(path)
            else:
                raise self.unrecognized(method, path)
        except ApiError as e:
            status, payload = e.status, dumps(e.body(rid))
        return status, payload, hdrs, fault, note

    @staticmethod
    def unrecognized(method, path):
        return ApiError(404, f"Unrecognized request URL ({method}: {path}). Please see "
                        "https://stripe.com/docs or we can help at https://support.stripe.com/.")

    def route(self, path):
        parts = path.split("/")
        if path == "/v1/customers":
            return "customer", None
        if path == "/v1/payment_intents":
            return "intent", None
        if len(parts) == 5 and parts[2] == "payment_methods" and parts[4] == "attach" \
                and parts[3]:
            return "attach", urllib.parse.unquote(parts[3])
        return None, None

    def post(self, path, headers, body, rid):
        op, arg = self.route(path)
        if op is None:
            raise self.unrecognized("POST", path)
        ctype = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype and ctype != "application/x-www-form-urlencoded":
            raise ApiError(400, f"Invalid request: unsupported Content-Type {ctype}. If error "
                           "persists and you need assistance, please contact "
                           "support@stripe.com.")
        try:
            pairs = urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True,
                                           errors="strict")
        except (UnicodeDecodeError, ValueError):
            raise ApiError(400, "Invalid request: the body is not valid form-encoded UTF-8.")
        key = headers.get("Idempotency-Key")
        more = []
        if key is not None:
            if not 1 <= len(key) <= 255:
                raise ApiError(400, "Idempotency-Key must be 1 to 255 characters long.",
                               type_="invalid_request_error")
            more.append(("Idempotency-Key", key))
        endpoint = "POST " + path
        sig = hashlib.sha256(dumps(sorted(pairs))).hexdigest()[:32]
        event = None
        with self.lock:
            rec = self.idem.get(key) if key is not None else None
            if rec is not None and rec["created"] + IDEM_TTL > time.time():
                if rec["endpoint"] != endpoint:
                    raise ApiError(400, "Keys for idempotent requests can only be used for the "
                                   f"same endpoint they were first used for "
                                   f"('{rec['endpoint'][5:]}' vs '{path}'). Try using a key "
                                   f"other than '{key}' if you meant to execute a different "
                                   "request.", type_="idempotency_error")
                if rec["sig"] != sig:
                    raise ApiError(400, "Keys for idempotent requests can only be used with the "
                                   "same parameters they were first used with. Try using a key "
                                   f"other than '{key}' if you meant to execute a different "
                                   "request.", type_="idempotency_error")
                more += [("Original-Request", rec["request_id"]), ("Idempotent-Replayed", "true")]
                return rec["status"], self.render(rec["kind"], rec["ref"]), more, True
            if op == "customer":
                status, kind, ref = self.create_customer(pairs)
            elif op == "attach":
                status, kind, ref = self.attach(arg, pairs)
            else:
                status, kind, ref, event = self.create_intent(pairs, key, rid)
            if key is not None:
                self.idem[key] = {"endpoint": endpoint, "sig": sig, "status": status,
                                  "kind": kind, "ref": ref, "created": int(time.time()),
                                  "request_id": rid}
                more.append(("Original-Request", rid))
            self.dirty = True
            payload = self.render(kind, ref)
        if event is not None:
            self.new_event(event)
        return status, payload, more, False

    def render(self, kind, ref):
        """The answer body of a kept result (called with the lock held)."""
        if kind == "customer":
            return dumps(customer_object(self.customers[ref]))
        if kind == "pm":
            pm, cus = ref
            return dumps(pm_object(pm, cus, self.customers[cus]["pms"][pm]))
        if kind == "intent":
            return dumps(pi_object(self.intents[ref]))
        if kind == "decline":
            return dumps(decline_body(self.intents[ref]))
        raise KeyError(kind)

    def create_customer(self, pairs):
        p, meta = split_params(pairs, CUSTOMER_PARAMS)
        for k in p:
            if k.startswith("invoice_settings") and k != "invoice_settings[default_payment_method]":
                raise ApiError(400, f"Received unknown parameter: {k}", code="parameter_unknown",
                               param=k)
        now = int(time.time())
        pms = {}
        pm = p.get("payment_method")
        if pm is not None:
            if pm not in CARDS:
                raise ApiError(404, f"No such PaymentMethod: '{pm}'", code="resource_missing",
                               param="payment_method")
            pms[pm] = now
        default_pm = p.get("invoice_settings[default_payment_method]") or None
        if default_pm is not None and default_pm not in pms:
            raise ApiError(400, f"No such PaymentMethod: '{default_pm}'; it is not attached "
                           "to this customer.", code="resource_missing",
                           param="invoice_settings[default_payment_method]")
        c = {"id": new_id("cus_", 14), "created": now, "email": p.get("email") or None,
             "name": p.get("name") or None, "description": p.get("description") or None,
             "phone": p.get("phone") or None, "metadata": meta,
             "invoice_prefix": new_id("", 8).upper(), "default_pm": default_pm, "pms": pms}
        self.customers[c["id"]] = c
        return 200, "customer", c["id"]

    def attach(self, pm, pairs):
        p, _ = split_params(pairs, ATTACH_PARAMS)
        cus = p.get("customer")
        if cus is None:
            raise missing("customer")
        if pm not in CARDS:
            raise ApiError(404, f"No such PaymentMethod: '{pm}'", code="resource_missing",
                           param="payment_method")
        c = self.customers.get(cus)
        if c is None:
            raise ApiError(404, f"No such customer: '{cus}'", code="resource_missing",
                           param="customer")
        if pm not in c["pms"]:
            self.customers[cus] = dict(c, pms=dict(c["pms"], **{pm: int(time.time())}))
        return 200, "pm", [pm, cus]

    def create_intent(self, pairs, key, rid):
        p, meta = split_params(pairs, PI_PARAMS)
        amount = parse_amount(p)
        currency = p.get("currency")
        if currency is None:
            raise missing("currency")
        currency = currency.lower()
        if not (len(currency) == 3 and currency.isascii() and currency.isalpha()):
            raise ApiError(400, f"Invalid currency: {currency}. Stripe currently supports "
                           "these currencies: usd, eur, gbp, ...", param="currency")
        if amount < 50:
            raise ApiError(400, f"Amount must be at least $0.50 {currency}",
                           code="amount_too_small", param="amount")
        if amount > 99999999:
            raise ApiError(400, "Amount must be no more than $999,999.99",
                           code="amount_too_large", param="amount")
        confirm = parse_bool(p, "confirm") or False
        off_session = parse_bool(p, "off_session", ("one_off", "recurring"))
        if off_session and not confirm:
            raise ApiError(400, "The parameter `off_session` can only be used when "
                           "`confirm=true`.", param="off_session")
        if p.get("capture_method", "automatic") not in ("automatic", "automatic_async"):
            raise ApiError(400, "The sandbox supports capture_method=automatic only.",
                           param="capture_method")
        cus = p.get("customer") or None
        if cus is not None and cus not in self.customers:
            raise ApiError(404, f"No such customer: '{cus}'", code="resource_missing",
                           param="customer")
        pm = p.get("payment_method") or None
        if pm is not None and pm not in CARDS:
            raise ApiError(404, f"No such PaymentMethod: '{pm}'", code="resource_missing",
                           param="payment_method")
        if confirm and pm is None:
            raise missing("payment_method")
        now = int(time.time())
        pm_created = now
        if cus is not None and pm is not None:
            pm_created = self.customers[cus]["pms"].get(pm, now)
        decline = CARDS[pm][3] if confirm else None
        if not confirm:
            status = "requires_confirmation" if pm else "requires_payment_method"
        else:
            status = "requires_payment_method" if decline else "succeeded"
        r = {"id": new_id("pi_3"), "created": now, "amount": amount, "currency": currency,
             "customer": cus, "pm": pm, "pm_created": pm_created, "metadata": meta,
             "description": p.get("description") or None,
             "receipt_email": p.get("receipt_email") or None, "status": status,
             "decline": decline, "charge": new_id("ch_3") if confirm else None,
             "secret": new_id("", 24), "idem_key": key, "request_id": rid}
        self.intents[r["id"]] = r
        self.intent_order.append(r["id"])
        event = None
        if confirm:
            event = {"id": new_id("evt_3"),
                     "type": "payment_intent.payment_failed" if decline
                     else "payment_intent.succeeded",
                     "created": now, "pi": r["id"], "request_id": rid, "idem_key": key,
                     "delivered": False, "held": not self.hooks["enabled"], "attempts": 0,
                     "last_status": None, "last_error": None, "last_at": None, "history": []}
            self.events[event["id"]] = event
            self.event_order.append(event["id"])
        return (402 if decline else 200), ("decline" if decline else "intent"), r["id"], event

    def get(self, path):
        parts = path.split("/")
        if len(parts) == 4 and parts[3]:
            what, ident = parts[2], urllib.parse.unquote(parts[3])
            with self.lock:
                if what == "payment_intents":
                    r = self.intents.get(ident)
                    if r is None:
                        raise ApiError(404, f"No such payment_intent: '{ident}'",
                                       code="resource_missing", param="intent")
                    return 200, dumps(pi_object(r))
                if what == "customers":
                    c = self.customers.get(ident)
                    if c is None:
                        raise ApiError(404, f"No such customer: '{ident}'",
                                       code="resource_missing", param="id")
                    return 200, dumps(customer_object(c))
                if what == "payment_methods":
                    if ident not in CARDS:
                        raise ApiError(404, f"No such PaymentMethod: '{ident}'",
                                       code="resource_missing", param="payment_method")
                    return 200, dumps(pm_object(ident, None, 0))
        raise self.unrecognized("GET", path)

    # --- events -------------------------------------------------------------------------

    def new_event(self, event):
        with self.lock:
            hooks = dict(self.hooks)
        if event["held"]:
            return
        sends = 2 if hooks["duplicate"] else 1
        for _ in range(sends):
            self.dispatcher.submit(event["id"], hooks["delay_ms"] / 1000.0)

    def event_object(self, e):
        """The event as sent (called with the lock held)."""
        return {"id": e["id"], "object": "event", "api_version": API_VERSION,
                "created": e["created"],
                "data": {"object": pi_object(self.intents[e["pi"]])},
                "livemode": False, "pending_webhooks": 1,
                "request": {"id": e["request_id"], "idempotency_key": e["idem_key"]},
                "type": e["type"]}

    def record_attempt(self, evt, status, error, ms):
        ok = status is not None and 200 <= status < 300
        with self.lock:
            e = self.events.get(evt)
            if e is None:
                return ok
            now = int(time.time())
            hist = (list(e["history"]) + [{"at": now, "status": status, "error": error,
                                           "ms": ms}])[-MAX_HISTORY:]
            self.events[evt] = dict(e, attempts=e["attempts"] + 1, last_status=status,
                                    last_error=error, last_at=now, held=False,
                                    delivered=e["delivered"] or ok, history=hist)
            self.dirty = True
        return ok

    def event_view(self, e):
        r = self.intents.get(e["pi"])
        return {"id": e["id"], "type": e["type"], "created": e["created"],
                "payment_intent": e["pi"],
                "purchase_id": r["metadata"].get("purchase_id") if r else None,
                "delivered": e["delivered"], "held": e["held"], "attempts": e["attempts"],
                "last_status": e["last_status"], "last_error": e["last_error"],
                "last_attempt_at": e["last_at"], "history": e["history"]}

    # --- /_sandbox/ -----------------------------------------------------------------------

    def control(self, method, path, query, body):
        """-> (status, JSON-able answer)."""
        parts = [p for p in path[len("/_sandbox/"):].split("/") if p]
        name = parts[0] if parts else ""
        q = {k: v[-1] for k, v in urllib.parse.parse_qs(query).items()}
        get = method in ("GET", "HEAD")
        if method == "POST":
            try:
                obj = json.loads(body) if body.strip() else {}
            except (ValueError, UnicodeDecodeError) as e:
                return 400, {"error": {"message": f"body is not JSON: {e}"}}
            if not isinstance(obj, dict):
                return 400, {"error": {"message": "body must be a JSON object"}}
        elif not get:
            return 405, {"error": {"message": "method not allowed"}}
        try:
            if parts == ["health"] and get:
                return 200, {"status": "ok", "pid": os.getpid(), "port": self.port,
                             "webhook_url": self.webhook_url, "state": self.state_path}
            if parts == ["mode"]:
                return (200, self.show_mode()) if get else self.set_mode(obj)
            if parts == ["webhooks"]:
                return (200, self.show_hooks()) if get else self.set_hooks(obj)
            if parts == ["charges"] and get:
                return 200, {"data": self.charges(q)}
            if parts == ["events"] and get:
                return 200, {"data": self.list_events(q)}
            if parts == ["events", "deliver-pending"] and not get:
                return self.deliver_pending(obj)
            if name == "events" and len(parts) == 2 and get:
                return self.show_event(parts[1])
            if name == "events" and len(parts) == 3 and parts[2] == "deliver" and not get:
                return self.deliver_one(parts[1], obj)
            if parts == ["reset"] and not get:
                return self.reset(obj)
        except BadControl as e:
            return 400, {"error": {"message": str(e)}}
        known = (["health"], ["mode"], ["webhooks"], ["charges"], ["events"], ["reset"],
                 ["events", "deliver-pending"])
        if parts in known or (name == "events" and len(parts) in (2, 3)):
            return 405, {"error": {"message": f"{method} is not allowed on {path}"}}
        return 404, {"error": {"message": f"no such sandbox path: {path}"}}

    def show_mode(self):
        with self.lock:
            return dict(self.mode)

    def set_mode(self, obj):
        fields(obj, ("mode", "delay_ms", "calls"))
        mode = obj.get("mode")
        if mode not in MODES:
            raise BadControl(f"mode must be one of {', '.join(MODES)}")
        delay = nonneg(obj, "delay_ms", DEFAULT_DELAY_MS[mode])
        calls = obj.get("calls")
        if calls is not None and (type(calls) is not int or calls < 1):
            raise BadControl("calls must be an integer >= 1 (or absent: until changed)")
        with self.lock:
            self.mode = ({"mode": "normal", "delay_ms": 0, "calls_left": None}
                         if mode == "normal" else
                         {"mode": mode, "delay_ms": delay, "calls_left": calls})
            return 200, dict(self.mode)

    def show_hooks(self):
        with self.lock:
            return dict(self.hooks)

    def set_hooks(self, obj):
        fields(obj, HOOK_DEFAULTS)
        new = {}
        for k in ("enabled", "duplicate"):
            if k in obj:
                if type(obj[k]) is not bool:
                    raise BadControl(f"{k} must be true or false")
                new[k] = obj[k]
        if "delay_ms" in obj:
            new["delay_ms"] = nonneg(obj, "delay_ms", 0)
        if "max_attempts" in obj:
            v = obj["max_attempts"]
            if type(v) is not int or not 1 <= v <= 100:
                raise BadControl("max_attempts must be an integer 1..100")
            new["max_attempts"] = v
        if "content_type" in obj:
            v = obj["content_type"]
            if not isinstance(v, str) or not v or any(c in v for c in "\r\n"):
                raise BadControl("content_type must be a one-line string")
            new["content_type"] = v
        with self.lock:
            self.hooks.update(new)
            return 200, dict(self.hooks)

    def charges(self, q):
        out = []
        with self.lock:
            for i in self.intent_order:
                r = self.intents[i]
                if ("status" in q and r["status"] != q["status"]
                        or "customer" in q and r["customer"] != q["customer"]
                        or "org_id" in q and r["metadata"].get("org_id") != q["org_id"]
                        or "purchase_id" in q
                        and r["metadata"].get("purchase_id") != q["purchase_id"]):
                    continue
                failure = DECLINES[r["decline"]] if r["decline"] else None
                out.append({"id": r["id"], "amount": r["amount"], "currency": r["currency"],
                            "status": r["status"], "customer": r["customer"],
                            "payment_method": r["pm"], "metadata": r["metadata"],
                            "idempotency_key": r["idem_key"], "created": r["created"],
                            "failure_code": failure[1] if failure else None,
                            "latest_charge": r["charge"]})
        return out

    def list_events(self, q):
        delivered = None
        if "delivered" in q:
            if q["delivered"] not in ("true", "false"):
                raise BadControl("delivered must be true or false")
            delivered = q["delivered"] == "true"
        out = []
        with self.lock:
            for i in self.event_order:
                e = self.events[i]
                if ("type" in q and e["type"] != q["type"]
                        or "payment_intent" in q and e["pi"] != q["payment_intent"]
                        or delivered is not None and e["delivered"] != delivered):
                    continue
                v = self.event_view(e)
                if "purchase_id" in q and v["purchase_id"] != q["purchase_id"]:
                    continue
                out.append(v)
        return out

    def show_event(self, evt):
        with self.lock:
            e = self.events.get(evt)
            if e is None:
                return 404, {"error": {"message": f"no such event: {evt}"}}
            v = self.event_view(e)
            body = dumps(self.event_object(e))
        v["event"] = json.loads(body)
        v["body"] = body.decode()
        return 200, v

    def deliver_one(self, evt, obj):
        fields(obj, ())
        with self.lock:
            if evt not in self.events:
                return 404, {"error": {"message": f"no such event: {evt}"}}
        status, error = self.dispatcher.deliver_now(evt)
        ok = status is not None and 200 <= status < 300
        return 200, {"id": evt, "status": status, "error": error, "delivered": ok}

    def deliver_pending(self, obj):
        fields(obj, ("wait", "timeout_ms"))
        wait = obj.get("wait", False)
        if type(wait) is not bool:
            raise BadControl("wait must be true or false")
        timeout = nonneg(obj, "timeout_ms", 30000) / 1000.0
        with self.lock:
            ids = [i for i in self.event_order if not self.events[i]["delivered"]]
            for i in ids:
                if self.events[i]["held"]:
                    self.events[i] = dict(self.events[i], held=False)
                    self.dirty = True
        for i in ids:
            self.dispatcher.submit(i, 0.0, forced=True)
        if not wait:
            return 202, {"queued": len(ids)}
        self.dispatcher.wait_idle(ids, timeout)
        with self.lock:
            done = sum(1 for i in ids if i in self.events and self.events[i]["delivered"])
        return 200, {"queued": len(ids), "delivered": done, "pending": len(ids) - done}

    def reset(self, obj):
        fields(obj, ("clear",))
        clear = obj.get("clear", False)
        if type(clear) is not bool:
            raise BadControl("clear must be true or false")
        with self.lock:
            self.mode = {"mode": "normal", "delay_ms": 0, "calls_left": None}
            self.hooks = dict(HOOK_DEFAULTS)
            if clear:
                self.wipe()
                self.dirty = True
        if clear:
            self.dispatcher.clear()
        return 200, {"mode": self.show_mode(), "webhooks": self.show_hooks(), "cleared": clear}


class BadControl(Exception):
    pass


def fields(obj, allowed):
    extra = sorted(set(obj) - set(allowed))
    if extra:
        raise BadControl(f"unknown field(s): {', '.join(extra)}")


def nonneg(obj, name, default):
    v = obj.get(name, default)
    if v is None:
        v = default
    if type(v) is not int or v < 0:
        raise BadControl(f"{name} must be an integer >= 0")
    return v


# --- webhook delivery --------------------------------------------------------------------

class Dispatcher:
    """Sends events from a queue ordered by due time, with a few worker threads, each
    keeping its connection to the webhook URL alive."""

    def __init__(self, sandbox, url, secret, workers):
        self.sb = sandbox
        self.url = urllib.parse.urlsplit(url) if url else None
        if self.url and self.url.scheme not in ("http", "https"):
            raise ValueError("--webhook-url must be http:// or https://")
        self.path = ""
        if self.url:
            self.path = (self.url.path or "/") + (("?" + self.url.query) if self.url.query
                                                   else "")
        self.secret = (secret or "").encode()
        self.lock = threading.Lock()
        self.work = threading.Condition(self.lock)
        self.idle = threading.Condition(self.lock)
        self.heap = []
        self.seq = 0
        self.queued = {}        # event id -> sends queued or in flight
        self.stopping = False
        self.threads = []
        if self.url:
            for n in range(max(1, workers)):
                t = threading.Thread(target=self.worker, name=f"webhook-{n}", daemon=True)
                t.start()
                self.threads.append(t)

    def submit(self, evt, delay, attempt=1, forced=False):
        if not self.url:
            return
        with self.lock:
            self.seq += 1
            heapq.heappush(self.heap, (time.monotonic() + delay, self.seq, evt, attempt, forced))
            self.queued[evt] = self.queued.get(evt, 0) + 1
            self.work.notify()

    def clear(self):
        with self.lock:
            self.heap = []
            self.queued = {}
            self.idle.notify_all()

    def stop(self):
        with self.lock:
            self.stopping = True
            self.work.notify_all()

    def wait_idle(self, ids, timeout):
        end = time.monotonic() + timeout
        with self.lock:
            while any(self.queued.get(i, 0) for i in ids):
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self.idle.wait(left)
        return True

    def worker(self):
        conn = None
        while True:
            with self.lock:
                while True:
                    if self.stopping:
                        return
                    if self.heap:
                        wait = self.heap[0][0] - time.monotonic()
                        if wait <= 0:
                            item = heapq.heappop(self.heap)
                            break
                        self.work.wait(wait)
                    else:
                        self.work.wait()
            _, _, evt, attempt, forced = item
            try:
                conn = self.attempt(evt, attempt, forced, conn)
            except Exception:       # never let a worker die
                log("webhook: " + traceback.format_exc().strip().replace("\n", " | "))
                conn = None
            finally:
                with self.lock:
                    n = self.queued.get(evt, 0) - 1
                    if n > 0:
                        self.queued[evt] = n
                    else:
                        self.queued.pop(evt, None)
                        self.idle.notify_all()

    def attempt(self, evt, attempt, forced, conn):
        sb = self.sb
        with sb.lock:
            e = sb.events.get(evt)
            if e is None:
                return conn
            if not forced and not sb.hooks["enabled"]:
                if not e["held"]:
                    sb.events[evt] = dict(e, held=True)
                    sb.dirty = True
                return conn
            if attempt > 1 and e["delivered"]:
                return conn                 # delivered meanwhile (by another send)
            body = dumps(sb.event_object(e))
            ctype = sb.hooks["content_type"]
            max_attempts = sb.hooks["max_attempts"]
        status, error, ms, conn = self.post(body, ctype, conn)
        ok = sb.record_attempt(evt, status, error, ms)
        log(f"webhook {evt} try {attempt}: " + (str(status) if status is not None else error))
        if not ok and attempt < max_attempts:
            self.submit(evt, min(0.5 * 2 ** (attempt - 1), 30.0), attempt + 1, forced)
        return conn

    def deliver_now(self, evt):
        """One send of evt on a connection of its own; -> (status, error)."""
        sb = self.sb
        if not self.url:
            return None, "no --webhook-url"
        with sb.lock:
            e = sb.events.get(evt)
            if e is None:
                return None, "no such event"
            body = dumps(sb.event_object(e))
            ctype = sb.hooks["content_type"]
        status, error, ms, conn = self.post(body, ctype, None)
        if conn is not None:
            conn.close()
        sb.record_attempt(evt, status, error, ms)
        log(f"webhook {evt} (deliver): " + (str(status) if status is not None else error))
        return status, error

    def sign(self, body, t):
        return hmac.new(self.secret, b"%d." % t + body, hashlib.sha256).hexdigest()

    def connect(self):
        cls = http.client.HTTPSConnection if self.url.scheme == "https" else \
            http.client.HTTPConnection
        conn = cls(self.url.hostname, self.url.port, timeout=10)
        conn.connect()
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def post(self, body, ctype, conn):
        """-> (status or None, error or None, milliseconds, connection to keep or None)."""
        t0 = time.monotonic()
        t = int(time.time())
        headers = {"Content-Type": ctype, "Stripe-Signature": f"t={t},v1={self.sign(body, t)}",
                   "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                   "Cache-Control": "no-cache", "Accept": "*/*; q=0.5, application/xml"}
        for _ in range(2):
            reused = conn is not None
            try:
                if conn is None:
                    conn = self.connect()
                conn.request("POST", self.path, body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
                if resp.will_close:
                    conn.close()
                    conn = None
                return resp.status, None, round((time.monotonic() - t0) * 1000, 1), conn
            except (OSError, http.client.HTTPException) as e:
                if conn is not None:
                    conn.close()
                conn = None
                stale = isinstance(e, (http.client.RemoteDisconnected, ConnectionResetError,
                                       BrokenPipeError))
                if reused and stale:
                    continue                # a kept-alive connection the server had closed
                return None, f"{type(e).__name__}: {e}", \
                    round((time.monotonic() - t0) * 1000, 1), None
        return None, "connection closed", round((time.monotonic() - t0) * 1000, 1), None


# --- HTTP ------------------------------------------------------------------------------

class BodyError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "payprov"
    timeout = 300               # an idle kept-alive connection is closed after that

    _date = (0, "")

    def setup(self):
        super().setup()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def log_message(self, fmt, *args):    # http.server's own lines: not wanted
        pass

    def do_GET(self):
        self.serve("GET")

    def do_HEAD(self):
        self.serve("HEAD")

    def do_POST(self):
        self.serve("POST")

    def do_PUT(self):
        self.serve("PUT")

    def do_PATCH(self):
        self.serve("PATCH")

    def do_DELETE(self):
        self.serve("DELETE")

    def read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if te == "chunked":
            out = bytearray()
            while True:
                line = self.rfile.readline(1024)
                try:
                    n = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise BodyError(400, "bad chunked body")
                if n == 0:
                    while self.rfile.readline(1024).strip():
                        pass
                    return bytes(out)
                if len(out) + n > BODY_CAP:
                    raise BodyError(413, "body too large")
                out += self.rfile.read(n)
                self.rfile.readline(1024)
        if te:
            raise BodyError(400, f"unsupported Transfer-Encoding {te}")
        n = self.headers.get("Content-Length")
        if n is None:
            return b""
        try:
            n = int(n)
        except ValueError:
            raise BodyError(400, "bad Content-Length")
        if n < 0:
            raise BodyError(400, "bad Content-Length")
        if n > BODY_CAP:
            raise BodyError(413, "body too large")
        body = self.rfile.read(n)
        if len(body) != n:
            raise BodyError(400, "body shorter than Content-Length")
        return body

    def http_date(self):
        now = int(time.time())
        if Handler._date[0] != now:
            Handler._date = (now, self.date_time_string(now))
        return Handler._date[1]

    def answer(self, status, payload, hdrs=(), head=False):
        reason = self.responses.get(status, ("",))[0]
        lines = [f"HTTP/1.1 {status} {reason}", "Server: payprov", "Date: " + self.http_date(),
                 "Content-Type: application/json", f"Content-Length: {len(payload)}",
                 "Cache-Control: no-cache, no-store"]
        lines += [f"{k}: {v}" for k, v in hdrs]
        if self.close_connection:
            lines.append("Connection: close")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
        self.wfile.write(data if head else data + payload)

    def withhold(self, seconds):
        """Waits seconds, or until the client disconnects (-> False)."""
        end = time.monotonic() + seconds
        sock = self.connection
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return True
            try:
                readable, _, _ = select.select([sock], [], [], min(left, 1.0))
                if readable:
                    if not sock.recv(1, socket.MSG_PEEK):
                        return False
                    time.sleep(min(left, 0.05))     # pipelined bytes: keep waiting
            except (OSError, ValueError):
                return False

    def serve(self, method):
        t0 = time.monotonic()
        sb = self.server.sandbox
        split = urllib.parse.urlsplit(self.path)
        path = split.path
        note = ""
        status = "-"
        try:
            try:
                body = self.read_body()
            except BodyError as e:
                self.close_connection = True
                status = e.status
                self.answer(status, dumps({"error": {"message": str(e),
                                                     "type": "invalid_request_error"}}))
                return
            if path.startswith("/v1/"):
                status, payload, hdrs, fault, note = sb.api(method, path, self.headers, body)
                if fault and fault[0] == "slow":
                    time.sleep(fault[1])
                elif fault and fault[0] == "timeout":
                    if not self.withhold(fault[1]):
                        self.close_connection = True
                        note += " (client gone: no answer)"
                        return
                self.answer(status, payload, hdrs, head=method == "HEAD")
            elif path.startswith("/_sandbox/"):
                status, obj = sb.control(method, path, split.query, body)
                self.answer(status, dumps(obj), head=method == "HEAD")
            else:
                status = 404
                self.answer(404, dumps(Sandbox.unrecognized(method, path).body(
                    new_id("req_", 14))), head=method == "HEAD")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            note += " (client gone)"
        except Exception:
            status = 500
            log("error: " + traceback.format_exc().strip().replace("\n", " | "))
            self.close_connection = True
            try:
                self.answer(500, dumps({"error": {"message": "sandbox internal error",
                                                  "type": "api_error"}}))
            except OSError:
                pass
        finally:
            ms = (time.monotonic() - t0) * 1000
            log(f"{method} {path} {status} {ms:.1f}ms"
                + (f" {note.strip()}" if note.strip() else ""))


class Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 1024
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description="the sandbox payment provider (Stripe's wire "
                                 "format); see the module docstring")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--secret-key", default=os.environ.get("PAYPROV_SECRET_KEY"))
    ap.add_argument("--webhook-secret", default=os.environ.get("PAYPROV_WEBHOOK_SECRET"))
    ap.add_argument("--webhook-url")
    ap.add_argument("--state", help="JSON file keeping customers, intents, idempotency keys "
                    "and events across restarts")
    ap.add_argument("--webhook-workers", type=int, default=4)
    args = ap.parse_args()
    if not args.secret_key:
        ap.error("--secret-key (or PAYPROV_SECRET_KEY) is required")
    if args.webhook_url and not args.webhook_secret:
        ap.error("--webhook-secret (or PAYPROV_WEBHOOK_SECRET) is required with --webhook-url")
    if not 0 < args.port < 65536:
        ap.error("--port must be 1..65535")

    try:
        sb = Sandbox(args)
    except ValueError as e:
        ap.error(str(e))
    try:
        sb.load()
    except (OSError, ValueError, KeyError, TypeError) as e:
        log(f"state: cannot read {args.state}: {e}; move it away to start afresh")
        sys.exit(2)
    try:
        httpd = Server((args.host, args.port), Handler)
    except OSError as e:
        log(f"cannot listen on {args.host}:{args.port}: {e}")
        sys.exit(1)
    httpd.sandbox = sb

    stopping = []

    def on_signal(signum, frame):
        if not stopping:
            stopping.append(signum)
            threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    saver = threading.Thread(target=sb.saver, name="saver", daemon=True)
    saver.start()
    log(f"listening on http://{args.host}:{args.port} (pid {os.getpid()}); webhooks to "
        f"{args.webhook_url or '(none)'}; state {args.state or '(memory only)'}")
    httpd.serve_forever(poll_interval=0.25)
    sb.stopping.set()
    sb.dispatcher.stop()
    httpd.server_close()
    sb.save()
    log(f"stopped ({signal.Signals(stopping[0]).name if stopping else 'shutdown'})")
    sys.exit(0)


if __name__ == "__main__":
    main()
