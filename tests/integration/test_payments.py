"""test_payments: credit purchases, payment methods, the payment provider's failures,
webhooks and paid plans (issue 9; API.md "Credits and billing", "Payment provider",
"Webhooks", the plan row of "Plans, usage and runs" and "Conventions"; SECURITY.md
"Webhooks" and "Money and usage").

The payment provider is the stack's sandbox (tests/fakes/payprov.py), driven through its
/_sandbox/ control interface: every case resets its mode and webhook switches
(POST /_sandbox/reset) when it starts and when it ends, and makes its own users and
organizations, so the cases are independent of each other and of their order. Webhooks
are signed here with the stack's secret ($SECRETS_DIR/pay_webhook_secret, or
ORGD_PAY_WEBHOOK_SECRET when set), in python and once with `openssl dgst -hmac`.
The last case runs scripts/ledger-check over everything the others left."""

import calendar
import copy
import hashlib
import hmac
import json
import os
import random
import re
import signal
import string
import subprocess
import threading
import time

from sandbox import sandboxed, sb_ok, set_mode, webhooks
from orgdtest import (REPO, VAR, accept_invitation, concurrently, db_query, expect, expect_eq,
                      expect_error, main, orgd_worker_pids, req, stack_paths, test, wait_gone,
                      wait_health, wait_until)

PASSWORD = "correct horse battery"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
WEBHOOK = "/v1/webhooks/payments"
# orgd's provider timeout (API.md "Operations"; src/core/config.c's default): the stack
# passes ORGD_PAY_* through from this environment
PAY_TIMEOUT_MS = int(os.environ.get("ORGD_PAY_TIMEOUT_MS", "5000"))
# a provider that answers later than orgd waits
TIMEOUT_DELAY_MS = max(8000, PAY_TIMEOUT_MS + 3000)
BILLING_ENDPOINTS = (
    ("GET", "/v1/org/billing", None),
    ("GET", "/v1/org/billing/purchases", None),
    ("PUT", "/v1/org/billing/payment-method", {"payment_method": "pm_card_visa"}),
    ("DELETE", "/v1/org/billing/payment-method", None),
    ("POST", "/v1/org/billing/credits", {"credits": 1000}),
    ("GET", "/v1/org/billing/ledger", None),
    ("PUT", "/v1/org/billing/auto-recharge",
     {"enabled": True, "threshold_credits": 100, "recharge_credits": 1000}),
    ("PUT", "/v1/org/plan", {"plan": "pro"}),
)


# --- the stack and its sandbox -------------------------------------------------------------

_cfg = {}


def cfg():
    """The webhook secret and orgd's log, read once from scripts/stack paths."""
    if not _cfg:
        paths = stack_paths()
        secret = os.environ.get("ORGD_PAY_WEBHOOK_SECRET")
        if not secret:
            with open(os.path.join(paths["SECRETS_DIR"], "pay_webhook_secret")) as f:
                secret = f.read().strip()
        expect(secret.startswith("whsec_"), "the webhook secret is not a whsec_ string")
        _cfg["secret"] = secret
        _cfg["log"] = os.path.join(paths["LOG_DIR"], "orgd.log")
    return _cfg


def charges(org_id=None, purchase_id=None):
    q = f"?org_id={org_id}" if org_id else f"?purchase_id={purchase_id}"
    return sb_ok("GET", "/_sandbox/charges" + q)["data"]


def events(purchase_id):
    return sb_ok("GET", f"/_sandbox/events?purchase_id={purchase_id}")["data"]


def deliver_pending():
    b = sb_ok("POST", "/_sandbox/events/deliver-pending", {"wait": True, "timeout_ms": 60000})
    expect(b["pending"] == 0, f"deliver-pending left events undelivered: {b}")
    return b


# --- users and organizations ---------------------------------------------------------------

def rnd(n=10):
    return "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(n))


def ok(resp, status, what):
    st, _, body, raw = resp
    expect(st == status, f"{what}: status {st}, want {status}: {raw[:300]!r}")
    return body


def signup(prefix):
    email = f"{prefix}-{rnd()}@example.test"
    body = ok(req("POST", "/v1/auth/signup",
                  body={"email": email, "password": PASSWORD, "name": prefix}), 201, "signup")
    return email, body["user"]["id"]


def login(email):
    return ok(req("POST", "/v1/auth/login", body={"email": email, "password": PASSWORD}), 200,
              "login")["token"]


def workspace(prefix="pay"):
    """A fresh owner and their new organization (plan free, 0 credits)."""
    email, user_id = signup(prefix)
    created = ok(req("POST", "/v1/orgs", body={"name": f"{prefix} {rnd(6)}"},
                     token=login(email)), 201, "create org")
    return {"email": email, "user_id": user_id, "token": created["token"],
            "org_id": created["org"]["id"]}


def add_member(ws, role="member"):
    """A fresh user who is a `role` of ws's organization; returns a token scoped to it.
    Adding a registered user makes an active member, or (API.md) an invitation that the
    user, once verified, accepts."""
    email, _user_id = signup("pay-" + role)
    m = ok(req("POST", "/v1/org/members", body={"email": email, "role": role},
               token=ws["token"]), 201, f"add {role}")
    expect_eq(m.get("status"), "invited", "status of the added member")
    return accept_invitation(login(email), ws["org_id"], email)["token"]


def billing(ws):
    return ok(req("GET", "/v1/org/billing", token=ws["token"]), 200, "GET /v1/org/billing")


def balance(ws):
    return billing(ws)["credit_balance"]


def ledger(ws):
    page = ok(req("GET", "/v1/org/billing/ledger?limit=100", token=ws["token"]), 200, "ledger")
    expect(not page["has_more"], "more than 100 ledger rows")
    return page["data"]


def purchases(ws):
    page = ok(req("GET", "/v1/org/billing/purchases?limit=100", token=ws["token"]), 200,
              "purchases")
    expect(not page["has_more"], "more than 100 purchases")
    return page["data"]


def purchase_listed(ws, pid):
    found = [p for p in purchases(ws) if p["id"] == pid]
    expect(len(found) == 1, f"purchase {pid} listed {len(found)} times")
    return found[0]


def audit(ws):
    page = ok(req("GET", "/v1/org/audit?limit=100", token=ws["token"]), 200, "audit")
    return page["data"]


def set_pm(ws, pm, brand, last4):
    body = ok(req("PUT", "/v1/org/billing/payment-method", body={"payment_method": pm},
                  token=ws["token"]), 200, f"PUT payment-method {pm}")
    expect_eq(body, {"brand": brand, "last4": last4}, f"answer to PUT payment-method {pm}")
    expect_eq(billing(ws)["payment_method"], {"brand": brand, "last4": last4},
              f"payment_method in GET /v1/org/billing after {pm}")


def buy(ws, credits, key, token=None, timeout=60):
    headers = {"Idempotency-Key": key} if key is not None else None
    return req("POST", "/v1/org/billing/credits", body={"credits": credits}, headers=headers,
               token=token or ws["token"], timeout=timeout)


def purchase_db(org_id, key):
    """The purchase of org_id made under Idempotency-Key key: (id, status, failure_code)."""
    rows = db_query(f"SELECT id, status, failure_code FROM purchases WHERE org_id = '{org_id}' "
                    f"AND idem_key = '{key}'")
    expect(len(rows) == 1, f"{len(rows)} purchases under key {key}")
    return rows[0]


def ledger_db(org_id):
    return db_query(f"SELECT reason, delta, balance_after, ref FROM ledger "
                    f"WHERE org_id = '{org_id}' ORDER BY seq")


def expect_credited_once(ws, pid, credits, total, what):
    """pid is succeeded, credited by exactly one purchase ledger row, balance total."""
    rows = [r for r in ledger(ws) if r["ref"] == pid]
    expect(len(rows) == 1, f"{what}: {len(rows)} ledger rows for {pid}: {rows}")
    expect_eq((rows[0]["reason"], rows[0]["delta"]), ("purchase", credits),
              f"{what}: the ledger row of {pid}")
    expect_eq(purchase_listed(ws, pid)["status"], "succeeded", f"{what}: purchase status")
    expect_eq(balance(ws), total, f"{what}: credit_balance")
    expect_eq(sum(r["delta"] for r in ledger(ws)), total, f"{what}: sum of the ledger")


def expect_not_credited(ws, pid, total, what):
    expect_eq(purchase_listed(ws, pid)["status"], "pending", f"{what}: purchase status")
    expect_eq(balance(ws), total, f"{what}: credit_balance")
    expect([r for r in ledger(ws) if r["ref"] == pid] == [], f"{what}: a ledger row for {pid}")


def snapshot(org_id):
    """Everything a billing write could change for org_id (database and provider)."""
    tables = [db_query(f"SELECT COUNT(*) FROM {t} WHERE org_id = '{org_id}'")[0][0]
              for t in ("purchases", "ledger", "audit_log", "idempotency_keys")]
    return {
        "counts": tables,
        "org": db_query(f"SELECT plan_id, credit_balance, current_period_end FROM orgs "
                        f"WHERE id = '{org_id}'"),
        "billing": db_query(f"SELECT customer_id, pm_id, pm_brand, pm_last4, ar_enabled, "
                            f"ar_threshold, ar_recharge FROM org_billing WHERE org_id = '{org_id}'"),
        "charges": len(charges(org_id=org_id)),
    }


# --- webhooks ------------------------------------------------------------------------------

def sign(body, t, secret=None):
    """v1 of Stripe's scheme: hex HMAC-SHA256 of "t.body", keyed with the whole whsec_ string."""
    key = (secret or cfg()["secret"]).encode()
    return hmac.new(key, f"{t}.".encode() + body, hashlib.sha256).hexdigest()


def sign_openssl(body, t, secret=None):
    """The same with `openssl dgst -sha256 -hmac <secret>` over the bytes "t.body"."""
    p = subprocess.run(["openssl", "dgst", "-sha256", "-hmac", secret or cfg()["secret"]],
                       input=f"{t}.".encode() + body, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    expect(p.returncode == 0, f"openssl dgst exited {p.returncode}: {p.stderr[:200]!r}")
    hexd = p.stdout.decode().strip().split()[-1]
    expect(re.fullmatch(r"[0-9a-f]{64}", hexd) is not None, f"openssl printed {p.stdout!r}")
    return hexd


def post_hook(body, header):
    headers = {"Stripe-Signature": header} if header is not None else None
    return req("POST", WEBHOOK, raw=body, headers=headers, content_type="application/json")


def signed(body, t=None):
    t = int(time.time()) if t is None else t
    return f"t={t},v1={sign(body, t)}"


def dumps(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def pending_purchase(ws, credits):
    """A purchase left pending by a provider that times out (its webhook held): returns
    (purchase id, the sandbox's event object for it). Leaves the webhooks switched off."""
    webhooks(False)
    set_mode("timeout", delay_ms=TIMEOUT_DELAY_MS, calls=1)
    before = balance(ws)
    key = "pend-" + rnd(16)
    resp = buy(ws, credits, key)
    body = ok(resp, 201, "a purchase whose provider call times out")
    expect_eq(body["purchase"]["status"], "pending", "status of a timed-out purchase")
    expect_eq(body["credit_balance"], before, "credit_balance of a timed-out purchase")
    newest = purchases(ws)[0]
    expect_eq((newest["status"], newest["credits"], newest["amount_cents"]),
              ("pending", credits, credits), "the newest purchase listed")
    pid = newest["id"]
    expect_eq(pid, body["purchase"]["id"], "id of the pending purchase (answer vs list)")
    evs = wait_until(lambda: events(pid), 10)
    expect(evs and len(evs) == 1, f"sandbox events of {pid}: {evs}")
    expect(evs[0]["held"] and not evs[0]["delivered"], f"the sandbox sent the event: {evs[0]}")
    rec = sb_ok("GET", f"/_sandbox/events/{evs[0]['id']}")
    expect_eq(json.loads(rec["body"]), rec["event"], "the sandbox's event body vs its object")
    return pid, rec["event"]


def make_event(template, evt_id=None, type_=None, **obj_changes):
    """A copy of the sandbox's event with a new id (and type); obj_changes set fields of
    data.object (metadata as a whole dict)."""
    ev = copy.deepcopy(template)
    ev["id"] = evt_id or "evt_test_" + rnd(20)
    ev["created"] = int(time.time())
    if type_:
        ev["type"] = type_
    ev["data"]["object"].update(obj_changes)
    return ev


def warn_lines():
    try:
        with open(cfg()["log"], errors="replace") as f:
            return sum(1 for line in f if " level=warn " in line and "webhook" in line)
    except OSError:
        return 0


def webhook_rows(evt_id):
    return db_query(f"SELECT COUNT(*) FROM webhook_events WHERE id = '{evt_id}'")[0][0]


def script(name, *args):
    p = subprocess.run([os.path.join(REPO, "scripts", name), *args],
                       env=dict(os.environ, ORGD_VAR=VAR), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


# --- 1. a purchase, the payment method, validation, members ------------------------------------

@test
@sandboxed
def purchase_needs_a_payment_method_then_credits_once_and_members_get_403():
    ws = workspace("buy")
    org = ws["org_id"]
    b = billing(ws)
    expect_eq((b["credit_balance"], b["payment_method"]), (0, None), "a new organization's billing")

    # no payment method: 409, nothing bought
    expect_error(buy(ws, 1000, "nopm-" + rnd(12)), 409, "conflict")
    # no Idempotency-Key: 400 (before the 409 of the missing payment method)
    resp = buy(ws, 1000, None)
    expect_error(resp, 400, "invalid_request")
    expect_eq(resp[2]["error"].get("field"), "Idempotency-Key", "field of a missing key")
    expect_eq(db_query(f"SELECT COUNT(*) FROM purchases WHERE org_id = '{org}'"), [["0"]],
              "purchases without a payment method")
    expect_eq(charges(org_id=org), [], "charges without a payment method")

    # the payment method: brand and last4 from the provider
    set_pm(ws, "pm_card_visa", "visa", "4242")
    set_pm(ws, "pm_card_mastercard", "mastercard", "4444")

    # validation: no key, credits out of range or of the wrong type
    resp = buy(ws, 1000, None)
    expect_error(resp, 400, "invalid_request")
    expect_eq(resp[2]["error"].get("field"), "Idempotency-Key", "field of a missing key")
    for credits in (499, 1000001, 0, -500, "1000", 1000.5):
        resp = buy(ws, credits, "bad-" + rnd(12))
        expect_error(resp, 400, "invalid_request")
        expect_eq(resp[2]["error"].get("field"), "credits", f"field of credits={credits!r}")
    expect_eq(charges(org_id=org), [], "charges after refused requests")
    expect_eq(balance(ws), 0, "balance after refused requests")

    # a purchase
    n = 1234
    key = "buy-" + rnd(16)
    resp = buy(ws, n, key)
    body = ok(resp, 201, "a purchase")
    expect(resp[1].get("Content-Type", "").startswith("application/json"), "Content-Type")
    expect_eq(sorted(body), ["credit_balance", "purchase"], "purchase answer keys")
    p = body["purchase"]
    expect_eq(sorted(p), ["amount_cents", "credits", "id", "status"], "purchase keys")
    expect_eq((p["status"], p["credits"], p["amount_cents"], body["credit_balance"]),
              ("succeeded", n, n, n), "the purchase answer")
    pid = p["id"]
    expect_eq(balance(ws), n, "credit_balance after the purchase")
    rows = ledger(ws)
    expect_eq(len(rows), 1, f"ledger rows after one purchase: {rows}")
    expect_eq((rows[0]["reason"], rows[0]["ref"], rows[0]["delta"], rows[0]["balance_after"]),
              ("purchase", pid, n, n), "the ledger row")
    listed = purchases(ws)
    expect_eq(len(listed), 1, "purchases listed")
    lp = listed[0]
    expect_eq(sorted(lp), ["amount_cents", "created_at", "credits", "failure_code", "id", "kind",
                           "settled_at", "status"], "listed purchase keys")
    expect_eq((lp["id"], lp["kind"], lp["credits"], lp["amount_cents"], lp["status"],
               lp["failure_code"]), (pid, "credits", n, n, "succeeded", None), "listed purchase")
    expect(isinstance(lp["settled_at"], str) and RFC3339.match(lp["settled_at"])
           and RFC3339.match(lp["created_at"]), f"purchase times {lp}")
    ch = charges(org_id=org)
    expect_eq(len(ch), 1, "charges at the provider")
    expect_eq((ch[0]["amount"], ch[0]["currency"], ch[0]["status"], ch[0]["payment_method"],
               ch[0]["metadata"]), (n, "usd", "succeeded", "pm_card_mastercard",
                                    {"org_id": org, "purchase_id": pid}), "the charge")
    expect_eq(purchase_db(org, key)[:2], [pid, "succeeded"], "the purchase row of the key")
    acts = audit(ws)
    pm_rows = [a for a in acts if a["action"] == "payment_method.updated"]
    expect_eq(len(pm_rows), 2, f"payment_method.updated audit rows: {acts}")
    expect(all(a["actor_user_id"] == ws["user_id"] for a in pm_rows),
           f"payment_method.updated actor: {pm_rows}")
    buy_rows = [a for a in acts if a["action"].startswith("purchase") and a["target"] == pid]
    expect(buy_rows, f"no purchase audit row for {pid}: {[a['action'] for a in acts]}")

    # the limits themselves are accepted
    for credits in (500, 1000000):
        body = ok(buy(ws, credits, "edge-" + rnd(12)), 201, f"a purchase of {credits}")
        expect_eq(body["purchase"]["status"], "succeeded", f"status of a purchase of {credits}")
    total = n + 500 + 1000000
    expect_eq(balance(ws), total, "credit_balance after three purchases")
    expect_eq(sum(r["delta"] for r in ledger(ws)), total, "sum of the ledger")

    # a member: 403 on every billing endpoint, nothing written
    mtoken = add_member(ws, "member")
    before = snapshot(org)
    for method, path, rbody in BILLING_ENDPOINTS:
        headers = {"Idempotency-Key": "member-" + rnd(12)} if path.endswith("/credits") else None
        resp = req(method, path, body=rbody, headers=headers, token=mtoken)
        expect(resp[0] == 403, f"a member's {method} {path}: {resp[0]} {resp[3][:200]!r}")
        expect_error(resp, 403, "forbidden")
    expect_eq(snapshot(org), before, "billing state after the member's requests")
    expect_eq(billing(ws)["payment_method"], {"brand": "mastercard", "last4": "4444"},
              "payment method after the member's DELETE")


# --- 2. one Idempotency-Key twenty times at once ---------------------------------------------

@test
@sandboxed
def same_idempotency_key_twenty_at_once_charges_once_and_replays_one_answer():
    ws = workspace("idem")
    org = ws["org_id"]
    set_pm(ws, "pm_card_visa", "visa", "4242")
    n, key = 2500, "twenty-" + rnd(16)
    results = concurrently(20, lambda _i: buy(ws, n, key))
    errors = [r for r in results if isinstance(r, Exception)]
    expect(not errors, f"requests raised: {errors[:2]}")
    expect_eq([r[0] for r in results], [201] * 20, "statuses of the 20 requests")
    raws = {r[3] for r in results}
    expect_eq(len(raws), 1, f"distinct answers among the 20: {sorted(raws)[:2]}")
    body = results[0][2]
    expect_eq((body["purchase"]["status"], body["purchase"]["credits"], body["credit_balance"]),
              ("succeeded", n, n), "the one answer")
    pid = body["purchase"]["id"]
    expect_eq(len(charges(purchase_id=pid)), 1, "charges of the purchase at the provider")
    expect_eq(len(charges(org_id=org)), 1, "charges of the organization at the provider")
    expect_eq(ledger_db(org), [["purchase", str(n), str(n), pid]], "ledger rows")
    expect_eq(len(purchases(ws)), 1, "purchases")
    expect_eq(balance(ws), n, "credit_balance")
    # later, the same bytes; with another body 409; nothing more charged
    again = buy(ws, n, key)
    expect_eq((again[0], again[3]), (201, results[0][3]), "a later repeat")
    expect_error(buy(ws, n + 1, key), 409, "conflict")
    expect_eq(len(charges(org_id=org)), 1, "charges after the repeat and the 409")
    expect_eq(balance(ws), n, "credit_balance after the repeat and the 409")
    expect_eq(len(purchases(ws)), 1, "purchases after the repeat and the 409")


# --- 3. declines -----------------------------------------------------------------------------

DECLINES = (
    ("pm_card_chargeDeclined", "0002", "card_declined"),
    ("pm_card_chargeDeclinedInsufficientFunds", "9995", "insufficient_funds"),
    ("pm_card_authenticationRequired", "3184", "authentication_required"),
    ("pm_card_chargeDeclinedExpiredCard", "0069", "expired_card"),
)


@test
@sandboxed
def each_decline_is_402_payment_failed_credits_nothing_and_replays():
    ws = workspace("decline")
    org = ws["org_id"]
    for i, (pm, last4, code) in enumerate(DECLINES):
        set_pm(ws, pm, "visa", last4)
        key = f"decl-{i}-" + rnd(12)
        resp = buy(ws, 700, key)
        expect_error(resp, 402, "payment_failed")
        expect_eq(balance(ws), 0, f"{pm}: credit_balance")
        expect_eq(ledger(ws), [], f"{pm}: ledger")
        pid, status, failure = purchase_db(org, key)
        expect_eq((status, failure), ("failed", code), f"{pm}: the purchase row")
        lp = purchase_listed(ws, pid)
        expect_eq((lp["kind"], lp["status"], lp["failure_code"], lp["credits"],
                   lp["amount_cents"]), ("credits", "failed", code, 700, 700),
                  f"{pm}: the purchase listed")
        ch = charges(purchase_id=pid)
        expect(len(ch) == 1 and ch[0]["status"] != "succeeded",
               f"{pm}: charges of the purchase {ch}")
        again = buy(ws, 700, key)
        expect_eq((again[0], again[3]), (402, resp[3]), f"{pm}: the repeat of the key")
        expect_eq(len(charges(purchase_id=pid)), 1, f"{pm}: charges after the repeat")
        expect_eq(len(charges(org_id=org)), i + 1, f"{pm}: charges of the organization")
        expect_eq(len(purchases(ws)), i + 1, f"{pm}: purchases")
    expect_eq(balance(ws), 0, "credit_balance after every decline")


# --- 4. a provider that times out ------------------------------------------------------------

@test
@sandboxed
def timed_out_purchase_is_pending_then_its_webhook_credits_it_once():
    ws = workspace("timeout")
    org = ws["org_id"]
    set_pm(ws, "pm_card_visa", "visa", "4242")
    webhooks(False)
    set_mode("timeout", delay_ms=TIMEOUT_DELAY_MS, calls=1)
    n, key = 1500, "slow-" + rnd(16)
    t0 = time.monotonic()
    resp = buy(ws, n, key)
    took = time.monotonic() - t0
    body = ok(resp, 201, "a purchase whose provider call times out")
    expect_eq((body["purchase"]["status"], body["purchase"]["credits"], body["credit_balance"]),
              ("pending", n, 0), "the answer")
    expect(0.8 * PAY_TIMEOUT_MS / 1000 <= took < TIMEOUT_DELAY_MS / 1000,
           f"the answer took {took:.1f} s (orgd's timeout {PAY_TIMEOUT_MS} ms, the provider's "
           f"{TIMEOUT_DELAY_MS} ms)")
    pid = body["purchase"]["id"]
    expect_not_credited(ws, pid, 0, "after the timeout")
    ch = charges(purchase_id=pid)
    expect(len(ch) == 1 and ch[0]["status"] == "succeeded", f"the charge: {ch}")
    evs = events(pid)
    expect(len(evs) == 1 and evs[0]["held"], f"the held event: {evs}")
    # the same key replays the pending answer and charges nothing
    again = buy(ws, n, key)
    expect_eq((again[0], again[3]), (201, resp[3]), "the repeat of the key")
    expect_eq(len(charges(org_id=org)), 1, "charges after the repeat")

    deliver_pending()
    rec = sb_ok("GET", f"/_sandbox/events/{evs[0]['id']}")
    expect_eq((rec["delivered"], rec["last_status"]), (True, 200), "the delivered event")
    expect_credited_once(ws, pid, n, n, "after the webhook")
    lp = purchase_listed(ws, pid)
    expect(isinstance(lp["settled_at"], str) and RFC3339.match(lp["settled_at"]),
           f"settled_at {lp['settled_at']!r}")
    # the same event again: 200, nothing more
    b = sb_ok("POST", f"/_sandbox/events/{evs[0]['id']}/deliver", {})
    expect_eq((b["status"], b["delivered"]), (200, True), "the event delivered again")
    expect_credited_once(ws, pid, n, n, "after the event came again")
    expect_eq(len(charges(org_id=org)), 1, "charges in the end")


# --- 5. 429 and 500 from the provider --------------------------------------------------------

@test
@sandboxed
def provider_429_or_500_leaves_the_purchase_pending_and_a_retry_charges_nothing():
    for mode in ("error_429", "error_500"):
        ws = workspace("err")
        org = ws["org_id"]
        set_pm(ws, "pm_card_visa", "visa", "4242")
        set_mode(mode, calls=1)
        key = f"{mode}-" + rnd(12)
        resp = buy(ws, 900, key)
        body = ok(resp, 201, f"{mode}: the purchase")
        expect_eq((body["purchase"]["status"], body["credit_balance"]), ("pending", 0),
                  f"{mode}: the answer")
        pid = body["purchase"]["id"]
        expect_eq(sb_ok("GET", "/_sandbox/mode")["mode"], "normal",
                  f"{mode}: the sandbox mode after its one call")
        # the injected error ran nothing: no charge at all
        expect_eq(charges(org_id=org), [], f"{mode}: charges after the error")
        for i in range(3):
            again = buy(ws, 900, key)
            expect_eq((again[0], again[3]), (201, resp[3]), f"{mode}: retry {i + 1} of the key")
        expect_eq(charges(org_id=org), [], f"{mode}: charges after the retries")
        expect_not_credited(ws, pid, 0, f"{mode}: after the retries")
        expect_eq(len(purchases(ws)), 1, f"{mode}: purchases after the retries")
        expect_eq(purchase_db(org, key)[:2], [pid, "pending"], f"{mode}: the purchase row")


# --- 6. webhook signatures -------------------------------------------------------------------

@test
@sandboxed
def bad_webhook_signatures_are_400_and_one_valid_v1_among_others_is_200():
    # the test's signer against SECURITY.md's vector, in python and with openssl
    vec = b'{"id":"evt_test_webhook","object":"event"}'
    want = "d95c6b7477fbd7e9f90b1b0ef5f9c7ac25abca5382460e0d988c2b2a5b71b990"
    expect_eq(sign(vec, 1700000000, "whsec_test_secret"), want, "python HMAC of the vector")
    expect_eq(sign_openssl(vec, 1700000000, "whsec_test_secret"), want, "openssl of the vector")

    ws = workspace("hook")
    set_pm(ws, "pm_card_visa", "visa", "4242")
    n = 800
    pid, template = pending_purchase(ws, n)
    secret = cfg()["secret"]

    def body_for():
        return dumps(make_event(template))

    now = int(time.time())
    cases = []
    b = body_for()
    cases.append(("missing header", b, None))
    b = body_for()
    cases.append(("wrong secret", b, f"t={now},v1={sign(b, now, 'whsec_' + 'ab' * 32)}"))
    b = body_for()
    cases.append(("the secret without its whsec_ prefix",
                  b, f"t={now},v1={sign(b, now, secret[len('whsec_'):])}"))
    b = body_for()
    i = b.index(b'"id":"evt_') + len(b'"id":"evt_')
    changed = b[:i] + (b"X" if b[i:i + 1] != b"X" else b"Y") + b[i + 1:]
    cases.append(("body changed by one byte", changed, signed(b, now)))
    b = body_for()
    cases.append(("body with one byte more", b + b" ", signed(b, now)))
    b = body_for()
    cases.append(("t older than 300 s", b, signed(b, now - 400)))
    b = body_for()
    cases.append(("t newer than 300 s", b, signed(b, now + 400)))
    b = body_for()
    cases.append(("t with trailing junk", b, f"t={now}x,v1={sign(b, now)}"))
    b = body_for()
    cases.append(("t with a fraction", b, f"t={now}.5,v1={sign(b, now)}"))
    b = body_for()
    cases.append(("two t, the same", b, f"t={now},t={now},v1={sign(b, now)}"))
    b = body_for()
    cases.append(("two t, the valid last", b, f"t={now - 3600},t={now},v1={sign(b, now)}"))
    b = body_for()
    cases.append(("two t, the valid first", b, f"t={now},t={now - 3600},v1={sign(b, now)}"))
    b = body_for()
    cases.append(("only v0", b, f"t={now},v0={sign(b, now)}"))
    b = body_for()
    cases.append(("no t", b, f"v1={sign(b, now)}"))
    b = body_for()
    cases.append(("v1 of 63 hex digits", b, f"t={now},v1={sign(b, now)[:63]}"))
    b = body_for()
    cases.append(("v1 of 65 hex digits", b, f"t={now},v1={sign(b, now)}0"))
    b = body_for()
    cases.append(("uppercase hex", b, f"t={now},v1={sign(b, now).upper()}"))
    cases.append(("an empty body", b"", f"t={now},v1={sign(b'', now)}"))
    for what, body, header in cases:
        resp = post_hook(body, header)
        expect_error(resp, 400, "invalid_request")
        expect_not_credited(ws, pid, 0, what)
        if body:
            evt = json.loads(body)["id"]
            expect_eq(webhook_rows(evt), "0", f"{what}: webhook_events rows of {evt}")

    # one valid signature (made with openssl) among others: 200, credited once
    body = body_for()
    t = int(time.time())
    good = sign_openssl(body, t)
    expect_eq(good, sign(body, t), "openssl vs python HMAC")
    header = (f"t={t},v1={sign(body, t, 'whsec_' + 'cd' * 32)},v1={good},"
              f"v0={sign(body, t)},v1={'0' * 64}")
    resp = post_hook(body, header)
    expect_eq(resp[0], 200, f"a valid event: {resp[3][:300]!r}")
    expect_credited_once(ws, pid, n, n, "after the valid event")
    expect_eq(webhook_rows(json.loads(body)["id"]), "1", "webhook_events rows of the valid event")


# --- 7. webhook events: duplicates, mismatches, other types ----------------------------------

@test
@sandboxed
def same_event_twelve_at_once_and_two_events_of_one_payment_credit_once_mismatches_nothing():
    ws = workspace("events")
    other = workspace("events-other")
    set_pm(ws, "pm_card_visa", "visa", "4242")
    n1, n2, n3 = 600, 700, 900
    p1, t1 = pending_purchase(ws, n1)
    p2, t2 = pending_purchase(ws, n2)
    p3, t3 = pending_purchase(ws, n3)

    # one event twelve times at once
    body = dumps(make_event(t1))
    header = signed(body)
    results = concurrently(12, lambda _i: post_hook(body, header))
    errors = [r for r in results if isinstance(r, Exception)]
    expect(not errors, f"requests raised: {errors[:2]}")
    expect_eq([r[0] for r in results], [200] * 12, "statuses of the 12 copies")
    expect_credited_once(ws, p1, n1, n1, "after 12 copies of one event")
    expect_eq(webhook_rows(json.loads(body)["id"]), "1", "webhook_events rows of the event")

    # two different events for one PaymentIntent, at once, then each again
    pair = [dumps(make_event(t2)) for _ in range(2)]
    results = concurrently(2, lambda i: post_hook(pair[i], signed(pair[i])))
    expect_eq([r[0] if not isinstance(r, Exception) else r for r in results], [200, 200],
              "statuses of the two events")
    for b in pair:
        expect_eq(post_hook(b, signed(b))[0], 200, "an event again")
    expect_credited_once(ws, p2, n2, n1 + n2, "after two events of one payment")

    # events that do not match their purchase: 200, recorded, nothing credited, a warning
    amount = t3["data"]["object"]["amount"]
    meta = dict(t3["data"]["object"]["metadata"])
    expect_eq((amount, meta.get("purchase_id"), meta.get("org_id")), (n3, p3, ws["org_id"]),
              "the sandbox's event of the third purchase")
    bad = (
        ("amount + 1", {"amount": amount + 1, "amount_received": amount + 1}),
        ("amount - 1", {"amount": amount - 1, "amount_received": amount - 1}),
        ("currency eur", {"currency": "eur"}),
        ("currency USD", {"currency": "USD"}),
        ("another organization", {"metadata": dict(meta, org_id=other["org_id"])}),
        ("no organization", {"metadata": {"purchase_id": p3}}),
    )
    for what, changes in bad:
        warns = warn_lines()
        ev = make_event(t3, **changes)
        b = dumps(ev)
        resp = post_hook(b, signed(b))
        expect_eq(resp[0], 200, f"{what}: status ({resp[3][:200]!r})")
        expect_not_credited(ws, p3, n1 + n2, what)
        expect_eq(webhook_rows(ev["id"]), "1", f"{what}: the event is recorded")
        expect(wait_until(lambda: warn_lines() > warns, 3),
               f"{what}: no warning about the webhook in orgd.log")
    expect_eq(balance(other), 0, "the other organization's balance")
    expect_eq(ledger_db(other["org_id"]), [], "the other organization's ledger")
    # the right event credits it
    b = dumps(make_event(t3))
    expect_eq(post_hook(b, signed(b))[0], 200, "the matching event")
    expect_credited_once(ws, p3, n3, n1 + n2 + n3, "after the matching event")

    # another type: 200, ignored
    total = n1 + n2 + n3
    before = (ledger_db(ws["org_id"]), db_query(
        f"SELECT id, status FROM purchases WHERE org_id = '{ws['org_id']}' ORDER BY seq"))
    for type_ in ("customer.created", "charge.refunded", "payment_intent.created"):
        ev = make_event(t1, type_=type_)
        if type_ == "customer.created":
            ev["data"]["object"] = {"id": "cus_test" + rnd(8), "object": "customer",
                                    "metadata": {"org_id": ws["org_id"]}}
        b = dumps(ev)
        expect_eq(post_hook(b, signed(b))[0], 200, f"an event of type {type_}")
    expect_eq(balance(ws), total, "balance after other event types")
    expect_eq((ledger_db(ws["org_id"]), db_query(
        f"SELECT id, status FROM purchases WHERE org_id = '{ws['org_id']}' ORDER BY seq")),
        before, "ledger and purchases after other event types")

    # the sandbox's own held events come last: nothing more
    deliver_pending()
    for pid, credits in ((p1, n1), (p2, n2), (p3, n3)):
        expect_credited_once(ws, pid, credits, total, f"{pid} after the sandbox's own events")
    expect_eq(len(charges(org_id=ws["org_id"])), 3, "charges")


# --- 8. plans --------------------------------------------------------------------------------

def month_ahead(t):
    """t plus one calendar month (the day clamped to the month's end), as orgd counts it."""
    g = time.gmtime(t)
    y, m = (g.tm_year + 1, 1) if g.tm_mon == 12 else (g.tm_year, g.tm_mon + 1)
    last = calendar.monthrange(y, m)[1]
    return calendar.timegm((y, m, min(g.tm_mday, last), g.tm_hour, g.tm_min, g.tm_sec, 0, 0, 0))


def parse_time(s):
    return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))


@test
@sandboxed
def paid_plan_charges_its_price_once_a_decline_keeps_free_and_free_is_at_once():
    ws = workspace("plan")
    org = ws["org_id"]
    set_pm(ws, "pm_card_visa", "visa", "4242")
    t0 = time.time()
    body = ok(req("PUT", "/v1/org/plan", body={"plan": "pro"}, token=ws["token"]), 200,
              "PUT plan pro")
    t1 = time.time()
    expect_eq(body["plan"]["id"], "pro", "plan in the answer")
    expect_eq(body["plan"]["price_cents"], 4900, "price in the answer")
    end = body.get("current_period_end")
    expect(isinstance(end, str) and RFC3339.match(end), f"current_period_end {end!r}")
    expect(month_ahead(int(t0)) - 5 <= parse_time(end) <= month_ahead(int(t1)) + 5,
           f"current_period_end {end} is not one calendar month after now")
    expect_eq(ok(req("GET", "/v1/org", token=ws["token"]), 200, "GET /v1/org")["plan"]["id"],
              "pro", "plan after the upgrade")
    sub = billing(ws)["subscription"]
    expect_eq((sub["plan"], sub["current_period_end"]), ("pro", end), "subscription")
    ch = charges(org_id=org)
    expect_eq(len(ch), 1, "charges of the upgrade")
    expect_eq((ch[0]["amount"], ch[0]["currency"], ch[0]["status"]), (4900, "usd", "succeeded"),
              "the plan's charge")
    plan_buys = [p for p in purchases(ws) if p["kind"] == "plan"]
    expect(len(plan_buys) == 1 and plan_buys[0]["amount_cents"] == 4900
           and plan_buys[0]["status"] == "succeeded", f"plan purchases {plan_buys}")
    expect_eq(ch[0]["metadata"].get("purchase_id"), plan_buys[0]["id"], "the charge's purchase")
    expect_eq((balance(ws), ledger(ws)), (0, []), "credits after a plan purchase")
    expect(any("plan" in a["action"] for a in audit(ws)), "no plan change in the audit log")

    # the same plan again: 200, nothing charged, the period unchanged
    body = ok(req("PUT", "/v1/org/plan", body={"plan": "pro"}, token=ws["token"]), 200,
              "PUT plan pro again")
    expect_eq((body["plan"]["id"], body["current_period_end"]), ("pro", end), "the answer again")
    expect_eq(len(charges(org_id=org)), 1, "charges after the same plan again")
    expect_eq(len(purchases(ws)), 1, "purchases after the same plan again")

    # a declining card on another organization: 402, the plan stays free
    ws2 = workspace("plan-decline")
    set_pm(ws2, "pm_card_chargeDeclined", "visa", "0002")
    expect_error(req("PUT", "/v1/org/plan", body={"plan": "pro"}, token=ws2["token"]), 402,
                 "payment_failed")
    org2 = ok(req("GET", "/v1/org", token=ws2["token"]), 200, "GET /v1/org")
    expect_eq(org2["plan"]["id"], "free", "plan after a declined upgrade")
    sub2 = billing(ws2)["subscription"]
    expect_eq((sub2["plan"], sub2["current_period_end"]), ("free", None), "subscription")
    fails = purchases(ws2)
    expect(len(fails) == 1 and (fails[0]["kind"], fails[0]["status"], fails[0]["failure_code"])
           == ("plan", "failed", "card_declined"), f"the declined plan purchase {fails}")
    ch2 = charges(org_id=ws2["org_id"])
    expect(len(ch2) == 1 and ch2[0]["status"] != "succeeded", f"charges of the decline {ch2}")

    # a provider that times out: 502, the plan unchanged for now; the retry charges nothing
    # more and, the charge confirmed, changes the plan; the held webhook then changes nothing
    ws3 = workspace("plan-timeout")
    set_pm(ws3, "pm_card_visa", "visa", "4242")
    webhooks(False)
    set_mode("timeout", delay_ms=TIMEOUT_DELAY_MS, calls=1)
    expect_error(req("PUT", "/v1/org/plan", body={"plan": "pro"}, token=ws3["token"]), 502,
                 "payment_provider_error")
    org3 = ok(req("GET", "/v1/org", token=ws3["token"]), 200, "GET /v1/org")
    expect_eq(org3["plan"]["id"], "free", "plan after a timed-out upgrade")
    expect_eq(len(charges(org_id=ws3["org_id"])), 1, "charges of the timed-out upgrade")
    pend = purchases(ws3)
    expect(len(pend) == 1 and (pend[0]["kind"], pend[0]["status"]) == ("plan", "pending"),
           f"the timed-out plan purchase {pend}")
    body = ok(req("PUT", "/v1/org/plan", body={"plan": "pro"}, token=ws3["token"]), 200,
              "PUT plan pro again after the timeout")
    expect_eq(body["plan"]["id"], "pro", "plan after the retry")
    end3 = body["current_period_end"]
    expect_eq(len(charges(org_id=ws3["org_id"])), 1, "charges after the retry")
    expect_eq([(p["id"], p["status"]) for p in purchases(ws3)], [(pend[0]["id"], "succeeded")],
              "plan purchases after the retry")
    deliver_pending()
    body = ok(req("GET", "/v1/org", token=ws3["token"]), 200, "GET /v1/org")
    expect_eq((body["plan"]["id"], billing(ws3)["subscription"]["current_period_end"]),
              ("pro", end3), "plan after the held webhook")
    expect_eq(len(charges(org_id=ws3["org_id"])), 1, "charges after the held webhook")

    # free: at once, no period, nothing charged
    t0 = time.monotonic()
    body = ok(req("PUT", "/v1/org/plan", body={"plan": "free"}, token=ws["token"]), 200,
              "PUT plan free")
    expect(time.monotonic() - t0 < 2, "PUT plan free took over 2 s")
    expect_eq((body["plan"]["id"], body.get("current_period_end", "absent")), ("free", None),
              "the answer to PUT free")
    sub = billing(ws)["subscription"]
    expect_eq((sub["plan"], sub["current_period_end"]), ("free", None), "subscription on free")
    expect_eq(ok(req("GET", "/v1/org", token=ws["token"]), 200, "GET /v1/org")["plan"]["id"],
              "free", "plan after PUT free")
    expect_eq(len(charges(org_id=org)), 1, "charges after PUT free")


# --- 9. a worker killed during the provider call -----------------------------------------------

@test
@sandboxed
def worker_killed_during_a_slow_provider_call_leaves_a_pending_purchase_credited_once():
    ws = workspace("kill")
    org = ws["org_id"]
    set_pm(ws, "pm_card_visa", "visa", "4242")
    expect(wait_health(200, 15), "the stack is not healthy")
    workers = orgd_worker_pids()
    expect(workers, "no orgd workers")
    webhooks(False)
    set_mode("slow", delay_ms=3000, calls=1)
    n, key = 1100, "kill-" + rnd(16)
    out = {}

    def send():
        try:
            out["resp"] = buy(ws, n, key, timeout=60)
        except Exception as e:  # noqa: BLE001 - a dropped connection is an answer here
            out["exc"] = e

    th = threading.Thread(target=send)
    th.start()
    try:
        # in flight: the provider has the charge and holds its answer
        wait_until(lambda: charges(org_id=org) or not th.is_alive(), 2.5, 0.02)
        if not charges(org_id=org):
            th.join(10)
            got = out.get("resp", out.get("exc"))
            if isinstance(got, tuple):
                got = (got[0], got[3][:200])
            expect(False, f"the charge did not reach the provider within 2.5 s; the request "
                          f"answered {got!r}")
        killed = orgd_worker_pids()
        for pid in killed:
            os.kill(pid, signal.SIGKILL)
    finally:
        th.join(60)
    expect(not th.is_alive(), "the request did not end")
    if "resp" in out:
        st, _, b, raw = out["resp"]
        expect(st == 502, f"the client got {st} {raw[:200]!r}, want 502 or a dropped connection")
        expect(isinstance(b, dict) and isinstance(b.get("error"), dict),
               f"nginx's 502 has no JSON error body: {raw[:200]!r}")
    expect(wait_health(200, 15), "no 200 from /v1/health after the workers were killed")
    for w in killed:
        expect(wait_gone(w, 10), f"worker {w} still alive 10 s after SIGKILL")

    def replaced():
        now = orgd_worker_pids()
        return len(now) >= len(workers) and not set(now) & set(killed) and now
    expect(wait_until(replaced, 15), f"workers not replaced: {orgd_worker_pids()} "
                                     f"(were {workers}, killed {killed})")

    pid, status, _ = purchase_db(org, key)
    expect_eq(status, "pending", "the purchase after the kill")
    expect_not_credited(ws, pid, 0, "after the kill")
    expect_eq(len(charges(org_id=org)), 1, "charges after the kill")

    deliver_pending()
    expect_credited_once(ws, pid, n, n, "after the held webhook")
    # the client's retry with the same key: the same purchase, nothing charged or credited again
    retry = buy(ws, n, key)
    body = ok(retry, 201, "the retry of the killed request")
    expect_eq((body["purchase"]["id"], body["purchase"]["status"], body["credit_balance"]),
              (pid, "succeeded", n), "the retry's answer")
    again = buy(ws, n, key)
    expect_eq((again[0], again[3]), (201, retry[3]), "a second retry")
    expect_eq(len(charges(org_id=org)), 1, "charges after the retries")
    expect_credited_once(ws, pid, n, n, "after the retries")


# --- 10. the ledger ----------------------------------------------------------------------------

@test
def ledger_check_passes_after_every_payment():
    rc, out, err = script("ledger-check")
    expect(rc == 0, f"scripts/ledger-check exited {rc}: {out.strip()} {err.strip()}")


if __name__ == "__main__":
    main()
