"""test_cron: the cron sweeps (issue 10; API.md "Auto-recharge (cron)", "Credits and
billing", "Payment provider", "Webhooks"; SECURITY.md "Money and usage"): the
auto-recharge settings, POST /v1/internal/auto-recharge, /renewals and /reconcile behind
the cron secret, and the scripts cron runs (scripts/auto-recharge, scripts/reconcile).

The payment provider is the stack's sandbox (tests/fakes/payprov.py), driven through its
/_sandbox/ control interface: every case resets it (POST /_sandbox/reset) when it starts
and when it ends, and makes its own users and organizations. A sweep acts on every
eligible organization of the stack, so what a sweep did is always counted per
organization (the sandbox's charges ?org_id=), and the answers' counts are compared with
what the sandbox saw during those sweeps. The cases that move orgd's clock restart orgd
with ORGD_CLOCK_OFFSET (as test_runs' month rollover does) and restart it without the
offset before they return. The last case runs scripts/ledger-check."""

import calendar
import os
import random
import re
import signal
import string
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

from sandbox import sandbox_reset, sandboxed, sb_ok, set_mode, webhooks
from orgdtest import (REPO, URL, VAR, concurrently, db_query, expect, expect_eq, expect_error,
                      main, orgd_master_pid, req, stack_paths, test, wait_gone, wait_health,
                      wait_until)

PASSWORD = "correct horse battery"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
DAY = 86400
# orgd's provider timeout (src/pay/pay.c's default; the stack passes ORGD_PAY_* through)
PAY_TIMEOUT_MS = int(os.environ.get("ORGD_PAY_TIMEOUT_MS", "5000"))
# a provider that answers later than orgd waits
TIMEOUT_DELAY_MS = max(8000, PAY_TIMEOUT_MS + 3000)
FREE = {"id": "free", "name": "Free", "monthly_run_limit": 1000, "price_cents": 0,
        "overage_credits_per_run": 2}
SWEEPS = {"auto-recharge": "charged", "renewals": "renewed", "reconcile": "settled"}
SUMMARY = re.compile(r"^(auto-recharge|renewals|reconcile): (\d+) calls, (\d+) scanned, "
                     r"(\d+) (charged|renewed|settled), (\d+) failed, (\d+|None) remaining, "
                     r"[0-9.]+ s$")


# --- the stack, its secrets and its sandbox --------------------------------------------------

_cfg = {}


def cfg():
    """The cron secret, read once (from the environment, or the stack's secrets)."""
    if not _cfg:
        paths = stack_paths()
        secret = os.environ.get("ORGD_CRON_SECRET")
        if not secret:
            with open(os.path.join(paths["SECRETS_DIR"], "cron_secret")) as f:
                secret = f.read().strip()
        expect(len(secret) >= 16, "the cron secret is shorter than 16 characters")
        _cfg["cron"] = secret
    return _cfg


def charges(org_id=None):
    """The sandbox's PaymentIntents, in order: all of them, or those of org_id."""
    q = "?org_id=" + urllib.parse.quote(org_id) if org_id else ""
    return sb_ok("GET", "/_sandbox/charges" + q)["data"]


def charge_ids():
    return {c["id"] for c in charges()}


def new_charges(before):
    """The sandbox's charges that are not in `before` (a set of ids)."""
    return [c for c in charges() if c["id"] not in before]


# --- users and organizations -------------------------------------------------------------------

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
    """A token of email's user, scoped to its one organization."""
    body = ok(req("POST", "/v1/auth/login", body={"email": email, "password": PASSWORD}), 200,
              "login")
    expect(body.get("active_org") is not None, f"login of {email}: no active organization")
    return body["token"]


def workspace(prefix="cron"):
    """A fresh owner and their new organization (plan free, 0 credits)."""
    email, user_id = signup(prefix)
    created = ok(req("POST", "/v1/orgs", body={"name": f"{prefix} {rnd(6)}"},
                     token=login_any(email)), 201, "create org")
    return {"email": email, "user_id": user_id, "token": created["token"],
            "org_id": created["org"]["id"]}


def login_any(email):
    return ok(req("POST", "/v1/auth/login", body={"email": email, "password": PASSWORD}), 200,
              "login")["token"]


def relogin(ws):
    """A new token for ws (after orgd's clock moved, older tokens are out of their time)."""
    ws["token"] = login(ws["email"])
    return ws


def billing(ws):
    return ok(req("GET", "/v1/org/billing", token=ws["token"]), 200, "GET /v1/org/billing")


def balance(ws):
    return billing(ws)["credit_balance"]


def auto_recharge_of(ws):
    return billing(ws)["auto_recharge"]


def ledger(ws):
    page = ok(req("GET", "/v1/org/billing/ledger?limit=100", token=ws["token"]), 200, "ledger")
    expect(not page["has_more"], "more than 100 ledger rows")
    return page["data"]


def purchases(ws):
    page = ok(req("GET", "/v1/org/billing/purchases?limit=100", token=ws["token"]), 200,
              "purchases")
    expect(not page["has_more"], "more than 100 purchases")
    return page["data"]


def audit(ws):
    page = ok(req("GET", "/v1/org/audit?limit=100", token=ws["token"]), 200, "audit")
    return page["data"]


def set_pm(ws, pm, brand, last4):
    body = ok(req("PUT", "/v1/org/billing/payment-method", body={"payment_method": pm},
                  token=ws["token"]), 200, f"PUT payment-method {pm}")
    expect_eq(body, {"brand": brand, "last4": last4}, f"answer to PUT payment-method {pm}")


def set_auto_recharge(ws, enabled, threshold, recharge):
    body = ok(req("PUT", "/v1/org/billing/auto-recharge",
                  body={"enabled": enabled, "threshold_credits": threshold,
                        "recharge_credits": recharge}, token=ws["token"]), 200,
              "PUT auto-recharge")
    return body


def eligible_workspace(prefix, threshold=100, recharge=500, pm="pm_card_visa",
                       brand="visa", last4="4242", enable=True):
    """An organization with a saved card, balance 0 and auto-recharge (threshold, recharge)."""
    ws = workspace(prefix)
    set_pm(ws, pm, brand, last4)
    if enable:
        ar = set_auto_recharge(ws, True, threshold, recharge)
        expect_eq(ar, {"enabled": True, "threshold_credits": threshold,
                       "recharge_credits": recharge, "failures": 0}, "auto-recharge settings")
    return ws


def buy(ws, credits, key, timeout=60):
    return req("POST", "/v1/org/billing/credits", body={"credits": credits},
               headers={"Idempotency-Key": key}, token=ws["token"], timeout=timeout)


def ledger_adjust(org_id, delta, ref="test-setup"):
    rc, out, err = script("ledger-adjust", org_id, str(delta), ref)
    expect(rc == 0, f"ledger-adjust {org_id} {delta} exited {rc}: {err.strip()}")
    return int(out.strip())


# --- the sweeps ----------------------------------------------------------------------------------

def sweep_raw(name, auth="secret", body=None, timeout=120):
    """POST /v1/internal/<name>; auth: "secret" (the cron secret), None (no Authorization)
    or the whole Authorization header value."""
    headers = {}
    if auth == "secret":
        headers["Authorization"] = "Bearer " + cfg()["cron"]
    elif auth is not None:
        headers["Authorization"] = auth
    return req("POST", f"/v1/internal/{name}", body={"limit": 1000} if body is None else body,
               headers=headers, timeout=timeout)


def sweep(name="auto-recharge", body=None, timeout=120):
    """One sweep with the cron secret; returns its counts (checked for shape)."""
    got = ok(sweep_raw(name, body=body, timeout=timeout), 200, f"POST /v1/internal/{name}")
    keys = ["scanned", SWEEPS[name], "failed", "remaining"]
    expect_eq(sorted(got), sorted(keys), f"keys of the {name} answer")
    for k in keys:
        expect(isinstance(got[k], int) and not isinstance(got[k], bool) and got[k] >= 0,
               f"{name} answer {k}: {got[k]!r}")
    expect(got[SWEEPS[name]] + got["failed"] <= got["scanned"],
           f"{name} answered more outcomes than it scanned: {got}")
    return got


def org_charges(ws):
    got = charges(ws["org_id"])
    for c in got:
        expect_eq(c["metadata"].get("org_id"), ws["org_id"], "metadata[org_id] of a charge")
    return got


# --- processes -----------------------------------------------------------------------------------

def script_env(**extra):
    env = dict(os.environ, ORGD_VAR=VAR,
               ORGD_HTTP_PORT=str(urllib.parse.urlsplit(URL).port or 80))
    for k in ("ORGD_URL", "ORGD_CRON_SECRET"):
        env.pop(k, None)
    env.update(extra)
    return env


def script(name, *args, env=None, timeout=120):
    p = subprocess.run([os.path.join(REPO, "scripts", name), *args],
                       env=env or script_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def restart_orgd(offset):
    """Stops orgd (SIGTERM to the master) and starts it again with scripts/stack up, with
    ORGD_CLOCK_OFFSET=offset, or without it when offset is None."""
    master = orgd_master_pid()
    if master:
        os.kill(master, signal.SIGTERM)
        expect(wait_gone(master, 30), f"orgd master {master} still runs 30 s after SIGTERM")
    env = dict(os.environ, ORGD_VAR=VAR)
    env.pop("ORGD_CLOCK_OFFSET", None)
    if offset is not None:
        env["ORGD_CLOCK_OFFSET"] = str(offset)
    p = subprocess.run([os.path.join(REPO, "scripts", "stack"), "up"], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    expect(p.returncode == 0, f"scripts/stack up exited {p.returncode}: {p.stdout[-800:]}")
    expect("orgd: started" in p.stdout, f"scripts/stack up did not start orgd: {p.stdout[-800:]}")
    expect(wait_health(200, 15), "no 200 from /v1/health after restarting orgd")


def parse_time(s):
    expect(isinstance(s, str) and RFC3339.match(s) is not None, f"not an RFC 3339 time: {s!r}")
    return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))


def add_month(t):
    """t one calendar month on (the day clamped to the month's last), as RFC 3339."""
    g = time.gmtime(t)
    year, month = (g.tm_year + 1, 1) if g.tm_mon == 12 else (g.tm_year, g.tm_mon + 1)
    day = min(g.tm_mday, calendar.monthrange(year, month)[1])
    return time.strftime("%Y-%m-%dT%H:%M:%SZ",
                         (year, month, day, g.tm_hour, g.tm_min, g.tm_sec, 0, 0, 0))


def drain_auto_recharge():
    """One sweep in normal mode, so no organization of earlier cases is left eligible for
    the next (whose provider switch may apply to the next call only)."""
    sweep("auto-recharge")


# --- 1. the settings -------------------------------------------------------------------------------

@test
@sandboxed
def auto_recharge_settings_need_a_card_are_validated_shown_audited_and_end_with_the_card():
    ws = workspace("ar-set")
    good = {"enabled": True, "threshold_credits": 150, "recharge_credits": 700}
    # enabling without a saved payment method: 409
    expect_error(req("PUT", "/v1/org/billing/auto-recharge", body=good, token=ws["token"]), 409,
                 "conflict")
    # invalid values are 400 with their field, before any 409 of the state
    for what, field, body in (
            ("threshold 0", "threshold_credits", dict(good, threshold_credits=0)),
            ("recharge 499", "recharge_credits", dict(good, recharge_credits=499))):
        resp = req("PUT", "/v1/org/billing/auto-recharge", body=body, token=ws["token"])
        expect_error(resp, 400, "invalid_request")
        expect_eq(resp[2]["error"].get("field"), field, f"error field ({what}, no card)")
    ar = auto_recharge_of(ws)
    expect(ar["enabled"] is False, f"auto-recharge after refused changes: {ar}")

    set_pm(ws, "pm_card_visa", "visa", "4242")
    for what, field, body in (
            ("threshold 0", "threshold_credits", dict(good, threshold_credits=0)),
            ("recharge 499", "recharge_credits", dict(good, recharge_credits=499))):
        resp = req("PUT", "/v1/org/billing/auto-recharge", body=body, token=ws["token"])
        expect_error(resp, 400, "invalid_request")
        expect_eq(resp[2]["error"].get("field"), field, f"error field ({what}, with a card)")
    expect(auto_recharge_of(ws)["enabled"] is False, "a refused PUT changed the settings")

    want = dict(good, failures=0)
    body = ok(req("PUT", "/v1/org/billing/auto-recharge", body=good, token=ws["token"]), 200,
              "PUT auto-recharge with a card")
    expect_eq(body, want, "answer to PUT auto-recharge")
    b = billing(ws)
    expect_eq(b["auto_recharge"], want, "auto_recharge in GET /v1/org/billing")
    expect_eq(b["payment_method"], {"brand": "visa", "last4": "4242"}, "payment_method")
    d = ok(req("GET", "/v1/org/dashboard", token=ws["token"]), 200, "dashboard")
    expect(isinstance(d.get("billing"), dict), f"dashboard billing for the owner: {d.get('billing')!r}")
    expect_eq(d["billing"]["auto_recharge"], want, "auto_recharge in the dashboard")
    expect_eq(d["billing"]["payment_method"], {"brand": "visa", "last4": "4242"},
              "payment_method in the dashboard")
    rows = [a for a in audit(ws) if a["action"].startswith("auto_recharge")]
    expect(len(rows) == 1, f"audit rows of auto-recharge changes: {rows}")
    expect_eq(rows[0]["actor_user_id"], ws["user_id"], "actor of the auto-recharge audit row")

    # removing the card turns auto-recharge off
    st, _, _, raw = req("DELETE", "/v1/org/billing/payment-method", token=ws["token"])
    expect(st == 204 and raw == b"", f"DELETE payment-method: {st} {raw[:200]!r}")
    b = billing(ws)
    expect_eq(b["payment_method"], None, "payment_method after DELETE")
    expect(b["auto_recharge"]["enabled"] is False,
           f"auto_recharge after DELETE payment-method: {b['auto_recharge']}")
    d = ok(req("GET", "/v1/org/dashboard", token=ws["token"]), 200, "dashboard")
    expect(d["billing"]["auto_recharge"]["enabled"] is False,
           f"dashboard auto_recharge after DELETE payment-method: {d['billing']['auto_recharge']}")
    # and it cannot be switched on again without a card
    expect_error(req("PUT", "/v1/org/billing/auto-recharge", body=good, token=ws["token"]), 409,
                 "conflict")
    # switching it off needs no card
    off = ok(req("PUT", "/v1/org/billing/auto-recharge", body=dict(good, enabled=False),
                 token=ws["token"]), 200, "PUT auto-recharge off without a card")
    expect(off["enabled"] is False, f"answer to switching off: {off}")
    expect_eq(org_charges(ws), [], "charges of an organization that never bought")


# --- 2. concurrent sweeps against a slow provider ----------------------------------------------------

@test
@sandboxed
def six_concurrent_sweeps_against_a_slow_provider_charge_one_dip_once():
    ws = eligible_workspace("ar-conc", threshold=100, recharge=500)
    expect_eq(balance(ws), 0, "balance before the sweeps")
    before = charge_ids()
    set_mode("slow", delay_ms=1500)
    t0 = time.monotonic()
    results = concurrently(6, lambda _i: sweep_raw("auto-recharge"))
    secs = time.monotonic() - t0
    errors = [r for r in results if isinstance(r, Exception)]
    expect(not errors, f"sweeps raised: {errors[:2]}")
    answers = [ok(r, 200, "a concurrent sweep") for r in results]
    sandbox_reset()
    mine = org_charges(ws)
    expect(len(mine) == 1, f"{len(mine)} charges of the organization after 6 concurrent sweeps "
           f"({secs:.1f} s): {mine}")
    c = mine[0]
    expect_eq((c["amount"], c["currency"], c["status"]), (500, "usd", "succeeded"),
              "the recharge charge")
    # the answers add up to what the provider saw during the sweeps
    fresh = new_charges(before)
    won = [x for x in fresh if x["status"] == "succeeded"]
    lost = [x for x in fresh if x["status"] == "requires_payment_method"]
    expect_eq(sum(a["charged"] for a in answers), len(won),
              f"sum of charged of the 6 answers {answers} vs succeeded charges at the provider")
    expect_eq(sum(a["failed"] for a in answers), len(lost),
              f"sum of failed of the 6 answers {answers} vs declined charges at the provider")
    expect_eq(len(won), 1, f"succeeded charges during the sweeps (others: {won})")
    # one purchase, one ledger row, balance 500
    ps = [p for p in purchases(ws) if p["kind"] == "auto_recharge"]
    expect(len(ps) == 1, f"auto_recharge purchases: {ps}")
    p = ps[0]
    expect_eq((p["status"], p["credits"], p["amount_cents"], p["failure_code"]),
              ("succeeded", 500, 500, None), "the auto_recharge purchase")
    expect_eq(c["metadata"].get("purchase_id"), p["id"], "metadata[purchase_id] of the charge")
    rows = ledger(ws)
    expect_eq([(r["reason"], r["delta"], r["balance_after"], r["ref"]) for r in rows],
              [("auto_recharge", 500, 500, p["id"])], "the ledger")
    b = billing(ws)
    expect_eq(b["credit_balance"], 500, "balance after the sweeps")
    expect_eq(b["auto_recharge"], {"enabled": True, "threshold_credits": 100,
                                   "recharge_credits": 500, "failures": 0},
              "auto_recharge after the recharge")
    # the balance is above the threshold now: the next sweep leaves it alone
    sweep("auto-recharge")
    expect_eq(len(org_charges(ws)), 1, "charges after one more sweep")
    expect_eq(balance(ws), 500, "balance after one more sweep")


# --- 3. above the threshold ---------------------------------------------------------------------------

@test
@sandboxed
def a_balance_at_or_above_the_threshold_is_not_recharged():
    ws = eligible_workspace("ar-above", enable=False)
    body = ok(buy(ws, 1000, "above-" + rnd(12)), 201, "buy 1000 credits")
    expect_eq((body["purchase"]["status"], body["credit_balance"]), ("succeeded", 1000),
              "the purchase")
    expect_eq(len(org_charges(ws)), 1, "charges after buying")
    for threshold in (600, 1000):  # above, then exactly at the threshold
        set_auto_recharge(ws, True, threshold, 500)
        sweep("auto-recharge")
        expect_eq(len(org_charges(ws)), 1, f"charges after a sweep (balance 1000, threshold "
                  f"{threshold})")
        expect_eq(balance(ws), 1000, f"balance after a sweep (threshold {threshold})")
    expect_eq([p["kind"] for p in purchases(ws)], ["credits"], "purchases of the organization")
    # one credit below: now it is recharged (the settings were live all along)
    expect_eq(ledger_adjust(ws["org_id"], -1), 999, "balance after taking one credit")
    sweep("auto-recharge")
    mine = org_charges(ws)
    expect_eq([(c["amount"], c["status"]) for c in mine], [(1000, "succeeded"), (500, "succeeded")],
              "charges once below the threshold")
    expect_eq(balance(ws), 1499, "balance after the recharge")


# --- 4. three declines ----------------------------------------------------------------------------------

@test
@sandboxed
def three_declined_recharges_turn_auto_recharge_off_audited_and_stop_the_attempts():
    ws = eligible_workspace("ar-decl", enable=False, pm="pm_card_chargeDeclined",
                            brand="visa", last4="0002")
    set_auto_recharge(ws, True, 100, 500)
    for n in (1, 2, 3):
        got = sweep("auto-recharge")
        expect(got["failed"] >= 1, f"sweep {n} answered {got}: no failure counted")
        mine = org_charges(ws)
        expect_eq(len(mine), n, f"attempts at the provider after sweep {n}")
        expect(all(c["status"] == "requires_payment_method" and c["amount"] == 500 for c in mine),
               f"attempts after sweep {n}: {[(c['status'], c['amount']) for c in mine]}")
        ar = auto_recharge_of(ws)
        expect_eq(ar["failures"], n, f"auto_recharge.failures after sweep {n}")
        expect_eq(ar["enabled"], n < 3, f"auto_recharge.enabled after sweep {n}")
    keys = [c["idempotency_key"] for c in mine]
    expect(all(isinstance(k, str) and k for k in keys), f"attempts without a key: {keys}")
    expect_eq(len(set(keys)), 3, f"distinct Idempotency-Keys of the three attempts {keys}")
    b = billing(ws)
    expect_eq(b["auto_recharge"], {"enabled": False, "threshold_credits": 100,
                                   "recharge_credits": 500, "failures": 3},
              "auto_recharge after three declines")
    expect_eq(b["credit_balance"], 0, "balance after three declines")
    expect_eq(ledger(ws), [], "ledger after three declines")
    ps = purchases(ws)
    expect_eq([(p["kind"], p["status"], p["failure_code"]) for p in ps],
              [("auto_recharge", "failed", "card_declined")] * 3, "purchases after three declines")
    rows = [a for a in audit(ws) if a["action"] == "auto_recharge.disabled"]
    expect(len(rows) == 1, f"auto_recharge.disabled audit rows: {rows}")
    # a fourth sweep makes no fourth attempt
    sweep("auto-recharge")
    expect_eq(len(org_charges(ws)), 3, "attempts after a fourth sweep")
    expect_eq(auto_recharge_of(ws)["failures"], 3, "failures after a fourth sweep")


@test
@sandboxed
def an_attempt_whose_key_was_used_is_not_charged_again_and_the_rest_of_its_batch_is():
    """A claim writes its batch's purchases in one statement; an attempt whose provider key
    names a purchase already (here: a declined one, its failures then reset by SQL, so that
    the next attempt has the same key) makes that statement fail, and the batch is written
    one purchase at a time without it: the old purchase stands, the rest are charged."""
    drain_auto_recharge()
    used = eligible_workspace("ar-used", enable=False, pm="pm_card_chargeDeclined",
                              brand="visa", last4="0002")
    set_auto_recharge(used, True, 100, 500)
    got = sweep("auto-recharge")
    expect(got["failed"] >= 1, f"the first sweep answered {got}: no failure counted")
    expect_eq(len(org_charges(used)), 1, "attempts after the first sweep")
    db_query("UPDATE org_billing SET ar_failures = 0, ar_last_at = NULL"
             f" WHERE org_id = '{used['org_id']}'")
    fresh = [eligible_workspace("ar-fresh") for _ in range(3)]
    got = sweep("auto-recharge")
    expect(got["charged"] >= 3, f"the second sweep answered {got}: want 3 charged")
    expect_eq(len(org_charges(used)), 1, "attempts of the used key after the second sweep")
    expect_eq([(p["kind"], p["status"]) for p in purchases(used)],
              [("auto_recharge", "failed")], "purchases of the used key's organization")
    for ws in fresh:
        expect_eq([(c["amount"], c["status"]) for c in org_charges(ws)], [(500, "succeeded")],
                  "charges of an organization in the same batch")
        expect_eq(balance(ws), 500, "balance of an organization in the same batch")
    set_auto_recharge(used, False, 100, 500)


# --- 5. the cron secret -----------------------------------------------------------------------------------

@test
@sandboxed
def sweeps_refuse_anything_but_the_cron_secret_with_401():
    ws = eligible_workspace("ar-auth")
    secret = cfg()["cron"]
    before = charge_ids()
    bad = {
        "a wrong secret": "Bearer wrong-" + rnd(24),
        "no Authorization": None,
        "an admin's session token": "Bearer " + ws["token"],
        "the secret and one more character": "Bearer " + secret + "x",
        "the secret without its last character": "Bearer " + secret[:-1],
        "the secret without the Bearer scheme": secret,
        "an empty bearer": "Bearer ",
    }
    for name in SWEEPS:
        for what, auth in bad.items():
            resp = sweep_raw(name, auth=auth)
            expect_error(resp, 401, "unauthenticated")
            www = resp[1].get("WWW-Authenticate", "")
            expect(www.startswith("Bearer"), f"{name} with {what}: WWW-Authenticate {www!r}")
            expect(secret.encode() not in resp[3], f"{name} with {what}: the answer names the secret")
    expect_eq(new_charges(before), [], "charges made by refused sweeps")
    expect_eq(balance(ws), 0, "balance after refused sweeps")
    expect_eq(purchases(ws), [], "purchases after refused sweeps")
    # the organization was eligible all along: the secret charges it
    sweep("auto-recharge")
    expect_eq([c["amount"] for c in org_charges(ws)], [500], "charges after a sweep with the secret")
    expect_eq(balance(ws), 500, "balance after a sweep with the secret")


# --- 6. scripts/auto-recharge ------------------------------------------------------------------------------

@test
@sandboxed
def scripts_auto_recharge_charges_once_prints_one_line_and_fails_on_a_wrong_secret():
    ws = eligible_workspace("ar-script")
    rc, out, err = script("auto-recharge", env=script_env(ORGD_CRON_SECRET="wrong-" + rnd(20)))
    expect(rc != 0, f"scripts/auto-recharge with a wrong secret exited 0: {out!r} {err!r}")
    lines = err.strip().splitlines()
    expect(len(lines) == 1 and "401" in lines[0] and out == "",
           f"scripts/auto-recharge with a wrong secret: stdout {out!r}, stderr {err!r}")
    expect_eq(org_charges(ws), [], "charges after the refused script")

    rc, out, err = script("auto-recharge")
    expect(rc == 0, f"scripts/auto-recharge exited {rc}: {out!r} {err!r}")
    lines = out.strip().splitlines()
    expect(len(lines) == 1, f"scripts/auto-recharge printed {len(lines)} lines: {out!r}")
    m = SUMMARY.match(lines[0])
    expect(m is not None and m.group(1) == "auto-recharge" and m.group(5) == "charged",
           f"scripts/auto-recharge summary {lines[0]!r}")
    expect(int(m.group(4)) >= 1, f"the summary counts no charge: {lines[0]!r}")
    expect_eq(m.group(7), "0", f"remaining in the summary {lines[0]!r}")
    expect_eq(err.strip(), "", "stderr of scripts/auto-recharge")
    mine = org_charges(ws)
    expect_eq([(c["amount"], c["status"]) for c in mine], [(500, "succeeded")],
              "charges of the organization after scripts/auto-recharge")
    expect_eq(balance(ws), 500, "balance after scripts/auto-recharge")
    rows = ledger(ws)
    expect_eq([(r["reason"], r["delta"]) for r in rows], [("auto_recharge", 500)], "the ledger")
    # run again: the organization is above its threshold, nothing more
    rc, out, err = script("auto-recharge")
    expect(rc == 0, f"scripts/auto-recharge (again) exited {rc}: {out!r} {err!r}")
    expect_eq(len(org_charges(ws)), 1, "charges after a second run")
    expect_eq(balance(ws), 500, "balance after a second run")


# --- 7. a timeout during a recharge ------------------------------------------------------------------------

@test
@sandboxed
def a_recharge_whose_provider_call_times_out_stays_pending_is_not_repeated_nor_a_failure():
    ws = eligible_workspace("ar-timeout", enable=False)
    drain_auto_recharge()  # the timeout below is for this organization's call only
    set_auto_recharge(ws, True, 100, 500)
    webhooks(False)
    set_mode("timeout", delay_ms=TIMEOUT_DELAY_MS, calls=1)
    t0 = time.monotonic()
    got = sweep("auto-recharge")
    secs = time.monotonic() - t0
    expect(secs >= PAY_TIMEOUT_MS / 1000 - 0.5,
           f"the sweep answered in {secs:.1f} s: the provider's timeout did not hit it ({got})")
    mine = org_charges(ws)
    expect_eq(len(mine), 1, "charges at the provider (the call ran, its answer was withheld)")
    ps = purchases(ws)
    expect_eq([(p["kind"], p["status"], p["credits"]) for p in ps],
              [("auto_recharge", "pending", 500)], "purchases after the timeout")
    expect_eq(mine[0]["metadata"].get("purchase_id"), ps[0]["id"], "purchase_id of the charge")
    b = billing(ws)
    expect_eq(b["credit_balance"], 0, "balance after the timeout")
    expect_eq(b["auto_recharge"], {"enabled": True, "threshold_credits": 100,
                                   "recharge_credits": 500, "failures": 0},
              "auto_recharge after the timeout (not a failure)")
    expect_eq(ledger(ws), [], "ledger after the timeout")
    # the next sweeps: a recharge is in flight, the organization is not charged again
    for n in (1, 2):
        sweep("auto-recharge")
        expect_eq(len(org_charges(ws)), 1, f"charges after sweep {n} behind the timeout")
        expect_eq([p["status"] for p in purchases(ws)], ["pending"],
                  f"purchases after sweep {n} behind the timeout")
        b = billing(ws)
        expect_eq((b["credit_balance"], b["auto_recharge"]["failures"],
                   b["auto_recharge"]["enabled"]), (0, 0, True),
                  f"balance, failures, enabled after sweep {n} behind the timeout")


# --- 8. renewals ----------------------------------------------------------------------------------------------

def upgrade_to_pro(ws):
    before = len(org_charges(ws))
    body = ok(req("PUT", "/v1/org/plan", body={"plan": "pro"}, token=ws["token"], timeout=60),
              200, "PUT /v1/org/plan pro")
    expect_eq(body["plan"]["id"], "pro", "plan in the answer")
    mine = org_charges(ws)
    expect_eq([(c["amount"], c["status"]) for c in mine[before:]], [(4900, "succeeded")],
              "the upgrade's charge")
    sub = billing(ws)["subscription"]
    expect_eq(sub["plan"], "pro", "subscription.plan after the upgrade")
    expect_eq(sub["current_period_end"], body["current_period_end"],
              "current_period_end: answer vs GET /v1/org/billing")
    return parse_time(sub["current_period_end"])


@test
@sandboxed
def renewals_charge_each_due_period_once_and_three_declines_move_to_free():
    good = workspace("renew-ok")
    set_pm(good, "pm_card_visa", "visa", "4242")
    good_end = upgrade_to_pro(good)
    expect(good_end - time.time() < 32 * DAY, "the period of the upgrade is over 32 days")
    bad = workspace("renew-decl")
    set_pm(bad, "pm_card_visa", "visa", "4242")
    bad_end = upgrade_to_pro(bad)
    set_pm(bad, "pm_card_chargeDeclined", "visa", "0002")
    bad_end_s = billing(bad)["subscription"]["current_period_end"]
    expect_eq(parse_time(bad_end_s), bad_end, "current_period_end after changing the card")
    webhooks(False)  # orgd's clock is moved: the answers settle every charge here
    try:
        # 32 days on: both periods have ended
        restart_orgd(32 * DAY)
        relogin(good), relogin(bad)
        before = charge_ids()
        results = concurrently(2, lambda _i: sweep_raw("renewals"))
        errors = [r for r in results if isinstance(r, Exception)]
        expect(not errors, f"renewal sweeps raised: {errors[:2]}")
        answers = [ok(r, 200, "a concurrent renewals sweep") for r in results]
        for a in answers:
            expect_eq(sorted(a), ["failed", "remaining", "renewed", "scanned"], "renewals keys")
        fresh = new_charges(before)
        won = [c for c in fresh if c["status"] == "succeeded"]
        lost = [c for c in fresh if c["status"] == "requires_payment_method"]
        expect_eq(sum(a["renewed"] for a in answers), len(won),
                  f"sum of renewed of {answers} vs succeeded charges at the provider")
        expect_eq(sum(a["failed"] for a in answers), len(lost),
                  f"sum of failed of {answers} vs declined charges at the provider")
        expect_eq(sum(a["renewed"] for a in answers), 1, f"sum of renewed of {answers}")
        mine = org_charges(good)
        expect_eq([(c["amount"], c["status"]) for c in mine],
                  [(4900, "succeeded"), (4900, "succeeded")],
                  "charges of the renewed organization (upgrade, renewal)")
        sub = billing(good)["subscription"]
        expect_eq(sub["plan"], "pro", "plan after the renewal")
        expect_eq(sub["current_period_end"], add_month(good_end),
                  "current_period_end after the renewal (one month on from the old end)")
        expect_eq(sub["renewal_failures"], 0, "renewal_failures after the renewal")
        expect_eq(ok(req("GET", "/v1/org", token=good["token"]), 200, "GET /v1/org")["plan"]["id"],
                  "pro", "plan of the renewed organization")
        # the declining card: one declined attempt, the plan stays for now
        theirs = org_charges(bad)
        expect_eq([(c["amount"], c["status"]) for c in theirs],
                  [(4900, "succeeded"), (4900, "requires_payment_method")],
                  "charges of the declining organization after day 32")
        sub = billing(bad)["subscription"]
        expect_eq((sub["plan"], sub["current_period_end"], sub["renewal_failures"]),
                  ("pro", bad_end_s, 1), "subscription after the first declined renewal")
        # the same day again: nothing for either
        for n in (1, 2):
            sweep("renewals")
            expect_eq(len(org_charges(good)), 2, f"charges of the renewed org after re-sweep {n}")
            expect_eq(len(org_charges(bad)), 2, f"charges of the declining org after re-sweep {n}")
        expect_eq(billing(bad)["subscription"]["renewal_failures"], 1,
                  "renewal_failures after re-sweeps the same day")

        # 33 days on: tried again, declined again
        restart_orgd(33 * DAY)
        relogin(good), relogin(bad)
        sweep("renewals")
        theirs = org_charges(bad)
        expect_eq([c["status"] for c in theirs],
                  ["succeeded", "requires_payment_method", "requires_payment_method"],
                  "charges of the declining organization after day 33")
        sub = billing(bad)["subscription"]
        expect_eq((sub["plan"], sub["current_period_end"], sub["renewal_failures"]),
                  ("pro", bad_end_s, 2), "subscription after the second declined renewal")
        sweep("renewals")
        expect_eq(len(org_charges(bad)), 3, "charges after a re-sweep on day 33")
        expect_eq(len(org_charges(good)), 2, "charges of the renewed org on day 33")

        # 34 days on: the third decline moves the organization to free
        restart_orgd(34 * DAY)
        relogin(good), relogin(bad)
        sweep("renewals")
        theirs = org_charges(bad)
        expect_eq([(c["amount"], c["status"]) for c in theirs],
                  [(4900, "succeeded")] + [(4900, "requires_payment_method")] * 3,
                  "charges of the declining organization after day 34")
        keys = [c["idempotency_key"] for c in theirs]
        expect_eq(len(set(keys)), 4, f"distinct Idempotency-Keys of the declining org {keys}")
        org = ok(req("GET", "/v1/org", token=bad["token"]), 200, "GET /v1/org")
        expect_eq(org["plan"], FREE, "plan after three declined renewals")
        sub = billing(bad)["subscription"]
        expect_eq((sub["plan"], sub["current_period_end"]), ("free", None),
                  "subscription after three declined renewals")
        rows = [a for a in audit(bad) if a["action"] == "plan.downgraded"]
        expect(len(rows) == 1, f"plan.downgraded audit rows: {rows}")
        expect_eq([p["status"] for p in purchases(bad) if p["kind"] == "plan"],
                  ["failed", "failed", "failed", "succeeded"], "plan purchases, newest first")
        sweep("renewals")
        expect_eq(len(org_charges(bad)), 4, "charges after a sweep on free")
        expect_eq(len(org_charges(good)), 2, "charges of the renewed org on day 34")
        expect_eq(billing(good)["subscription"]["current_period_end"], add_month(good_end),
                  "the renewed organization's period on day 34")
    finally:
        restart_orgd(None)
    relogin(bad)
    expect_eq(ok(req("GET", "/v1/org", token=bad["token"]), 200, "GET /v1/org")["plan"]["id"],
              "free", "plan with the clock restored")


# --- 9. reconciliation ----------------------------------------------------------------------------------------

def reconcile_script():
    rc, out, err = script("reconcile")
    expect(rc == 0, f"scripts/reconcile exited {rc}: {out!r} {err!r}")
    lines = out.strip().splitlines()
    expect(len(lines) == 1, f"scripts/reconcile printed {len(lines)} lines: {out!r}")
    m = SUMMARY.match(lines[0])
    expect(m is not None and m.group(1) == "reconcile" and m.group(5) == "settled",
           f"scripts/reconcile summary {lines[0]!r}")
    return int(m.group(4)), m.group(7), lines[0]


@test
@sandboxed
def reconcile_settles_a_pending_purchase_once_and_the_late_webhook_changes_nothing():
    ws = workspace("reconcile")
    set_pm(ws, "pm_card_visa", "visa", "4242")
    webhooks(False)
    set_mode("timeout", delay_ms=TIMEOUT_DELAY_MS, calls=1)
    key = "recon-" + rnd(16)
    body = ok(buy(ws, 1000, key), 201, "a purchase whose provider call times out")
    pid = body["purchase"]["id"]
    expect_eq((body["purchase"]["status"], body["credit_balance"]), ("pending", 0),
              "the timed-out purchase")
    mine = org_charges(ws)
    expect_eq([(c["amount"], c["status"], c["metadata"].get("purchase_id")) for c in mine],
              [(1000, "succeeded", pid)], "the provider's charge")
    evs = wait_until(lambda: sb_ok("GET", f"/_sandbox/events?purchase_id={pid}")["data"], 10)
    expect(evs and len(evs) == 1 and evs[0]["held"] and not evs[0]["delivered"],
           f"the held event of {pid}: {evs}")
    evt = evs[0]["id"]
    expect_eq(balance(ws), 0, "balance while pending")
    try:
        restart_orgd(6 * 60)  # the purchase has been pending for over 5 minutes
        relogin(ws)
        settled, remaining, line = reconcile_script()
        expect(settled >= 1, f"scripts/reconcile settled nothing: {line!r}")
        expect_eq(remaining, "0", f"remaining after scripts/reconcile: {line!r}")
        p = [x for x in purchases(ws) if x["id"] == pid]
        expect(len(p) == 1 and p[0]["status"] == "succeeded" and RFC3339.match(p[0]["settled_at"] or ""),
               f"the purchase after scripts/reconcile: {p}")
        rows = ledger(ws)
        expect_eq([(r["reason"], r["delta"], r["balance_after"], r["ref"]) for r in rows],
                  [("purchase", 1000, 1000, pid)], "the ledger after scripts/reconcile")
        expect_eq(balance(ws), 1000, "balance after scripts/reconcile")
        again = org_charges(ws)
        expect_eq(len(again), 1, "charges at the provider after reconciliation (the same key)")
        # again: nothing changes
        settled, remaining, line = reconcile_script()
        expect(settled == 0, f"a second scripts/reconcile settled something: {line!r}")
        expect_eq(remaining, "0", f"remaining after a second scripts/reconcile: {line!r}")
        expect_eq(ledger(ws), rows, "the ledger after a second scripts/reconcile")
        expect_eq(balance(ws), 1000, "balance after a second scripts/reconcile")
        expect_eq(len(org_charges(ws)), 1, "charges after a second scripts/reconcile")
    finally:
        restart_orgd(None)
    relogin(ws)
    # the held webhook, delivered now, changes nothing
    sandbox_reset()
    b = sb_ok("POST", "/_sandbox/events/deliver-pending", {"wait": True, "timeout_ms": 60000})
    expect(b["pending"] == 0, f"deliver-pending left events undelivered: {b}")
    ev = sb_ok("GET", f"/_sandbox/events?purchase_id={pid}")["data"]
    expect(len(ev) == 1 and ev[0]["id"] == evt and ev[0]["delivered"]
           and ev[0]["last_status"] == 200, f"the event after deliver-pending: {ev}")
    expect_eq(db_query(f"SELECT outcome FROM webhook_events WHERE id = '{evt}'"), [["settled"]],
              "orgd's record of the late event")
    expect_eq(ledger(ws), rows, "the ledger after the late webhook")
    expect_eq(balance(ws), 1000, "balance after the late webhook")
    expect_eq([x["status"] for x in purchases(ws)], ["succeeded"], "purchases after the webhook")
    expect_eq(len(org_charges(ws)), 1, "charges after the late webhook")


@test
@sandboxed
def reconcile_settles_two_pending_purchases_of_one_organization_in_one_chunk():
    """A chunk settles most of its successes together (one statement per table), but only
    one purchase per organization that way: a second one of the same organization goes
    through the single-purchase path, and both are credited, the ledger a running sum."""
    ws = workspace("recon2")
    set_pm(ws, "pm_card_visa", "visa", "4242")
    webhooks(False)
    set_mode("timeout", delay_ms=TIMEOUT_DELAY_MS, calls=2)
    pids = []
    for credits in (1000, 700):
        body = ok(buy(ws, credits, "recon2-" + rnd(16)), 201, "a purchase that times out")
        expect_eq(body["purchase"]["status"], "pending", "the timed-out purchase")
        pids.append(body["purchase"]["id"])
    expect_eq(balance(ws), 0, "balance while both are pending")
    try:
        restart_orgd(6 * 60)
        relogin(ws)
        settled, remaining, line = reconcile_script()
        expect(settled >= 2, f"scripts/reconcile settled fewer than two: {line!r}")
        expect_eq(remaining, "0", f"remaining after scripts/reconcile: {line!r}")
        expect_eq(sorted(x["status"] for x in purchases(ws) if x["id"] in pids),
                  ["succeeded", "succeeded"], "the two purchases after scripts/reconcile")
        rows = ledger(ws)
        expect_eq(sorted(r["ref"] for r in rows), sorted(pids), "the ledger's references")
        expect_eq(sorted(r["delta"] for r in rows), [700, 1000], "the ledger's credits")
        expect_eq(sorted(r["balance_after"] for r in rows), sorted([rows[-1]["delta"], 1700]),
                  "the ledger's running balance")
        expect_eq(balance(ws), 1700, "balance after scripts/reconcile")
        rc, out, err = script("ledger-check")
        expect(rc == 0, f"ledger-check exited {rc}: {out.strip()} {err.strip()}")
    finally:
        restart_orgd(None)
    relogin(ws)


# --- 10. the ledger ----------------------------------------------------------------------------------------------

@test
def ledger_check_passes_after_every_sweep():
    rc, out, err = script("ledger-check")
    expect(rc == 0, f"scripts/ledger-check exited {rc}: {out.strip()} {err.strip()}")
    expect(out.startswith("ledger ok:"), f"scripts/ledger-check printed {out!r}")


if __name__ == "__main__":
    main()
