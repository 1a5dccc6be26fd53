#!/usr/bin/env python3
"""chaos: money under faults (issue 13, its first part). For a bounded time many clients at
once meter rule runs against small balances, buy credits, change plans, re-deliver webhooks
and call the cron sweeps, while a fault injector kills workers, stops the database, makes
the sandbox provider time out and fail, and kills database connections from the server
side. Then, after a final reconciliation, it checks that nothing was lost or doubled.

    tests/chaos/chaos.py [--seconds N] [--orgs N] [--seed N]

It runs against a stack that is already up (scripts/chaos starts one of its own;
tests/integration/test_chaos.py runs it inside scripts/test's): ORGD_VAR (the stack),
ORGD_TEST_URL (nginx; else http://127.0.0.1:$ORGD_HTTP_PORT), ORGD_REPO. Seconds:
--seconds, else CHAOS_SECONDS, else 60. Python 3 standard library only.

What it does, in order:
1. setup: --orgs organizations (an owner each, a project, two environments, a payment
   method: every fourth one declines, pm_card_chargeDeclined), auto-recharge on for two in
   three, a first purchase of 500 credits, and the month's usage set at (or just under) the
   free plan's 1,000 included runs through SQL, so that runs cost credits at once;
2. the chaos, for N seconds: client threads doing runs (half with an Idempotency-Key,
   a quarter of those replaying an earlier key), credit purchases (keys replayed), plan
   changes (pro/free) and auto-recharge settings, webhook re-deliveries of recorded
   events in random order (/_sandbox/events/{id}/deliver), the three sweeps
   (/v1/internal/*) concurrently, and billing reads; and the fault injector, on the
   schedule it prints first;
3. settling: the sandbox reset, held webhooks delivered, every key that got no definitive
   answer tried once more (as a client would), orgd restarted with ORGD_CLOCK_OFFSET=+600
   so that every pending purchase is older than 5 minutes, scripts/reconcile, orgd
   restarted without the offset, pending webhooks delivered;
4. the checks (below), then the organizations are left inert (plan free, payment method
   removed: no sweep of a later test finds them) and the sandbox is reset.

Checks: ledger (scripts/ledger-check; no negative balance), charges (sandbox's succeeded
charges vs orgd's succeeded purchases, both ways, each credited / applied exactly once,
none left pending), idempotency (one effect per key; replays give the first answer; one
purchase per key; each webhook event recorded once under its id), answers (every 2xx is
in the database; runs, usage and ledger agree row by row; no run the clients cannot
account for), service (health 200, the same master, all workers, no crash but the kills
in orgd's log, no sanitizer report, no 500).

Prints the schedule, a summary (requests by outcome, faults injected, checks) and exits 1
if any check failed (2 if the run could not be made at all).
"""

import argparse
import collections
import hashlib
import http.client
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.environ.get("ORGD_REPO") or os.path.abspath(os.path.join(HERE, "..", ".."))
os.environ.setdefault("ORGD_REPO", REPO)
if not os.environ.get("ORGD_TEST_URL"):
    os.environ["ORGD_TEST_URL"] = f"http://127.0.0.1:{os.environ.get('ORGD_HTTP_PORT', '8080')}"
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

import orgdtest as ot  # noqa: E402  (reads the environment above)

PASSWORD = "correct horse battery"
WORKERS = int(os.environ.get("ORGD_WORKERS") or os.cpu_count() or 2)
PAY_TIMEOUT_MS = int(os.environ.get("ORGD_PAY_TIMEOUT_MS", "5000"))
CLOCK_OFFSET = 600          # the final reconciliation's clock: pending > 5 minutes
FREE_LIMIT = 1000           # the free plan's included runs


def now():
    return time.monotonic()


_URL = urllib.parse.urlsplit(ot.URL)


def web(method, path, body=None, token=None, headers=None, timeout=30):
    """One request through nginx on a fresh connection -> (status, headers, JSON or None,
    raw bytes); raises OSError / http.client.HTTPException when no answer comes. (Not
    orgdtest.req: the chaos checks money, and an answer's shape is not its business.)"""
    hdrs = dict(headers or {})
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    if token is not None:
        hdrs["Authorization"] = f"Bearer {token}"
    conn = http.client.HTTPConnection(_URL.hostname or "127.0.0.1", _URL.port or 80,
                                      timeout=timeout)
    try:
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        raw = resp.read()
    finally:
        conn.close()
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = None
    return resp.status, resp.headers, parsed, raw


def health(timeout=5):
    try:
        return web("GET", "/v1/health", timeout=timeout)[0]
    except (OSError, http.client.HTTPException):
        return None


def wait_health(status=200, timeout=15.0):
    return bool(ot.wait_until(lambda: health(3) == status, timeout, 0.1))


class Say:
    """Output: lines to stdout, flushed, prefixed with the run's elapsed time."""

    def __init__(self, quiet=False):
        self.t0 = now()
        self.quiet = quiet
        self.lock = threading.Lock()

    def __call__(self, msg):
        if self.quiet:
            return
        with self.lock:
            print(f"chaos: {msg}", flush=True)


# --- one recorded request ------------------------------------------------------------------

class Rec:
    __slots__ = ("kind", "org", "key", "body", "status", "code", "resp", "raw", "t0", "t1",
                 "err", "replay", "phase")

    def outcome(self):
        if self.status is None:
            return "no answer"
        if 200 <= self.status < 300:
            return f"{self.status}"
        return f"{self.status} {self.code or '-'}"

    def definitive(self):
        """An answer that tells what happened (2xx: done; 4xx: nothing done). 5xx and no
        answer are ambiguous: the effect is whole or absent, either way."""
        return self.status is not None and 200 <= self.status < 500


def body_hash(body):
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]


# --- the run -------------------------------------------------------------------------------

class Chaos:
    def __init__(self, seconds, n_orgs=12, seed=None, say=None, threads=None):
        self.seconds = float(seconds)
        self.n_orgs = n_orgs
        self.seed = seed if seed is not None else int(time.time())
        self.say = say or Say()
        self.threads = threads or {"runs": 14, "buys": 4, "plans": 1, "hooks": 1,
                                   "sweeps": 4, "reads": 1}
        self.recs = []
        self.rlock = threading.Lock()
        self.stop = threading.Event()
        self.faults = []            # (t, what, detail)
        self.flock = threading.Lock()
        self.orgs = []
        self.checks = []            # (name, ok, detail)
        self.notes = []
        self.paths = ot.stack_paths()
        self.sandbox_url = f"http://127.0.0.1:{self.paths['PAY_SANDBOX_PORT']}"
        self.log_path = os.path.join(self.paths["LOG_DIR"], "orgd.log")
        secret = os.environ.get("ORGD_CRON_SECRET")
        if not secret:
            with open(os.path.join(self.paths["SECRETS_DIR"], "cron_secret")) as f:
                secret = f.read().strip()
        self.cron_secret = secret
        self.run_tag = f"{self.seed:x}{os.getpid():x}"
        self.db_down = threading.Event()
        self.clock_moved = False
        self.master = None
        self.log_from = 0
        self.kills = 0
        self.negative_reads = []
        self.t_start = None
        self.key_seq = 0
        self.key_lock = threading.Lock()
        self.hook_events = []       # sandbox event ids of our purchases (for re-delivery)
        self.redeliveries = collections.Counter()
        self.by_id = {}

    # --- HTTP -------------------------------------------------------------------------

    def call(self, kind, method, path, body=None, token=None, key=None, org=None, replay=False,
             timeout=90, headers=None, phase="chaos"):
        r = Rec()
        r.kind, r.org, r.key, r.body, r.replay, r.phase = kind, org, key, body, replay, phase
        r.status = r.code = r.resp = r.raw = r.err = None
        hdrs = dict(headers or {})
        if key is not None:
            hdrs["Idempotency-Key"] = key
        r.t0 = time.time()
        try:
            st, _, b, raw = web(method, path, body=body, token=token, headers=hdrs,
                                timeout=timeout)
            r.status, r.resp, r.raw = st, b, raw
            if isinstance(b, dict) and isinstance(b.get("error"), dict):
                r.code = b["error"].get("code")
        except (OSError, http.client.HTTPException) as e:
            r.err = f"{type(e).__name__}: {e}"
        r.t1 = time.time()
        with self.rlock:
            self.recs.append(r)
        return r

    def sandbox(self, method, path, body=None, timeout=90):
        data = json.dumps(body).encode() if body is not None else None
        rq = urllib.request.Request(self.sandbox_url + path, data=data, method=method,
                                    headers={"Content-Type": "application/json"} if data else {})
        try:
            with urllib.request.urlopen(rq, timeout=timeout) as f:
                return f.status, json.loads(f.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def sb_ok(self, method, path, body=None, timeout=90):
        st, b = self.sandbox(method, path, body, timeout)
        if st not in (200, 202):
            raise RuntimeError(f"sandbox {method} {path}: {st} {b}")
        return b

    def cron(self, sweep, limit=20):
        return self.call("sweep:" + sweep, "POST", f"/v1/internal/{sweep}", body={"limit": limit},
                         headers={"Authorization": f"Bearer {self.cron_secret}"}, timeout=300)

    def new_key(self, prefix):
        with self.key_lock:
            self.key_seq += 1
            return f"chaos-{self.run_tag}-{prefix}-{self.key_seq}"

    def fault(self, what, detail=""):
        t = now() - self.t_start if self.t_start else 0.0
        with self.flock:
            self.faults.append((t, what, detail))
        self.say(f"t+{t:5.1f}s fault: {what}{' (' + detail + ')' if detail else ''}")

    # --- 1. setup ----------------------------------------------------------------------

    def must(self, resp, status, what):
        if resp.status != status:
            raise RuntimeError(f"setup: {what}: {resp.status} {resp.err or resp.raw[:300]!r}")
        return resp.resp

    def retry(self, fn, tries=20):
        """setup calls: sign-up/sign-in answer 503 while the hashes at once are busy (and a
        sign-in's 503 counts as a failed attempt: five lock the pair out, so few tries)"""
        for i in range(tries):
            r = fn()
            if r.status is not None and r.status != 503:
                return r
            time.sleep(0.2 * (i + 1) + random.random() * 0.2)
        return r

    def make_org(self, i):
        email = f"chaos-{self.run_tag}-{i}@example.test"
        declines = i % 4 == 3
        r = self.retry(lambda: self.call("setup", "POST", "/v1/auth/signup", phase="setup",
                                         body={"email": email, "password": PASSWORD,
                                               "name": f"chaos {i}"}))
        self.must(r, 201, f"signup {email}")
        r = self.retry(lambda: self.call("setup", "POST", "/v1/auth/login", phase="setup",
                                         body={"email": email, "password": PASSWORD}), tries=4)
        tok = self.must(r, 200, "login")["token"]
        b = self.must(self.call("setup", "POST", "/v1/orgs", body={"name": f"chaos {i}"},
                                token=tok, phase="setup"), 201, "create org")
        o = {"i": i, "id": b["org"]["id"], "token": b["token"], "declines": declines}
        t = o["token"]
        o["project"] = self.must(self.call("setup", "POST", "/v1/org/projects", token=t,
                                           phase="setup", body={"name": "rules"}),
                                 201, "project")["id"]
        o["envs"] = [self.must(self.call("setup", "POST", "/v1/org/environments", token=t,
                                         phase="setup",
                                         body={"name": f"env{k}", "kind": "production",
                                               "region": "eu-west-1"}), 201, "env")["id"]
                     for k in range(2)]
        pm = "pm_card_chargeDeclined" if declines else "pm_card_visa"
        self.must(self.call("setup", "PUT", "/v1/org/billing/payment-method", token=t,
                            phase="setup", body={"payment_method": pm}), 200, "payment method")
        o["auto_recharge"] = i % 3 != 2
        if o["auto_recharge"]:
            self.must(self.call("setup", "PUT", "/v1/org/billing/auto-recharge", token=t,
                                phase="setup",
                                body={"enabled": True, "threshold_credits": 300,
                                      "recharge_credits": 500}), 200, "auto-recharge")
        if not declines:
            key = self.new_key("buy")
            r = self.call("buy", "POST", "/v1/org/billing/credits", token=t, key=key,
                          org=o["id"], body={"credits": 500}, phase="setup")
            self.must(r, 201, "first purchase")
        # the month's included runs used up (or nearly: a few cross the limit under load)
        o["period"] = time.strftime("%Y-%m", time.gmtime())
        o["base_runs"] = FREE_LIMIT - (5 if i % 5 == 0 else 0)
        ot.db_query(f"INSERT INTO usage_months (org_id, period, runs, overage_runs) VALUES "
                    f"('{o['id']}', '{o['period']}', {o['base_runs']}, 0) ON DUPLICATE KEY "
                    f"UPDATE runs = runs + {o['base_runs']}")
        o["keys_run"] = []          # (key, env) used for runs
        o["keys_buy"] = []          # (key, credits)
        return o

    def setup(self):
        self.say(f"setup: {self.n_orgs} organizations (seed {self.seed}, tag {self.run_tag})")
        self.sb_ok("POST", "/_sandbox/reset", {})
        if not wait_health(200, 30):
            raise RuntimeError("the stack is not healthy before the run")
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(max_workers=2) as pool:  # orgd hashes 2 passwords at once
            self.orgs = list(pool.map(self.make_org, range(self.n_orgs)))
        self.by_id = {o["id"]: o for o in self.orgs}
        self.say(f"setup: done ({sum(o['declines'] for o in self.orgs)} with declining cards, "
                 f"{sum(o['auto_recharge'] for o in self.orgs)} with auto-recharge)")

    # --- 2. the clients ------------------------------------------------------------------

    def loop(self, fn):
        def body(idx):
            rng = random.Random(self.seed * 1000 + idx)
            while not self.stop.is_set():
                try:
                    fn(rng)
                except Exception:  # noqa: BLE001 - a client bug must not end the run silently
                    self.notes.append("client error: " + traceback.format_exc().strip()[-600:])
                    time.sleep(0.2)
        return body

    def client_run(self, rng):
        o = rng.choice(self.orgs)
        env = rng.choice(o["envs"])
        key, replay = None, False
        if rng.random() < 0.5:
            if o["keys_run"] and rng.random() < 0.25:
                key, env = rng.choice(o["keys_run"])
                replay = True
                if rng.random() < 0.05:  # the same key with another body
                    env = o["envs"][1] if env == o["envs"][0] else o["envs"][0]
            else:
                key = self.new_key("run")
                o["keys_run"].append((key, env))
        r = self.call("run", "POST", "/v1/org/runs", token=o["token"], key=key, org=o["id"],
                      replay=replay, body={"project_id": o["project"], "environment_id": env})
        if not r.definitive():
            time.sleep(rng.uniform(0.02, 0.06))  # as a client would back off

    def client_buy(self, rng):
        o = rng.choice(self.orgs)
        if o["keys_buy"] and rng.random() < 0.3:
            (key, credits), replay = rng.choice(o["keys_buy"]), True
        else:
            key, credits, replay = self.new_key("buy"), rng.choice((500, 700, 1000)), False
            o["keys_buy"].append((key, credits))
        r = self.call("buy", "POST", "/v1/org/billing/credits", token=o["token"], key=key,
                      org=o["id"], replay=replay, body={"credits": credits})
        time.sleep(rng.uniform(0, 0.2) + (0 if r.definitive() else 0.05))

    def client_plan(self, rng):
        o = rng.choice(self.orgs)
        if rng.random() < 0.15:
            on = rng.random() < 0.7
            self.call("auto-recharge", "PUT", "/v1/org/billing/auto-recharge", token=o["token"],
                      org=o["id"], body={"enabled": on, "threshold_credits": 300,
                                         "recharge_credits": 500})
        else:
            plan = rng.choice(("pro", "free"))
            self.call("plan:" + plan, "PUT", "/v1/org/plan", token=o["token"], org=o["id"],
                      body={"plan": plan})
        time.sleep(rng.uniform(0.05, 0.3))

    def client_hooks(self, rng):
        """Recorded events of our purchases delivered again, late and in random order."""
        if rng.random() < 0.2 or not self.hook_events:
            st, ch = self.sandbox("GET", "/_sandbox/charges", timeout=30)
            st2, ev = self.sandbox("GET", "/_sandbox/events", timeout=30)
            if st == 200 and st2 == 200:
                ours = {c["id"] for c in ch["data"]
                        if (c.get("metadata") or {}).get("org_id") in self.by_id}
                self.hook_events = [e["id"] for e in ev["data"] if e["payment_intent"] in ours]
        if self.hook_events:
            evt = rng.choice(self.hook_events[-60:] if rng.random() < 0.5 else self.hook_events)
            st, b = self.sandbox("POST", f"/_sandbox/events/{evt}/deliver", {}, timeout=60)
            with self.rlock:
                self.redeliveries[(b or {}).get("status") if st == 200 else f"sandbox {st}"] += 1
        time.sleep(rng.uniform(0.02, 0.15))

    def client_sweep(self, rng, which):
        self.cron(which)
        time.sleep(rng.uniform(0.1, 0.5))

    def client_read(self, rng):
        o = rng.choice(self.orgs)
        r = self.call("read", "GET", "/v1/org/billing", token=o["token"], org=o["id"])
        if r.status == 200 and isinstance(r.resp, dict) and r.resp.get("credit_balance", 0) < 0:
            self.negative_reads.append((o["id"], r.resp["credit_balance"]))
        time.sleep(rng.uniform(0.05, 0.2))

    # --- 2. the faults ---------------------------------------------------------------------

    def schedule(self):
        D = self.seconds
        ev = []
        t = 1.0
        while t < D - 0.5:
            ev.append((t, "kill -9 a random worker", self.f_kill_worker))
            t += 2.0
        ev += [
            (0.05 * D, "webhooks: duplicate, delayed 1.5 s", lambda: self.f_hooks(
                {"duplicate": True, "delay_ms": 1500})),
            (0.20 * D, f"MariaDB stopped, started again {max(2.0, 0.05 * D):.0f} s later",
             self.f_db_restart),
            (0.33 * D, "webhooks: held (not sent)", lambda: self.f_hooks({"enabled": False})),
            (0.42 * D, f"sandbox: timeout ({PAY_TIMEOUT_MS + 3000} ms) for the next 4 calls",
             lambda: self.f_mode("timeout", PAY_TIMEOUT_MS + 3000, 4)),
            (0.50 * D, "webhooks: sent again, the held ones delivered late",
             self.f_hooks_release),
            (0.55 * D, "sandbox: 500 for the next 10 calls", lambda: self.f_mode("error_500", 0,
                                                                                  10)),
            (0.63 * D, "sandbox: 429 for the next 10 calls", lambda: self.f_mode("error_429", 0,
                                                                                  10)),
            (0.70 * D, "KILL CONNECTION: an orgd connection caught in COMMIT (else one in a "
                       "money transaction)", self.f_snipe),
            (0.85 * D, "KILL CONNECTION: every orgd connection once", self.f_kill_all_conns),
            (0.92 * D, "webhooks: duplicate off, no delay", lambda: self.f_hooks(
                {"duplicate": False, "delay_ms": 0})),
        ]
        return sorted(ev, key=lambda e: e[0])

    def f_kill_worker(self):
        pids = ot.orgd_worker_pids()
        if not pids:
            self.fault("kill -9 a worker", "no worker found")
            return
        pid = random.choice(pids)
        try:
            os.kill(pid, signal.SIGKILL)
            self.kills += 1
            self.fault("kill -9 worker", f"pid {pid}")
        except OSError as e:
            self.fault("kill -9 worker", f"pid {pid}: {e}")

    def f_db_restart(self):
        self.db_down.set()
        t0 = now()
        try:
            ot.db_stop()
            self.fault("MariaDB stopped", f"{now() - t0:.1f} s to stop")
            time.sleep(max(2.0, 0.05 * self.seconds))
        finally:
            t1 = now()
            ot.db_start()
            self.db_down.clear()
            self.fault("MariaDB started", f"{now() - t1:.1f} s to start")

    def f_hooks(self, body):
        self.sb_ok("POST", "/_sandbox/webhooks", body)
        self.fault("sandbox webhooks", json.dumps(body))

    def f_hooks_release(self):
        self.sb_ok("POST", "/_sandbox/webhooks", {"enabled": True})
        b = self.sb_ok("POST", "/_sandbox/events/deliver-pending", {"wait": False})
        self.fault("sandbox webhooks on, held ones queued", f"{b.get('queued')} events")

    def f_mode(self, mode, delay, calls):
        self.sb_ok("POST", "/_sandbox/mode", {"mode": mode, "delay_ms": delay, "calls": calls})
        self.fault(f"sandbox mode {mode}", f"delay {delay} ms, {calls} calls")

    def sql_admin(self, sql, timeout=30, force=False):
        cmd = [os.path.join(REPO, "scripts", "stack"), "sql", "--batch", "--skip-column-names"]
        if force:
            cmd.append("--force")
        p = subprocess.run(cmd, input=sql, env=dict(os.environ, ORGD_VAR=ot.VAR),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=timeout)
        return p.returncode, p.stdout, p.stderr

    def f_snipe(self):
        """Polls the server's process list from inside the server (one compound statement:
        ~0.1 ms a poll) for an orgd connection running COMMIT and kills it; after half the
        budget, one inside a transaction that has written rows will do. Meanwhile every
        COMMIT flushes the redo log to disk (innodb_flush_log_at_trx_commit=1, restored
        after): a COMMIT then lasts an fsync, and the KILL lands while it runs, the client's
        2013 on COMMIT of SECURITY.md."""
        user = self.paths.get("DB_USER") or "orgd"
        polls = int(min(6.0, 0.15 * self.seconds) / 0.00015)
        half = polls // 2
        rc, out, err = self.sql_admin("SELECT @@GLOBAL.innodb_flush_log_at_trx_commit")
        flush = out.strip() if rc == 0 and out.strip().isdigit() else "1"
        sql = f"""SET GLOBAL innodb_flush_log_at_trx_commit = 1;
DELIMITER //
BEGIN NOT ATOMIC
  DECLARE i INT DEFAULT 0;
  DECLARE victim BIGINT DEFAULT NULL;
  DECLARE what VARCHAR(80) DEFAULT NULL;
  DECLARE CONTINUE HANDLER FOR NOT FOUND SET victim = NULL;
  WHILE i < {polls} AND victim IS NULL DO
    IF i < {half} THEN
      SELECT id, 'COMMIT' INTO victim, what FROM information_schema.processlist
        WHERE user = '{user}' AND command = 'Query' AND UPPER(info) = 'COMMIT' LIMIT 1;
    ELSE
      SELECT p.id, CONCAT('in a transaction that wrote ', t.trx_rows_modified, ' rows: ',
                          COALESCE(LEFT(p.info, 40), p.command))
        INTO victim, what
        FROM information_schema.innodb_trx t
        JOIN information_schema.processlist p ON p.id = t.trx_mysql_thread_id
        WHERE p.user = '{user}' AND t.trx_rows_modified > 0 LIMIT 1;
    END IF;
    SET i = i + 1;
  END WHILE;
  IF victim IS NOT NULL THEN
    KILL CONNECTION victim;
  END IF;
  SELECT COALESCE(victim, 'none'), COALESCE(what, '-'), i;
END//
"""
        try:
            rc, out, err = self.sql_admin(sql, timeout=60)
        finally:
            self.sql_admin(f"SET GLOBAL innodb_flush_log_at_trx_commit = {flush}")
        if rc != 0:
            self.fault("KILL CONNECTION (caught)", f"failed: {err.strip()[:200]}")
            return
        parts = out.strip().split("\t")
        if parts and parts[0] != "none":
            self.fault("KILL CONNECTION", f"connection {parts[0]}, {parts[1]}, after {parts[2]} "
                                          f"polls")
        else:
            self.fault("KILL CONNECTION", f"no orgd connection caught in {out.strip()}")

    def f_kill_all_conns(self):
        user = self.paths.get("DB_USER") or "orgd"
        rc, out, err = self.sql_admin(
            f"SELECT id FROM information_schema.processlist WHERE user = '{user}'")
        ids = [x.strip() for x in out.split() if x.strip().isdigit()]
        if ids:
            self.sql_admin("".join(f"KILL CONNECTION {i};\n" for i in ids), force=True)
        self.fault("KILL CONNECTION every orgd connection", f"{len(ids)} connections")

    def injector(self):
        for t, what, fn in self.schedule():
            if self.stop.wait(max(0.0, self.t_start + t - now())):
                return
            threading.Thread(target=self.guard(fn, what), daemon=True).start()

    def guard(self, fn, what):
        def run():
            try:
                fn()
            except Exception as e:  # noqa: BLE001
                self.fault(what, f"FAILED: {type(e).__name__}: {e}")
                self.notes.append(f"fault {what} failed: {traceback.format_exc()[-600:]}")
        return run

    # --- 2. the run ---------------------------------------------------------------------------

    def chaos(self):
        self.say("the fault schedule (seconds after the start):")
        for t, what, _ in self.schedule():
            self.say(f"  t+{t:5.1f}s  {what}")
        self.master = ot.orgd_master_pid()
        try:
            self.log_from = os.path.getsize(self.log_path)
        except OSError:
            self.log_from = 0
        threads = []
        n = self.threads
        kinds = ([("run", self.client_run)] * n["runs"] + [("buy", self.client_buy)] * n["buys"]
                 + [("plan", self.client_plan)] * n["plans"]
                 + [("hooks", self.client_hooks)] * n["hooks"]
                 + [("read", self.client_read)] * n["reads"])
        sweeps = ["auto-recharge", "renewals", "reconcile", "auto-recharge"]
        for k in range(n["sweeps"]):
            which = sweeps[k % len(sweeps)]
            kinds.append(("sweep", lambda rng, w=which: self.client_sweep(rng, w)))
        self.t_start = now()
        self.say(f"chaos: {self.seconds:.0f} s, {len(kinds)} client threads, master pid "
                 f"{self.master}")
        for idx, (_, fn) in enumerate(kinds):
            th = threading.Thread(target=self.loop(fn), args=(idx,), daemon=True)
            th.start()
            threads.append(th)
        inj = threading.Thread(target=self.injector, daemon=True)
        inj.start()
        self.stop.wait(self.seconds)
        self.stop.set()
        self.say(f"chaos: time is up after {now() - self.t_start:.1f} s; waiting for the "
                 f"clients")
        for th in threads:
            th.join(120)
        inj.join(5)
        # a fault still running (the database coming back) must end first
        ot.wait_until(lambda: not self.db_down.is_set(), 120, 0.2)
        self.say(f"chaos: {len(self.recs)} requests made")

    # --- 3. settling ---------------------------------------------------------------------------

    def restart_orgd(self, offset):
        master = ot.orgd_master_pid()
        if master:
            os.kill(master, signal.SIGTERM)
            if not ot.wait_gone(master, 60):
                raise RuntimeError(f"orgd master {master} still runs 60 s after SIGTERM")
        env = dict(os.environ, ORGD_VAR=ot.VAR)
        env.pop("ORGD_CLOCK_OFFSET", None)
        if offset is not None:
            env["ORGD_CLOCK_OFFSET"] = str(offset)
        p = subprocess.run([os.path.join(REPO, "scripts", "stack"), "up"], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=180)
        if p.returncode != 0 or not wait_health(200, 30):
            raise RuntimeError(f"scripts/stack up (ORGD_CLOCK_OFFSET={offset}) exited "
                               f"{p.returncode}: {p.stdout[-600:]}")
        self.clock_moved = offset is not None

    def deliver_pending(self):
        b = self.sb_ok("POST", "/_sandbox/events/deliver-pending",
                       {"wait": True, "timeout_ms": 90000}, timeout=120)
        return b

    def settle(self):
        self.say("settling: sandbox reset, held webhooks delivered")
        self.sb_ok("POST", "/_sandbox/reset", {})
        if not wait_health(200, 60):
            raise RuntimeError("no /v1/health 200 after the chaos")
        # the service as the chaos left it: the same master, all its workers
        self.end_master = ot.orgd_master_pid()
        self.end_workers = ot.wait_until(
            lambda: (len(ot.orgd_worker_pids()) == WORKERS and ot.orgd_worker_pids()), 15)
        st, _, body, _ = web("GET", "/v1/health", timeout=10)
        self.end_health = (st, body)
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self.log_from)
                self.chaos_log = f.read().decode("utf-8", "replace")
        except OSError:
            self.chaos_log = ""
        b = self.deliver_pending()
        self.say(f"settling: webhooks {b}")
        # a client whose request got no definitive answer tries again with its key
        last = {}
        for r in self.recs:
            if r.key is not None and r.kind in ("run", "buy") and r.phase != "retry":
                last.setdefault((r.kind, r.org, r.key, body_hash(r.body)), []).append(r)
        todo = [(k, rs[0].body) for k, rs in last.items()
                if not any(x.definitive() for x in rs)]

        def again(item):
            (kind, org, key, _), body = item
            path = "/v1/org/runs" if kind == "run" else "/v1/org/billing/credits"
            self.call(kind, "POST", path, token=self.by_id[org]["token"], key=key, org=org,
                      body=body, phase="retry")
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(again, todo))
        self.say(f"settling: {len(todo)} keys without a definitive answer tried again")
        # the final reconciliation: every pending purchase older than 5 minutes
        self.sb_ok("POST", "/_sandbox/webhooks", {"enabled": False})  # stale under the offset
        self.say(f"settling: orgd restarted with ORGD_CLOCK_OFFSET={CLOCK_OFFSET}")
        self.restart_orgd(CLOCK_OFFSET)
        for _ in range(3):
            p = subprocess.run([os.path.join(REPO, "scripts", "reconcile"), "-j", "2"],
                               env=dict(os.environ, ORGD_VAR=ot.VAR, ORGD_URL=ot.URL),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               timeout=300)
            self.say(f"settling: scripts/reconcile: {p.stdout.strip()}")
            if p.returncode == 0:
                break
            time.sleep(1)
        self.reconcile_out = (p.returncode, p.stdout.strip())
        self.say("settling: orgd restarted without the offset")
        self.restart_orgd(None)
        self.sb_ok("POST", "/_sandbox/webhooks", {"enabled": True})
        b = self.deliver_pending()
        self.say(f"settling: webhooks {b}")
        self.final_pending_events = b.get("pending")

    # --- 4. the checks ---------------------------------------------------------------------------

    def check(self, name, problems, detail=""):
        ok = not problems
        shown = "; ".join(problems[:6]) + (f" (and {len(problems) - 6} more)"
                                           if len(problems) > 6 else "")
        self.checks.append((name, ok, detail if ok else shown))

    def q(self, sql):
        return ot.db_query(sql, timeout=120)

    def in_orgs(self):
        return "(" + ",".join(f"'{o['id']}'" for o in self.orgs) + ")"

    def load_db(self):
        orgs = self.in_orgs()
        self.db_purchases = {r[0]: {"org": r[1], "kind": r[2], "credits": int(r[3]),
                                    "amount": int(r[4]), "status": r[5], "key": r[6],
                                    "plan": r[7], "settled": r[8]}
                             for r in self.q(
            "SELECT id, org_id, kind, credits, amount_cents, status, idem_key, plan_id, "
            f"UNIX_TIMESTAMP(settled_at) FROM purchases WHERE org_id IN {orgs}")}
        self.db_runs = {r[0]: {"org": r[1], "period": r[2], "as": r[3], "credits": int(r[4])}
                        for r in self.q("SELECT id, org_id, period, counted_as, credits_charged "
                                        f"FROM runs WHERE org_id IN {orgs}")}
        self.db_ledger = [{"id": r[0], "org": r[1], "delta": int(r[2]), "reason": r[3],
                           "ref": r[4], "after": int(r[5])}
                          for r in self.q("SELECT id, org_id, delta, reason, ref, balance_after "
                                          f"FROM ledger WHERE org_id IN {orgs} ORDER BY seq")]
        self.db_usage = {(r[0], r[1]): (int(r[2]), int(r[3])) for r in self.q(
            f"SELECT org_id, period, runs, overage_runs FROM usage_months WHERE org_id IN {orgs}")}
        self.db_audit = [(r[0], r[1], r[2], r[3]) for r in self.q(
            "SELECT org_id, action, target, detail FROM audit_log WHERE org_id IN "
            f"{orgs} AND action IN ('purchase.succeeded', 'plan.changed')")]
        self.db_idem = {(r[0], r[1]): (int(r[2]), r[3]) for r in self.q(
            "SELECT org_id, idem_key, status, response FROM idempotency_keys WHERE org_id IN "
            f"{orgs}")}
        self.db_orgs = {r[0]: {"balance": int(r[1]), "plan": r[2]} for r in self.q(
            f"SELECT id, credit_balance, plan_id FROM orgs WHERE id IN {orgs}")}
        ids = self.db_purchases.keys()
        self.db_hooks = collections.Counter()
        self.db_hook_ids = collections.Counter()
        if ids:
            for r in self.q("SELECT id, purchase_id FROM webhook_events WHERE purchase_id IN ("
                            + ",".join(f"'{i}'" for i in ids) + ")"):
                self.db_hook_ids[r[0]] += 1
                self.db_hooks[r[1]] += 1
        self.sb_charges = [c for c in self.sb_ok("GET", "/_sandbox/charges", timeout=120)["data"]
                           if (c.get("metadata") or {}).get("org_id") in self.by_id]
        pset = set(ids)
        self.sb_events = [e for e in self.sb_ok("GET", "/_sandbox/events", timeout=120)["data"]
                          if e.get("purchase_id") in pset]

    def run_checks(self):
        self.load_db()
        self.check_ledger()
        self.check_charges()
        self.check_idempotency()
        self.check_answers()
        self.check_service()

    def check_ledger(self):
        p = subprocess.run([os.path.join(REPO, "scripts", "ledger-check")],
                           env=dict(os.environ, ORGD_VAR=ot.VAR), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=300)
        problems = [] if p.returncode == 0 else [f"scripts/ledger-check exited {p.returncode}: "
                                                 + " | ".join(p.stdout.strip().splitlines()[:8])]
        neg = self.q("SELECT COUNT(*), COALESCE(MIN(credit_balance), 0) FROM orgs "
                     "WHERE credit_balance < 0")[0]
        if int(neg[0]):
            problems.append(f"{neg[0]} organizations with a negative balance (lowest {neg[1]})")
        negl = self.q("SELECT COUNT(*) FROM ledger WHERE balance_after < 0")[0][0]
        if int(negl):
            problems.append(f"{negl} ledger rows with a negative balance_after")
        if self.negative_reads:
            problems.append(f"GET /v1/org/billing showed a negative balance "
                            f"{self.negative_reads[:3]}")
        # the balance of each of ours also equals the sum of its ledger (ledger-check covers
        # every organization; this names ours)
        sums = collections.Counter()
        broken = collections.Counter()
        below = {}
        for row in self.db_ledger:  # in seq order: each row's balance_after is the running sum
            sums[row["org"]] += row["delta"]
            if sums[row["org"]] < 0 and row["org"] not in below:
                below[row["org"]] = (row["id"], sums[row["org"]])
            if row["after"] != sums[row["org"]]:
                if not broken[row["org"]]:
                    problems.append(f"{row['org']}: ledger row {row['id']} ({row['reason']} "
                                    f"{row['delta']}) says balance_after {row['after']}, the "
                                    f"rows before it sum to {sums[row['org']]}")
                broken[row["org"]] += 1
        for oid, (lid, v) in below.items():  # first: the worst news
            problems.insert(0, f"{oid}: the balance went below 0: {v} after ledger row {lid}")
        if broken:
            problems.append(f"{sum(broken.values())} ledger rows of {len(broken)} organizations "
                            f"break the running sum")
        for oid, o in self.db_orgs.items():
            if o["balance"] != sums[oid]:
                problems.append(f"{oid}: balance {o['balance']} != ledger sum {sums[oid]}")
        self.check("ledger", problems, (p.stdout.strip().splitlines()[-1] if p.stdout.strip()
                                        else "") + f"; our {len(self.db_ledger)} ledger rows "
                   f"each the running sum; no balance below 0, ever")

    def check_charges(self):
        problems = []
        ledger_by_ref = collections.defaultdict(list)
        for row in self.db_ledger:
            ledger_by_ref[row["ref"]].append(row)
        audit_ok = collections.Counter(t for (_, a, t, _) in self.db_audit
                                       if a == "purchase.succeeded")
        plan_changed = collections.Counter(o for (o, a, _, d) in self.db_audit
                                           if a == "plan.changed" and d == "pro")
        succeeded = collections.defaultdict(list)
        for c in self.sb_charges:
            if c["status"] == "succeeded":
                succeeded[c["metadata"].get("purchase_id")].append(c)
        # every succeeded charge: a succeeded purchase of that organization, credited once
        for pid, cs in succeeded.items():
            p = self.db_purchases.get(pid)
            if len(cs) > 1:
                problems.append(f"purchase {pid} charged {len(cs)} times: "
                                f"{[c['id'] for c in cs]}")
            if p is None:
                problems.append(f"charge {cs[0]['id']} (purchase {pid}) succeeded; no such "
                                f"purchase in orgd")
                continue
            c = cs[0]
            if p["status"] != "succeeded":
                problems.append(f"charge {c['id']} succeeded; purchase {pid} is {p['status']}")
            if c["amount"] != p["amount"] or c["metadata"].get("org_id") != p["org"]:
                problems.append(f"charge {c['id']} of {c['amount']} for "
                                f"{c['metadata'].get('org_id')} vs purchase {pid} of "
                                f"{p['amount']} for {p['org']}")
        # every succeeded purchase: exactly one succeeded charge, and its effect once
        kinds = collections.Counter()
        for pid, p in self.db_purchases.items():
            if p["status"] == "pending":
                problems.append(f"purchase {pid} ({p['kind']}) still pending after the final "
                                f"reconciliation")
            if p["status"] != "succeeded":
                if ledger_by_ref.get(pid):
                    problems.append(f"{p['status']} purchase {pid} has ledger rows")
                continue
            kinds[p["kind"]] += 1
            if len(succeeded.get(pid, [])) != 1:
                problems.append(f"succeeded purchase {pid} ({p['kind']}) has "
                                f"{len(succeeded.get(pid, []))} succeeded charges at the sandbox")
            if audit_ok[pid] != 1:
                problems.append(f"succeeded purchase {pid} applied {audit_ok[pid]} times "
                                f"(audit purchase.succeeded)")
            if p["kind"] in ("credits", "auto_recharge"):
                rows = ledger_by_ref.get(pid, [])
                want = "purchase" if p["kind"] == "credits" else "auto_recharge"
                if len(rows) != 1 or rows[0]["delta"] != p["credits"] or rows[0]["reason"] != want:
                    problems.append(f"purchase {pid} of {p['credits']} credits: ledger rows "
                                    f"{[(r['reason'], r['delta']) for r in rows]}")
        # a plan applied once per succeeded plan purchase
        for oid in self.by_id:
            n = sum(1 for p in self.db_purchases.values()
                    if p["org"] == oid and p["kind"] == "plan" and p["status"] == "succeeded")
            if plan_changed[oid] != n:
                problems.append(f"{oid}: {n} succeeded plan purchases, plan applied "
                                f"{plan_changed[oid]} times")
        n_ok = sum(len(v) for v in succeeded.values())
        self.check("charges", problems,
                   f"{n_ok} succeeded charges = {sum(kinds.values())} succeeded purchases "
                   f"({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))}), each credited "
                   f"or applied once; "
                   f"{sum(1 for c in self.sb_charges if c['status'] != 'succeeded')} declined "
                   f"charges, none credited; 0 pending")

    def check_idempotency(self):
        problems = []
        groups = collections.defaultdict(list)
        for r in self.recs:
            if r.key is not None and r.kind in ("run", "buy"):
                groups[(r.kind, r.org, r.key)].append(r)
        replays = 0
        for (kind, org, key), rs in groups.items():
            # one effect: every 2xx answer of a key names the same run / purchase
            ids = set()
            for r in rs:
                if r.status is not None and 200 <= r.status < 300 and isinstance(r.resp, dict):
                    ids.add(r.resp.get("id") if kind == "run"
                            else (r.resp.get("purchase") or {}).get("id"))
            if len(ids) > 1:
                problems.append(f"{kind} key {key}: {len(ids)} different effects {sorted(ids)}")
            # a repeat with the same body gives the first definitive answer, byte for byte
            by_body = collections.defaultdict(list)
            for r in sorted(rs, key=lambda r: r.t0):
                if r.definitive():
                    by_body[body_hash(r.body)].append(r)
            for answers in by_body.values():
                first = answers[0]
                for r in answers[1:]:
                    replays += 1
                    if (r.status, r.raw) != (first.status, first.raw):
                        problems.append(f"{kind} key {key}: a repeat answered {r.status} "
                                        f"{r.raw[:120]!r}, the first {first.status} "
                                        f"{first.raw[:120]!r}")
                        break
            # the stored answer is the one the clients got
            stored = self.db_idem.get((org, key))
            if stored and stored[0] and by_body:
                firsts = [a[0] for a in by_body.values()]
                if not any((f.status, f.raw.decode("utf-8", "replace")) == stored
                           for f in firsts) and not any(
                        f.status == 409 for f in firsts):
                    problems.append(f"{kind} key {key}: stored answer {stored[0]} "
                                    f"{stored[1][:100]!r} is no client's first answer")
        # one purchase per (organization, key), and only keys the clients sent
        per_key = collections.Counter((p["org"], p["key"]) for p in self.db_purchases.values()
                                      if p["key"] is not None)
        for (org, key), n in per_key.items():
            if n > 1:
                problems.append(f"{n} purchases under key {key} of {org}")
        sent = {(r.org, r.key) for r in self.recs if r.kind == "buy"}
        for (org, key) in per_key:
            if (org, key) not in sent:
                problems.append(f"a purchase under key {key} that no client sent")
        # one run per key: the runs a key's answers name exist once; a key's stored answer
        for (org, key), (status, resp) in self.db_idem.items():
            if status == 201 and key.split("-")[2:3] == ["run"]:
                try:
                    rid = json.loads(resp)["id"]
                except (ValueError, KeyError, TypeError):
                    continue
                if rid not in self.db_runs:
                    problems.append(f"key {key}: stored answer names run {rid}, not in runs")
        # each webhook event recorded exactly once, under its own id
        delivered = {e["id"] for e in self.sb_events if e["delivered"]}
        for evt in delivered:
            if self.db_hook_ids[evt] != 1:
                problems.append(f"webhook event {evt} recorded {self.db_hook_ids[evt]} times "
                                f"under its id")
        extra = sum(self.db_hooks.values()) - len(delivered & set(self.db_hook_ids))
        if extra:
            problems.append(f"{extra} webhook_events rows for our purchases beyond the "
                            f"{len(delivered)} events delivered")
        self.check("idempotency", problems,
                   f"{len(groups)} keys, {replays} repeats answered as the first, "
                   f"{len(per_key)} keyed purchases one per key, {len(delivered)} webhook "
                   f"events recorded once each ({sum(self.redeliveries.values())} "
                   f"re-deliveries)")

    def check_answers(self):
        problems = []
        ledger_by_ref = collections.defaultdict(list)
        for row in self.db_ledger:
            ledger_by_ref[row["ref"]].append(row)
        answered = collections.defaultdict(set)
        ambiguous = collections.Counter()
        n2xx = collections.Counter()
        for r in self.recs:
            if r.kind == "run":
                if r.status == 201 and isinstance(r.resp, dict):
                    n2xx["run"] += 1
                    rid = r.resp.get("id")
                    answered[r.org].add(rid)
                    d = self.db_runs.get(rid)
                    if d is None:
                        problems.append(f"run {rid} answered 201, not in runs")
                    elif (d["org"], d["as"], d["credits"]) != (
                            r.org, r.resp.get("counted_as"), r.resp.get("credits_charged")):
                        problems.append(f"run {rid}: answered {r.resp.get('counted_as')} "
                                        f"{r.resp.get('credits_charged')}, stored {d}")
                elif not r.definitive():
                    ambiguous[r.org] += 1
            elif r.kind == "buy" and r.status is not None and 200 <= r.status < 300:
                n2xx["buy"] += 1
                pur = (r.resp or {}).get("purchase") or {}
                p = self.db_purchases.get(pur.get("id"))
                if p is None:
                    problems.append(f"purchase {pur.get('id')} answered {r.status}, not in "
                                    f"purchases")
                elif pur.get("status") == "succeeded" and p["status"] != "succeeded":
                    problems.append(f"purchase {pur['id']} answered succeeded, is {p['status']}")
                elif p["key"] != r.key or p["org"] != r.org:
                    problems.append(f"purchase {pur['id']} answered for key {r.key}, stored "
                                    f"under {p['key']}")
                elif p["status"] == "succeeded" and len(ledger_by_ref.get(pur["id"], [])) != 1:
                    problems.append(f"purchase {pur['id']} succeeded, ledger rows "
                                    f"{len(ledger_by_ref.get(pur['id'], []))}")
            elif r.kind == "buy" and r.status == 402 and r.code == "payment_failed":
                mine = [p for p in self.db_purchases.values()
                        if p["org"] == r.org and p["key"] == r.key]
                if len(mine) != 1 or mine[0]["status"] != "failed":
                    problems.append(f"key {r.key} answered 402 payment_failed; purchases "
                                    f"{[m['status'] for m in mine]}")
            elif r.kind == "plan:pro" and r.status == 200:
                n2xx["plan"] += 1
                ok = any(p["org"] == r.org and p["kind"] == "plan" and p["status"] == "succeeded"
                         and p["settled"] is not None and float(p["settled"]) <= r.t1 + 2
                         for p in self.db_purchases.values())
                if not ok:
                    problems.append(f"PUT plan pro answered 200 for {r.org}: no succeeded plan "
                                    f"purchase before it")
                if (r.resp or {}).get("plan", {}).get("id") != "pro":
                    problems.append(f"PUT plan pro answered {r.raw[:100]!r}")
        # each run answered its own place in the month: one usage.runs value per run
        place = collections.defaultdict(dict)
        for r in self.recs:
            if r.kind == "run" and r.status == 201 and isinstance(r.resp, dict):
                u = r.resp.get("usage") or {}
                seen = place[(r.org, u.get("period"))]
                other = seen.setdefault(u.get("runs"), r.resp.get("id"))
                if other != r.resp.get("id"):
                    problems.append(f"runs {other} and {r.resp.get('id')} both answered usage "
                                    f"runs {u.get('runs')} of {r.org}")
        # every run: whole (row, usage, its ledger row) and accounted for
        runs_by = collections.defaultdict(lambda: [0, 0])
        for rid, d in self.db_runs.items():
            c = runs_by[(d["org"], d["period"])]
            c[0] += 1
            c[1] += d["as"] == "overage"
            rows = ledger_by_ref.get(rid, [])
            want = [("run_overage", -d["credits"])] if d["credits"] > 0 else []
            if [(x["reason"], x["delta"]) for x in rows] != want:
                problems.append(f"run {rid} ({d['as']}, {d['credits']} credits): ledger rows "
                                f"{[(x['reason'], x['delta']) for x in rows]}")
        for row in self.db_ledger:
            if row["reason"] == "run_overage" and row["ref"] not in self.db_runs:
                problems.append(f"ledger row {row['id']} charges run {row['ref']}, not in runs")
        for o in self.orgs:
            got = self.db_usage.get((o["id"], o["period"]), (0, 0))
            c = runs_by[(o["id"], o["period"])]
            want = (o["base_runs"] + c[0], c[1])
            if got != want:
                problems.append(f"{o['id']} usage {o['period']}: (runs, overage) {got}, runs "
                                f"table says {want}")
            extra = len({rid for rid, d in self.db_runs.items() if d["org"] == o["id"]}
                        - answered[o["id"]])
            if extra > ambiguous[o["id"]]:
                problems.append(f"{o['id']}: {extra} runs nobody was answered, only "
                                f"{ambiguous[o['id']]} requests without a definitive answer")
        # a request without an answer left its whole effect or none: a purchase by key is
        # there once and settled (the charges check compares it with the provider)
        for r in self.recs:
            if r.kind == "buy" and not r.definitive():
                mine = [p for p in self.db_purchases.values()
                        if p["org"] == r.org and p["key"] == r.key]
                if len(mine) > 1 or (mine and mine[0]["status"] == "pending"):
                    problems.append(f"key {r.key} without an answer: purchases "
                                    f"{[m['status'] for m in mine]}")
        n_ids = sum(len(v) for v in answered.values())
        self.check("answers", problems,
                   f"{n2xx['run']} answers 201 naming {n_ids} runs, all stored with their usage "
                   f"and ledger rows ({len(self.db_runs)} runs in all, the other "
                   f"{len(self.db_runs) - n_ids} within the {sum(ambiguous.values())} run "
                   f"requests without a definitive answer), "
                   f"{n2xx['buy']} purchases answered 201, {n2xx['plan']} plan changes to pro "
                   f"answered 200: all in the database; runs, usage and ledger agree")

    def check_service(self):
        problems = []
        st, body = self.end_health
        if st != 200:
            problems.append(f"/v1/health answered {st} {body} after the chaos")
        if self.end_master != self.master:
            problems.append(f"the master changed: {self.master} -> {self.end_master}")
        if not self.end_workers:
            problems.append(f"not {WORKERS} workers after the chaos: {ot.orgd_worker_pids()}")
        log = self.chaos_log
        deaths = collections.Counter(re.findall(r'msg="worker died" worker=\d+ signal=(\d+)', log))
        for sig, n in deaths.items():
            if sig != "9":
                problems.append(f"{n} workers died of signal {sig}")
        exits = re.findall(r'msg="worker exited" worker=\d+ status=(\d+)', log)
        if any(x != "0" for x in exits):
            problems.append(f"workers exited with status {sorted(set(exits))}")
        san = re.findall(r"ERROR: AddressSanitizer[^\n]*|runtime error:[^\n]*|LeakSanitizer[^\n]*",
                         log)
        if san:
            problems.append(f"{len(san)} sanitizer reports: {san[0][:200]}")
        if deaths["9"] < self.kills:
            problems.append(f"{self.kills} workers killed, the log has {deaths['9']} deaths")
        e500 = [r for r in self.recs if r.status == 500]
        if e500:
            problems.append(f"{len(e500)} answers 500, e.g. {e500[0].kind} {e500[0].raw[:150]!r}")
        errors = collections.Counter(m for m in re.findall(r"level=error [^\n]*?msg=\"([^\"]*)\"",
                                                           log))
        if errors:
            self.notes.append(f"orgd logged errors during the chaos: {dict(errors)}")
        st2 = health(10)
        if st2 != 200:
            problems.append(f"/v1/health answered {st2} at the end")
        rc, out = ot.stack("status", check=False)
        if rc != 0:
            problems.append(f"scripts/stack status: {' | '.join(out.splitlines())}")
        commit_lost = len(re.findall(r"database connection lost\" errno=\d+ during=commit", log))
        lost = len(re.findall(r"database connection lost", log))
        self.check("service", problems,
                   f"/v1/health 200, master {self.master} throughout, {WORKERS} workers; log: "
                   f"{deaths['9']} deaths by signal 9 ({self.kills} kills), no other crash, no "
                   f"sanitizer report; {lost} connections lost ({commit_lost} on COMMIT)")

    # --- cleanup ---------------------------------------------------------------------------------

    def cleanup(self):
        """Leaves the stack as a later test expects it: sandbox reset, the database up, the
        clock restored, and our organizations inert (no sweep will find them)."""
        try:
            if self.db_down.is_set() or ot.db_query("SELECT 1") != [["1"]]:
                ot.db_start()
        except Exception:  # noqa: BLE001
            try:
                ot.db_start()
            except Exception as e:  # noqa: BLE001
                self.notes.append(f"cleanup: db-up failed: {e}")
        try:
            self.sb_ok("POST", "/_sandbox/reset", {})
        except Exception as e:  # noqa: BLE001
            self.notes.append(f"cleanup: sandbox reset failed: {e}")
        if self.clock_moved:
            try:
                self.restart_orgd(None)
            except Exception as e:  # noqa: BLE001
                self.notes.append(f"cleanup: restoring the clock failed: {e}")
        wait_health(200, 60)
        for o in self.orgs:
            for method, path, body in (("DELETE", "/v1/org/billing/payment-method", None),
                                       ("PUT", "/v1/org/plan", {"plan": "free"})):
                for _ in range(5):
                    try:
                        st, _, _, _ = web(method, path, body=body, token=o["token"],
                                           timeout=30)
                    except (OSError, http.client.HTTPException):
                        st = None
                    if st in (200, 204):
                        break
                    time.sleep(0.5)
        try:
            self.sb_ok("POST", "/_sandbox/events/deliver-pending", {"wait": True,
                                                                    "timeout_ms": 30000})
            self.sb_ok("POST", "/_sandbox/reset", {})
        except Exception as e:  # noqa: BLE001
            self.notes.append(f"cleanup: sandbox: {e}")

    # --- the summary ------------------------------------------------------------------------

    def summary(self):
        out = []
        out.append(f"== requests by outcome ({len(self.recs)} in all)")
        table = collections.defaultdict(collections.Counter)
        for r in self.recs:
            kind = r.kind + (" (retry)" if r.phase == "retry" else "") + (
                " (setup)" if r.phase == "setup" else "")
            table[kind][r.outcome()] += 1
        for kind in sorted(table):
            c = table[kind]
            out.append(f"  {kind:<22} {sum(c.values()):>6}  " + ", ".join(
                f"{k}: {v}" for k, v in sorted(c.items(), key=lambda kv: -kv[1])))
        keyed = sum(1 for r in self.recs if r.key is not None)
        reps = sum(1 for r in self.recs if r.replay)
        out.append(f"  {keyed} with an Idempotency-Key, {reps} of them repeating an earlier key; "
                   f"webhook re-deliveries by status: {dict(self.redeliveries)}")
        out.append(f"== faults injected ({len(self.faults)})")
        counts = collections.Counter(w for _, w, _ in self.faults)
        for t, what, detail in self.faults:
            if what == "kill -9 worker":
                continue
            out.append(f"  t+{t:5.1f}s  {what}{': ' + detail if detail else ''}")
        out.append(f"  kill -9 of a worker: {counts['kill -9 worker']} times "
                   f"(every 2 s)")
        out.append("== checks")
        for name, ok, detail in self.checks:
            out.append(f"  {'PASS' if ok else 'FAIL'} {name}: {detail}")
        for n in self.notes[:10]:
            out.append(f"  note: {n}")
        return out


def run(seconds, n_orgs=12, seed=None, say=None):
    """One chaos run; returns the Chaos object (its checks, summary()). Raises if the run
    could not be made (the stack down at the start, setup failing)."""
    c = Chaos(seconds, n_orgs, seed, say)
    try:
        c.setup()
        c.chaos()
        c.settle()
        c.run_checks()
    finally:
        c.cleanup()
    return c


def main():
    ap = argparse.ArgumentParser(description="money under faults: see the module docstring")
    ap.add_argument("--seconds", type=float,
                    default=float(os.environ.get("CHAOS_SECONDS") or 60))
    ap.add_argument("--orgs", type=int, default=int(os.environ.get("CHAOS_ORGS") or 12))
    ap.add_argument("--seed", type=int, default=None)
    a = ap.parse_args()
    say = Say()
    c = Chaos(a.seconds, a.orgs, a.seed, say)
    failed = False
    try:
        c.setup()
        c.chaos()
        c.settle()
        c.run_checks()
    except Exception:  # noqa: BLE001
        print("chaos: the run could not be completed:", file=sys.stderr)
        traceback.print_exc()
        failed = None
    finally:
        c.cleanup()
    for line in c.summary():
        print(line, flush=True)
    if failed is None:
        print("chaos: FAILED (the run itself broke off)")
        return 2
    bad = [n for n, ok, _ in c.checks if not ok]
    print(f"chaos: {len(c.checks) - len(bad)} checks passed, {len(bad)} failed"
          + (f" ({', '.join(bad)})" if bad else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
