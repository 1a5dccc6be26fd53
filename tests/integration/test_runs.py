"""test_runs: plans, rule-run metering, the credit ledger, Idempotency-Key and the
dashboard (issue 5; API.md "Plans, usage and runs", the ledger of "Credits and
billing", and the Idempotency-Key convention). Every case builds its own users and
organizations; the month-rollover case restarts orgd with ORGD_CLOCK_OFFSET and
restores it without the offset before it returns."""

import calendar
import os
import random
import re
import signal
import string
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

from orgdtest import (REPO, VAR, accept_invitation, concurrently, db_query, expect, expect_eq,
                      expect_error, main,
                      orgd_master_pid, req, test, wait_gone, wait_health)

PASSWORD = "correct horse battery"
FREE = {"id": "free", "name": "Free", "monthly_run_limit": 1000, "price_cents": 0,
        "overage_credits_per_run": 2}
PRO = {"id": "pro", "name": "Pro", "monthly_run_limit": 50000, "price_cents": 4900,
       "overage_credits_per_run": 1}
ENTERPRISE = {"id": "enterprise", "name": "Enterprise", "monthly_run_limit": 1000000,
              "price_cents": 49900, "overage_credits_per_run": 1}


# --- helpers ---------------------------------------------------------------------------------

def rnd(n=10):
    return "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(n))


def ok(resp, status, what):
    st, _, body, raw = resp
    expect(st == status, f"{what}: status {st}, want {status}: {raw[:300]!r}")
    return body


def signup(prefix="runs"):
    email = f"{prefix}-{rnd()}@example.test"
    body = ok(req("POST", "/v1/auth/signup",
                  body={"email": email, "password": PASSWORD, "name": prefix}), 201, "signup")
    return email, body["user"]["id"]


def login(email):
    return ok(req("POST", "/v1/auth/login", body={"email": email, "password": PASSWORD}), 200,
              "login")["token"]


def workspace(prefix="runs"):
    """A fresh owner with one organization holding one project and one environment."""
    email, user_id = signup(prefix)
    token = login(email)
    created = ok(req("POST", "/v1/orgs", body={"name": f"{prefix} {rnd(6)}"}, token=token), 201,
                 "create org")
    token = created["token"]
    project = ok(req("POST", "/v1/org/projects", body={"name": f"p-{rnd(6)}"}, token=token),
                 201, "create project")
    env = ok(req("POST", "/v1/org/environments",
                 body={"name": f"e-{rnd(6)}", "kind": "production", "region": "eu-west-1"},
                 token=token), 201, "create environment")
    return {"email": email, "user_id": user_id, "token": token, "org_id": created["org"]["id"],
            "org_name": created["org"]["name"], "project_id": project["id"],
            "env_id": env["id"], "env": env,
            "run_body": {"project_id": project["id"], "environment_id": env["id"]}}


def run(ws, body=None, key=None, token=None):
    headers = {"Idempotency-Key": key} if key is not None else None
    return req("POST", "/v1/org/runs", body=ws["run_body"] if body is None else body,
               headers=headers, token=token or ws["token"])


def many_runs(ws, n, workers=32):
    """n runs, `workers` at a time; returns the req() results in order."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda _i: run(ws), range(n)))


def usage(ws, token=None):
    return ok(req("GET", "/v1/org/usage", token=token or ws["token"]), 200, "usage")


def dashboard(token):
    return ok(req("GET", "/v1/org/dashboard", token=token), 200, "dashboard")


def ledger_all(token):
    """Every ledger row, newest first, through ?limit=100&after= pages."""
    rows, after, pages = [], None, 0
    while True:
        path = "/v1/org/billing/ledger?limit=100" + (f"&after={after}" if after else "")
        page = ok(req("GET", path, token=token), 200, f"ledger page {pages}")
        expect(set(page) == {"data", "has_more"}, f"ledger page keys {sorted(page)}")
        expect(len(page["data"]) <= 100, f"a ledger page of {len(page['data'])} rows")
        rows += page["data"]
        pages += 1
        if not page["has_more"]:
            return rows, pages
        expect(page["data"], "has_more with an empty page")
        expect(pages < 50, "ledger pagination does not end")
        after = page["data"][-1]["id"]


def current_period(now=None):
    return time.strftime("%Y-%m", time.gmtime(time.time() if now is None else now))


def script(name, *args):
    p = subprocess.run([os.path.join(REPO, "scripts", name), *args],
                       env=dict(os.environ, ORGD_VAR=VAR), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def ledger_adjust(org_id, delta, ref="test-setup"):
    rc, out, err = script("ledger-adjust", org_id, str(delta), ref)
    expect(rc == 0, f"ledger-adjust {org_id} {delta} exited {rc}: {err.strip()}")
    return int(out.strip())


def fill_to_limit(ws):
    """Brings ws's organization to exactly its free monthly limit (1000 included runs)."""
    results = many_runs(ws, 1000)
    bad = [r for r in results if r[0] != 201]
    expect(not bad, f"{len(bad)} of 1000 included runs failed, e.g. {bad[:1]}")
    expect_eq(usage(ws)["runs"], 1000, "runs after 1000 included runs")


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


# --- plans -----------------------------------------------------------------------------------

@test
def plans_catalog_lists_the_three_seeded_plans_exactly():
    st, headers, body, raw = req("GET", "/v1/plans")
    expect_eq(st, 200, "status")
    expect(headers.get("Content-Type", "").startswith("application/json"),
           f"Content-Type {headers.get('Content-Type')!r}")
    expect_eq(body, {"data": [FREE, PRO, ENTERPRISE], "has_more": False}, "GET /v1/plans")
    # the list takes ?limit= and ?after= like every list
    expect_eq(ok(req("GET", "/v1/plans?limit=2"), 200, "limit=2"),
              {"data": [FREE, PRO], "has_more": True}, "GET /v1/plans?limit=2")
    expect_eq(ok(req("GET", "/v1/plans?limit=2&after=pro"), 200, "after=pro"),
              {"data": [ENTERPRISE], "has_more": False}, "GET /v1/plans?limit=2&after=pro")
    expect_error(req("GET", "/v1/plans?limit=0"), 400, "invalid_request")


@test
def paid_plan_needs_a_payment_method_unknown_plan_is_400_free_is_200():
    ws = workspace("plan")
    expect_error(req("PUT", "/v1/org/plan", body={"plan": "pro"}, token=ws["token"]), 409,
                 "conflict")
    expect_error(req("PUT", "/v1/org/plan", body={"plan": "enterprise"}, token=ws["token"]), 409,
                 "conflict")
    resp = req("PUT", "/v1/org/plan", body={"plan": "nope"}, token=ws["token"])
    expect_error(resp, 400, "invalid_request")
    expect_eq(resp[2]["error"].get("field"), "plan", "error field")
    org = ok(req("GET", "/v1/org", token=ws["token"]), 200, "GET /v1/org")
    expect_eq(org["plan"], FREE, "plan after the refused changes")
    body = ok(req("PUT", "/v1/org/plan", body={"plan": "free"}, token=ws["token"]), 200,
              "PUT plan free")
    expect_eq(body.get("plan"), FREE, "plan in the answer to PUT free")
    expect_eq(body.get("id"), ws["org_id"], "org id in the answer to PUT free")


# --- acceptance 1: metering and the ledger under concurrency ----------------------------------

@test
def thousand_included_runs_then_overage_takes_exactly_the_balance():
    ws = workspace("accept1")
    period = current_period()
    token, org_id = ws["token"], ws["org_id"]

    # 1,000 runs, 32 at a time: all included, free, each with its own count
    results = many_runs(ws, 1000)
    bad = [r for r in results if r[0] != 201]
    expect(not bad, f"{len(bad)} of 1000 included runs not 201, e.g. {bad[0][0]} {bad[0][3][:200]!r}"
           if bad else "")
    bodies = [r[2] for r in results]
    for b in bodies:
        expect(set(b) == {"id", "counted_as", "credits_charged", "usage", "credit_balance"},
               f"run answer keys {sorted(b)}")
        expect(b["counted_as"] == "included" and b["credits_charged"] == 0
               and b["credit_balance"] == 0, f"an included run answered {b}")
        expect(b["usage"]["period"] == period and b["usage"]["limit"] == 1000,
               f"usage in a run answer {b['usage']}")
    expect_eq(len({b["id"] for b in bodies}), 1000, "distinct run ids")
    expect_eq(sorted(b["usage"]["runs"] for b in bodies), list(range(1, 1001)),
              "the usage counts the 1000 answers report (each count once)")
    u = usage(ws)
    expect_eq((u["period"], u["runs"], u["limit"], u["overage_runs"]), (period, 1000, 1000, 0),
              "usage after 1000 runs")

    # a balance of B credits through an operator adjustment
    b_credits = 301
    expect_eq(ledger_adjust(org_id, b_credits, "test-setup"), b_credits, "ledger-adjust output")
    expect_eq(dashboard(token)["credit_balance"], b_credits, "balance after the adjustment")

    # 1,000 overage runs at once (32 in flight): floor(B/2) succeed, the rest 402
    results = many_runs(ws, 1000)
    won = [r[2] for r in results if r[0] == 201]
    lost = [r for r in results if r[0] != 201]
    expect_eq(len(won), b_credits // 2, "overage runs that succeeded")
    for r in lost:
        expect_error(r, 402, "insufficient_credits")
    for b in won:
        expect(b["counted_as"] == "overage" and b["credits_charged"] == 2,
               f"an overage run answered {b}")
        expect(b["credit_balance"] >= 0, f"a negative balance in {b}")
    expect_eq(sorted(b["credit_balance"] for b in won),
              list(range(b_credits % 2, b_credits - 1, 2)),
              "the balances the overage answers report (each once)")
    expect_eq(sorted(b["usage"]["runs"] for b in won),
              list(range(1001, 1001 + b_credits // 2)), "the counts the overage answers report")

    # the final state
    d = dashboard(token)
    expect_eq(d["credit_balance"], b_credits % 2, "final credit_balance (dashboard)")
    expect_eq(d["usage"], {"period": period, "runs": 1000 + b_credits // 2, "limit": 1000},
              "dashboard usage")
    u = usage(ws)
    expect_eq((u["period"], u["runs"], u["limit"], u["overage_runs"]),
              (period, 1000 + b_credits // 2, 1000, b_credits // 2), "usage after the overage runs")
    expect_eq(db_query(f"SELECT COUNT(*), COALESCE(SUM(credits_charged), 0) FROM runs "
                       f"WHERE org_id = '{org_id}'"),
              [[str(1000 + b_credits // 2), str(2 * (b_credits // 2))]],
              "rows in runs (a refused run is not recorded)")

    # the ledger: one adjustment, one run_overage row per successful overage run
    rows, pages = ledger_all(token)
    expect_eq(pages, 2, "ledger pages of 100")
    expect_eq(len(rows), 1 + b_credits // 2, "ledger rows")
    expect_eq(len({r["id"] for r in rows}), len(rows), "distinct ledger ids across pages")
    for r in rows:
        expect(set(r) == {"id", "at", "delta", "balance_after", "reason", "ref"},
               f"ledger row keys {sorted(r)}")
        expect(r["balance_after"] >= 0, f"a negative balance_after in {r}")
        expect(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", r["at"]) is not None,
               f"ledger time {r['at']!r} is not RFC 3339 UTC")
    expect_eq(sum(r["delta"] for r in rows), b_credits % 2, "sum of the ledger")
    expect_eq(rows[0]["balance_after"], b_credits % 2, "newest balance_after")
    oldest = rows[-1]
    expect_eq((oldest["reason"], oldest["delta"], oldest["balance_after"], oldest["ref"]),
              ("adjustment", b_credits, b_credits, "test-setup"), "the adjustment row")
    overage_rows = rows[:-1]
    expect(all(r["reason"] == "run_overage" and r["delta"] == -2 for r in overage_rows),
           f"non run_overage rows: {[r for r in overage_rows if r['reason'] != 'run_overage'][:2]}")
    expect_eq(sorted(r["ref"] for r in overage_rows), sorted(b["id"] for b in won),
              "run_overage refs vs the successful overage runs")
    running = 0
    for r in reversed(rows):  # oldest first: each balance_after is the running sum
        running += r["delta"]
        expect_eq(r["balance_after"], running, f"balance_after of {r['id']}")

    rc, out, err = script("ledger-check")
    expect(rc == 0, f"scripts/ledger-check exited {rc}: {out.strip()} {err.strip()}")


# --- project and environment of the organization ---------------------------------------------

@test
def run_with_foreign_or_unknown_project_or_environment_is_404_and_not_counted():
    a, b = workspace("own-a"), workspace("own-b")
    cases = {
        "project of another org": {"project_id": b["project_id"], "environment_id": a["env_id"]},
        "environment of another org": {"project_id": a["project_id"],
                                       "environment_id": b["env_id"]},
        "both of another org": b["run_body"],
        "unknown project": {"project_id": "prj_" + "a" * 20, "environment_id": a["env_id"]},
        "unknown environment": {"project_id": a["project_id"], "environment_id": "env_" + "b" * 20},
    }
    for what, body in cases.items():
        resp = run(a, body=body)
        expect_error(resp, 404, "not_found")
        for secret in (b["org_id"], b["project_id"], b["env_id"]):
            expect(secret.encode() not in resp[3], f"{what}: the 404 names {secret}")
    resp = run(a, body={"project_id": a["project_id"]})
    expect_error(resp, 400, "invalid_request")
    expect_eq(resp[2]["error"].get("field"), "environment_id", "field of a missing environment_id")
    for ws in (a, b):
        u = usage(ws)
        expect_eq((u["runs"], u["overage_runs"]), (0, 0), f"usage of {ws['org_id']}")
    expect_eq(db_query(f"SELECT COUNT(*) FROM runs WHERE org_id IN ('{a['org_id']}', "
                       f"'{b['org_id']}')"), [["0"]], "rows in runs")
    body = ok(run(a), 201, "a valid run")
    expect_eq(body["usage"]["runs"], 1, "count of the first valid run")


# --- acceptance 2: Idempotency-Key -----------------------------------------------------------

@test
def same_idempotency_key_twenty_at_once_counts_one_run_and_replays_one_answer():
    ws = workspace("idem")
    key = "run-" + rnd(20)
    results = concurrently(20, lambda _i: run(ws, key=key))
    errors = [r for r in results if isinstance(r, Exception)]
    expect(not errors, f"requests raised: {errors[:2]}")
    statuses = [r[0] for r in results]
    expect_eq(statuses, [201] * 20, "statuses of the 20 concurrent repeats")
    raws = {r[3] for r in results}
    expect_eq(len(raws), 1, f"distinct bodies among the 20 answers ({sorted(raws)[:2]})")
    first = results[0][2]
    expect_eq((first["counted_as"], first["credits_charged"], first["usage"]["runs"]),
              ("included", 0, 1), "the one answer")
    expect_eq(usage(ws)["runs"], 1, "runs counted after 20 repeats of one key")
    expect_eq(db_query(f"SELECT COUNT(*) FROM runs WHERE org_id = '{ws['org_id']}'"), [["1"]],
              "rows in runs")
    for r in results:
        expect(r[1].get("Content-Type", "").startswith("application/json"),
               f"Content-Type of an answer {r[1].get('Content-Type')!r}")
    # a later repeat replays the same bytes
    again = run(ws, key=key)
    expect_eq((again[0], again[3]), (201, results[0][3]), "a later repeat")
    expect(again[1].get("Content-Type", "").startswith("application/json"),
           f"Content-Type of a replay {again[1].get('Content-Type')!r}")
    # the same key with another body is 409 and counts nothing
    project2 = ok(req("POST", "/v1/org/projects", body={"name": "second " + rnd(6)},
                      token=ws["token"]), 201, "second project")
    other = run(ws, key=key, body={"project_id": project2["id"], "environment_id": ws["env_id"]})
    expect_error(other, 409, "conflict")
    expect_eq(usage(ws)["runs"], 1, "runs after the 409")
    # another key is another run
    fresh = ok(run(ws, key="run-" + rnd(20)), 201, "a new key")
    expect(fresh["id"] != first["id"], "a new key replayed the old run")
    expect_eq(fresh["usage"]["runs"], 2, "count after a new key")


@test
def invalid_idempotency_key_is_400_and_counts_nothing():
    ws = workspace("idemkey")
    for what, key in (("256 characters", "k" * 256), ("a control character", "abc\x01def"),
                      ("a tab", "abc\tdef"), ("DEL", "abc\x7fdef"), ("non-ASCII", "abc\xe9def")):
        resp = run(ws, key=key)
        expect_error(resp, 400, "invalid_request")
        expect_eq(resp[2]["error"].get("field"), "Idempotency-Key", f"error field ({what})")
    expect_eq(usage(ws)["runs"], 0, "runs after invalid keys")
    longest = "k" * 255
    first = run(ws, key=longest)
    body = ok(first, 201, "a 255-character key")
    expect_eq(body["usage"]["runs"], 1, "count after the 255-character key")
    again = run(ws, key=longest)
    expect_eq((again[0], again[3]), (201, first[3]), "replay of the 255-character key")
    expect_eq(usage(ws)["runs"], 1, "runs after replaying the 255-character key")


@test
def same_idempotency_key_in_another_organization_is_independent():
    a, b = workspace("idem-a"), workspace("idem-b")
    key = "shared-" + rnd(16)
    ra = ok(run(a, key=key), 201, "key in org A")
    rb = ok(run(b, key=key), 201, "same key in org B")
    expect(ra["id"] != rb["id"], f"org B got org A's run back: {rb}")
    expect_eq((usage(a)["runs"], usage(b)["runs"]), (1, 1), "runs of A and B")
    # the key's request in A is A's body: B's body under it is another request
    expect_error(run(a, key=key, body=b["run_body"]), 409, "conflict")
    expect_eq(ok(run(b, key=key), 201, "replay in B")["id"], rb["id"], "B's replay")


@test
def replayed_402_stays_402_after_credits_are_added():
    ws = workspace("idem402")
    fill_to_limit(ws)
    key = "over-" + rnd(16)
    first = run(ws, key=key)
    expect_error(first, 402, "insufficient_credits")
    expect_eq(ledger_adjust(ws["org_id"], 10), 10, "balance after the adjustment")
    again = run(ws, key=key)
    expect_eq((again[0], again[3]), (402, first[3]), "the repeat after credits were added")
    expect_eq(dashboard(ws["token"])["credit_balance"], 10, "balance after the replayed 402")
    u = usage(ws)
    expect_eq((u["runs"], u["overage_runs"]), (1000, 0), "usage after the replayed 402")
    # a new key is a new request: it is charged
    body = ok(run(ws, key="over-" + rnd(16)), 201, "a new key with credits")
    expect_eq((body["counted_as"], body["credits_charged"], body["credit_balance"]),
              ("overage", 2, 8), "the new key's run")
    rc, out, err = script("ledger-check")
    expect(rc == 0, f"scripts/ledger-check exited {rc}: {out.strip()} {err.strip()}")


# --- acceptance 3: month rollover --------------------------------------------------------------

def next_month_start(now):
    t = time.gmtime(now)
    year, month = (t.tm_year + 1, 1) if t.tm_mon == 12 else (t.tm_year, t.tm_mon + 1)
    return calendar.timegm((year, month, 1, 0, 0, 0, 0, 0, 0))


@test
def month_rollover_starts_a_new_period_from_the_configured_clock():
    ws = workspace("rollover")
    fill_to_limit(ws)
    expect_error(run(ws), 402, "insufficient_credits")  # over the limit, no credits
    now = time.time()
    prev = current_period(now)
    offset = int(next_month_start(now) - now) + 3600
    nxt = current_period(now + offset)
    expect(nxt != prev, "test arithmetic: the offset does not reach the next month")
    try:
        restart_orgd(offset)
        token = login(ws["email"])  # tokens are issued and checked on the moved clock
        body = ok(run(ws, token=token), 201, "first run of the next month")
        expect_eq((body["counted_as"], body["credits_charged"], body["credit_balance"]),
                  ("included", 0, 0), "first run of the next month")
        expect_eq(body["usage"], {"period": nxt, "runs": 1, "limit": 1000},
                  "usage in the first run of the next month")
        u = usage(ws, token=token)
        expect_eq(u, {"period": nxt, "runs": 1, "limit": 1000, "overage_runs": 0,
                      "history": [{"period": prev, "runs": 1000}]}, "usage in the next month")
        expect_eq(dashboard(token)["usage"], {"period": nxt, "runs": 1, "limit": 1000},
                  "dashboard usage in the next month")
    finally:
        restart_orgd(None)
    token = login(ws["email"])
    u = usage(ws, token=token)
    expect_eq((u["period"], u["runs"], u["overage_runs"]), (prev, 1000, 0),
              "usage with the clock restored")


# --- the dashboard -----------------------------------------------------------------------------

@test
def dashboard_shows_the_home_view_with_billing_only_for_admins():
    ws = workspace("dash")
    env2 = ok(req("POST", "/v1/org/environments",
                  body={"name": "staging-" + rnd(5), "kind": "staging", "region": "us-east-1"},
                  token=ws["token"]), 201, "second environment")
    member_email, _ = signup("dash-member")
    admin_email, _ = signup("dash-admin")
    ok(req("POST", "/v1/org/members", body={"email": member_email, "role": "member"},
           token=ws["token"]), 201, "add member")
    ok(req("POST", "/v1/org/members", body={"email": admin_email, "role": "admin"},
           token=ws["token"]), 201, "add admin")
    for email in (member_email, admin_email):  # members once they accept (API.md)
        accept_invitation(login(email), ws["org_id"], email)
    ok(run(ws), 201, "one run")
    period = current_period()
    envs = [{"id": e["id"], "name": e["name"], "kind": e["kind"], "status": e["status"]}
            for e in (ws["env"], env2)]

    def common(d, role):
        expect_eq(sorted(d), sorted(["org", "role", "members", "plan", "usage", "credit_balance",
                                     "environments", "billing"]), "dashboard keys")
        expect_eq(d["org"], {"id": ws["org_id"], "name": ws["org_name"]}, "org")
        expect_eq(d["role"], role, "role")
        expect_eq(d["members"], {"count": 3, "owners": 1, "admins": 1}, "members")
        expect_eq(d["plan"], FREE, "plan")
        expect_eq(d["usage"], {"period": period, "runs": 1, "limit": 1000}, "usage")
        expect_eq(d["credit_balance"], 0, "credit_balance")
        expect_eq(sorted(d["environments"], key=lambda e: e["id"]),
                  sorted(envs, key=lambda e: e["id"]), "environments")

    for role, token in (("owner", ws["token"]), ("admin", login(admin_email))):
        d = dashboard(token)
        common(d, role)
        billing = d["billing"]
        expect(isinstance(billing, dict), f"billing for an {role}: {billing!r}")
        expect_eq(sorted(billing), ["auto_recharge", "payment_method"], "billing keys")
        expect_eq(billing["payment_method"], None, "payment_method")
        ar = billing["auto_recharge"]
        expect_eq(sorted(ar), ["enabled", "failures", "recharge_credits", "threshold_credits"],
                  "auto_recharge keys")
        expect(ar["enabled"] is False, f"auto_recharge.enabled {ar['enabled']!r}")
        expect(all(isinstance(ar[k], int) and not isinstance(ar[k], bool)
                   for k in ("failures", "recharge_credits", "threshold_credits")),
               f"auto_recharge numbers {ar}")
    member_token = login(member_email)
    d = dashboard(member_token)
    common(d, "member")
    expect(d["billing"] is None, f"billing for a member: {d['billing']!r}")
    # the member may meter runs but not read billing nor change the plan
    expect_error(req("GET", "/v1/org/billing/ledger", token=member_token), 403, "forbidden")
    expect_error(req("PUT", "/v1/org/plan", body={"plan": "free"}, token=member_token), 403,
                 "forbidden")
    expect_eq(ok(run(ws, token=member_token), 201, "a member's run")["usage"]["runs"], 2,
              "count after the member's run")
    # usage of an organization with no earlier month
    u = usage(ws)
    expect_eq(u, {"period": period, "runs": 2, "limit": 1000, "overage_runs": 0, "history": []},
              "usage")


if __name__ == "__main__":
    main()
