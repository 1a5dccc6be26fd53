"""test_chaos: the short version (15 s, CHAOS_TEST_SECONDS) of the chaos run of
tests/chaos/chaos.py (issue 13; `make chaos` runs the long one on a stack of its own).

It runs inside scripts/test's stack, before most other files (it sorts early), so it
leaves that stack as it found it: the database up, orgd's clock without an offset (it
restarts orgd with ORGD_CLOCK_OFFSET=+600 for the final reconciliation, then without),
the sandbox reset, and its own organizations inert (plan free, no payment method, so no
later sweep finds them). Its clients only touch organizations they made; the checks look
at those (scripts/ledger-check looks at every one).

One PASS/FAIL line per check of the run (ledger, charges, idempotency, answers, service),
after the first case, which is the run itself, and before the last, which checks that the
stack was left healthy. The run's summary is printed with "chaos: " in front."""

import os
import sys
import time
import traceback

from orgdtest import REPO, expect, main, orgd_master_pid, stack, test

sys.path.insert(0, os.path.join(REPO, "tests", "chaos"))
import chaos  # noqa: E402

SECONDS = float(os.environ.get("CHAOS_TEST_SECONDS") or 15)
ORGS = int(os.environ.get("CHAOS_TEST_ORGS") or 10)
_run = {}


@test
def chaos_run_of_15_seconds_completes():
    t0 = time.monotonic()
    try:
        c = chaos.run(SECONDS, ORGS, say=chaos.Say())
    except Exception as e:  # noqa: BLE001
        _run["error"] = f"{type(e).__name__}: {e}"
        traceback.print_exc()
        raise
    _run["c"] = c
    for line in c.summary():
        print("chaos: " + line, flush=True)
    print(f"chaos: {time.monotonic() - t0:.0f} s in all", flush=True)


def result(name):
    c = _run.get("c")
    expect(c is not None, f"the chaos run did not complete: {_run.get('error', '?')}")
    got = [(ok, detail) for n, ok, detail in c.checks if n == name]
    expect(got, f"the run made no {name} check")
    ok, detail = got[0]
    expect(ok, detail)


@test
def ledger_checks_and_no_balance_negative():
    result("ledger")


@test
def every_succeeded_charge_credited_once_and_nothing_credited_without_one():
    result("charges")


@test
def every_idempotency_key_has_at_most_one_effect():
    result("idempotency")


@test
def every_2xx_is_in_the_database_and_no_half_written_effect():
    result("answers")


@test
def orgd_served_throughout_with_the_same_master_and_no_crash_but_the_kills():
    result("service")


@test
def the_stack_is_left_healthy_for_the_next_tests():
    expect(chaos.wait_health(200, 30), "no /v1/health 200")
    rc, out = stack("status", check=False)
    expect(rc == 0, f"scripts/stack status: {out!r}")
    master = orgd_master_pid()
    expect(master, "no orgd master")
    with open(f"/proc/{master}/environ", "rb") as f:
        env = f.read().split(b"\0")
    expect(not any(e.startswith(b"ORGD_CLOCK_OFFSET=") and e != b"ORGD_CLOCK_OFFSET=0"
                   for e in env), "orgd still runs with ORGD_CLOCK_OFFSET")
    c = _run.get("c")
    if c is not None:
        st, mode = c.sandbox("GET", "/_sandbox/mode")
        expect(st == 200 and mode["mode"] == "normal", f"sandbox mode {mode}")
        st, hooks = c.sandbox("GET", "/_sandbox/webhooks")
        expect(st == 200 and hooks["enabled"] and not hooks["duplicate"]
               and hooks["delay_ms"] == 0, f"sandbox webhooks {hooks}")
        pending = c.q("SELECT COUNT(*) FROM purchases WHERE status = 'pending' AND org_id IN "
                      + c.in_orgs())[0][0]
        expect(pending == "0", f"{pending} pending purchases left")
        inert = c.q("SELECT COUNT(*) FROM orgs o LEFT JOIN org_billing b ON b.org_id = o.id "
                    "WHERE o.id IN " + c.in_orgs() + " AND (o.plan_id <> 'free' OR "
                    "b.pm_id IS NOT NULL OR b.ar_enabled = 1)")[0][0]
        expect(inert == "0", f"{inert} of the run's organizations still billable")
    st = chaos.health()
    expect(st == 200, f"/v1/health {st}")


if __name__ == "__main__":
    main()
