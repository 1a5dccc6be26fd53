#!/usr/bin/env python3
"""tests/bench/run.py: the rows of `make bench`, their measurements, the table and the JSON.
scripts/bench starts the stack and the baselines, makes the organizations, then runs this
(see tests/bench/README.md for what each column means).

For every row: a warm-up, then BENCH_RUNS wrk runs; around each run it reads MariaDB's
global counters (SHOW GLOBAL STATUS, through `scripts/stack sql`) and the CPU time
(utime + stime in /proc/<pid>/stat) of mariadbd, of the FastCGI application serving the
row (the orgd workers, or the fcgi-hello baseline's), and of nginx. Each figure of a row
is the median over its runs; ratios are of median req/s.

Environment (set by scripts/bench): BENCH_BASE, BENCH_WORK (wrk scripts), BENCH_OUT (the
JSON), BENCH_ORG_IDS, BENCH_DURATION, BENCH_THREADS, BENCH_CONNS, BENCH_RUNS, BENCH_WARMUP,
BENCH_ONLY, BENCH_WEBHOOK_N, ORGD_WORKERS, BENCH_UPDATE_WORKERS, BENCH_HELLO_PIDS
("mode:pid ..."), and ORGD_VAR / ORGD_HTTP_PORT for scripts/stack.
"""
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import setup  # noqa: E402  (tests/bench/setup.py)

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
STACK = os.path.join(REPO, "scripts", "stack")
TICK = os.sysconf("SC_CLK_TCK")

# MariaDB's counters read around each run. Statements ("round trips") are Questions (every
# statement a client sends, text or prepared: a prepared SELECT counts once there, and
# both in Com_stmt_execute and Com_select) plus the commands Questions leaves out
# (COM_STMT_PREPARE / CLOSE / RESET, COM_PING in Com_admin_commands).
COUNTERS = (
    "Questions", "Com_stmt_prepare", "Com_stmt_close", "Com_stmt_reset", "Com_admin_commands",
    "Com_stmt_execute", "Com_select", "Com_insert", "Com_insert_select", "Com_update",
    "Com_update_multi", "Com_delete", "Com_delete_multi", "Com_replace", "Com_begin",
    "Com_commit", "Com_rollback", "Com_set_option", "Com_do", "Com_show_status",
    "Innodb_data_fsyncs", "Handler_read_key", "Handler_read_next", "Handler_read_rnd_next",
    "Handler_write", "Handler_update", "Handler_delete", "Created_tmp_tables",
    "Select_full_join", "Select_scan", "Sort_rows",
)
ROUND_TRIPS = ("Questions", "Com_stmt_prepare", "Com_stmt_close", "Com_stmt_reset",
               "Com_admin_commands")


def env(name, default):
    v = os.environ.get(name)
    return v if v not in (None, "") else default


def seconds(d):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)?", d)
    if not m:
        raise SystemExit("bench: not a duration: %s" % d)
    return float(m.group(1)) * {"ms": 0.001, "s": 1, None: 1, "m": 60, "h": 3600}[m.group(2)]


DURATION = env("BENCH_DURATION", "10s")
THREADS = int(env("BENCH_THREADS", "2"))
CONNS = int(env("BENCH_CONNS", "32"))
RUNS = int(env("BENCH_RUNS", "3"))
WARMUP = env("BENCH_WARMUP", "1s")
ONLY = [s for s in env("BENCH_ONLY", "").split(",") if s]
BASE = os.environ["BENCH_BASE"]
WORK = os.environ["BENCH_WORK"]
OUT = os.environ["BENCH_OUT"]
WORKERS = int(env("ORGD_WORKERS", "4"))


def sql(query, stdin=None):
    p = subprocess.run([STACK, "sql", "--batch", "--skip-column-names", "-e", query] if stdin
                       is None else [STACK, "sql", "--batch", "--skip-column-names"],
                       input=stdin, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit("bench: sql failed: %s" % p.stderr.strip())
    return p.stdout


def paths():
    out = subprocess.run([STACK, "paths"], capture_output=True, text=True, check=True).stdout
    d = {}
    for line in out.splitlines():
        k, _, v = line.partition("=")
        d[k] = v.strip("'")
    return d


PATHS = paths()
RUN_DIR = os.path.join(PATHS["ORGD_VAR"], "run")


def pidfile(name):
    with open(os.path.join(RUN_DIR, name)) as f:
        return int(f.read().strip())


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def cpu_ticks(pids):
    n = 0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                rest = f.read().rsplit(")", 1)[1].split()
            n += int(rest[11]) + int(rest[12])  # utime, stime (fields 14, 15)
        except (OSError, IndexError, ValueError):
            pass
    return n


def rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


MYSQLD = pidfile("mysqld.pid")
ORGD = pidfile("orgd.pid")
NGINX = pidfile("nginx.pid")
HELLO = {}
for item in env("BENCH_HELLO_PIDS", "").split():
    mode, _, pid = item.partition(":")
    HELLO[mode] = int(pid)


def group(app):
    """The processes whose CPU a row's "app" column counts."""
    if app == "orgd":
        return [ORGD] + children(ORGD)
    if app in HELLO:
        return [HELLO[app]] + children(HELLO[app])
    return []


def counters():
    out = sql("SHOW GLOBAL STATUS WHERE Variable_name IN (%s)"
              % ", ".join("'%s'" % c for c in COUNTERS))
    d = dict.fromkeys(COUNTERS, 0)
    for line in out.splitlines():
        k, _, v = line.partition("\t")
        d[k] = int(v)
    return d


def snapshot(app):
    return {"t": time.monotonic(), "com": counters(), "db": cpu_ticks([MYSQLD]),
            "app": cpu_ticks(group(app)), "nginx": cpu_ticks([NGINX] + children(NGINX))}


# what one read of the counters adds to them (its own SHOW and connection), measured
def calibrate():
    a = counters()
    b = counters()
    c = counters()
    return {k: min(b[k] - a[k], c[k] - b[k]) for k in COUNTERS}


READ_COST = calibrate()


def ms(v):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", v)
    if not m:
        return None
    return float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[m.group(2)]


def wrk(duration, url, script, conns):
    cmd = ["wrk", "-t%d" % THREADS, "-c%d" % conns, "-d%s" % duration, "--latency"]
    if script:
        cmd += ["-s", script]
    p = subprocess.run(cmd + [url], capture_output=True, text=True)
    out = p.stdout + p.stderr
    r = {"rps": 0.0, "requests": 0, "p50_ms": None, "p90_ms": None, "p99_ms": None,
         "errors": 0, "non2xx": 0, "socket_errors": 0}
    for line in out.splitlines():
        f = line.split()
        if line.startswith("Requests/sec:"):
            r["rps"] = float(f[1])
        elif re.match(r"\s*\d+ requests in", line):
            r["requests"] = int(f[0])
        elif f and f[0] in ("50%", "90%", "99%") and len(f) == 2:
            r["p%s_ms" % f[0][:-1]] = ms(f[1])
        elif "Non-2xx or 3xx responses:" in line:
            r["non2xx"] += int(f[-1])
        elif line.strip().startswith("Socket errors:"):
            nums = [int(x) for x in re.findall(r"\d+", line)]
            r["socket_errors"] += sum(nums)
    r["errors"] = r["non2xx"] + r["socket_errors"]
    if p.returncode != 0 or r["requests"] == 0:
        r["wrk_output"] = out[-2000:]
    return r


# what the database does with no request (the mailer polling its outbox every 200 ms,
# housekeeping): per second of each counter, and of mariadbd's CPU; measure() takes it
# off each run's figures
BACKGROUND = {"com": dict.fromkeys(COUNTERS, 0.0), "db": 0.0}


def measure_background(secs=3.0):
    a = snapshot(None)
    time.sleep(secs)
    b = snapshot(None)
    t = b["t"] - a["t"]
    BACKGROUND["com"] = {k: max(0.0, (b["com"][k] - a["com"][k] - READ_COST[k]) / t)
                         for k in COUNTERS}
    BACKGROUND["db"] = (b["db"] - a["db"]) / t
    return {"stmts_per_s": round(sum(BACKGROUND["com"][k] for k in ROUND_TRIPS), 1),
            "commits_per_s": round(BACKGROUND["com"]["Com_commit"], 1),
            "db_cpu_ms_per_s": round(BACKGROUND["db"] * 1000 / TICK, 2)}


def measure(row, duration, script):
    """One wrk run of row, with the counters and CPU around it (less the background)."""
    before = snapshot(row["app"])
    r = wrk(duration, BASE + row["path"], script, row["conns"])
    after = snapshot(row["app"])
    n = max(r["requests"], 1)
    t = after["t"] - before["t"]
    com = {k: after["com"][k] - before["com"][k] - READ_COST[k] - BACKGROUND["com"][k] * t
           for k in COUNTERS}
    r["seconds"] = round(t, 3)
    r["stmts_per_req"] = sum(com[k] for k in ROUND_TRIPS) / n
    r["commits_per_req"] = com["Com_commit"] / n
    r["tmp_tables_per_req"] = com["Created_tmp_tables"] / n
    r["per_req"] = {k: round(v / n, 4) for k, v in com.items() if abs(v / n) >= 0.00005}
    us = 1e6 / TICK / n
    r["db_cpu_us_per_req"] = max(0.0, after["db"] - before["db"] - BACKGROUND["db"] * t) * us
    r["app_cpu_us_per_req"] = (after["app"] - before["app"]) * us if row["app"] else None
    r["nginx_cpu_us_per_req"] = (after["nginx"] - before["nginx"]) * us
    return r


# --- rows ----------------------------------------------------------------------------------

def W(name):
    return os.path.join(WORK, name)


ROWS = [
    # name, path, wrk script, app (whose CPU), what
    ("select", "/bench/select", None, "select",
     "libfcgi responder, one prepared primary-key SELECT of 10,000 rows (the floor)"),
    ("commit", "/bench/update", None, "update",
     "libfcgi responder, one prepared single-row UPDATE + COMMIT, flush=1"),
    ("nginx", "/bench/nginx", None, None, "nginx return 200 alone"),
    ("hello", "/bench/hello", None, "hello", "libfcgi responder, no database"),
    ("health", "/v1/health", None, "orgd", "orgd GET /v1/health"),
    ("me", "/v1/me", W("me.lua"), "orgd", "orgd GET /v1/me"),
    ("dashboard", "/v1/org/dashboard", W("dash.lua"), "orgd", "orgd GET /v1/org/dashboard"),
    ("runs", "/v1/org/runs", W("runs.lua"), "orgd",
     "orgd POST /v1/org/runs over many organizations"),
    ("runs one org", "/v1/org/runs", W("one.lua"), "orgd",
     "orgd POST /v1/org/runs all in one organization"),
    ("webhook", "/v1/webhooks/payments", "webhook", "orgd",
     "orgd POST /v1/webhooks/payments, a signed payment_intent.succeeded for a new "
     "pending purchase each time"),
]
BASELINES = ("select", "commit")


def wanted(name):
    return not ONLY or name in BASELINES or any(s in name for s in ONLY)


ORG_IDS = env("BENCH_ORG_IDS", "").split()
SECRET = open(os.path.join(PATHS["SECRETS_DIR"], "pay_webhook_secret")).read().strip() \
    if ORG_IDS else None
webhook_batches = []


def webhook_script(n):
    """A fresh batch of n pending purchases and their signed events; its wrk script."""
    tag = setup.new_tag()
    q, lua = setup.webhook_batch(WORK, tag, n, ORG_IDS, SECRET, THREADS)
    sql(None, stdin=q)
    webhook_batches.append({"tag": tag, "n": n})
    return lua, tag


def webhook_check(tag, n, r):
    """How many of the batch the run settled; whether it ran past the batch's end."""
    out = sql("SELECT status, COUNT(*) FROM purchases WHERE id LIKE 'pur_bench%s%%'"
              " GROUP BY status" % tag)
    st = dict(line.split("\t") for line in out.splitlines())
    r["webhook_batch"] = n
    r["webhook_settled"] = int(st.get("succeeded", 0))
    r["webhook_exhausted"] = r["requests"] > n


def run_row(name, path, script, app, what, est):
    row = {"name": name, "path": path, "app": app, "what": what, "conns": CONNS}
    print("bench: %-24s" % ("%s (c%d)" % (name, CONNS)), end="", file=sys.stderr, flush=True)
    runs = []
    for i in range(-1 if WARMUP != "0" else 0, RUNS):
        duration = WARMUP if i < 0 else DURATION
        s, tag = script, None
        if script == "webhook":
            # enough new purchases for the run at twice the rate of the commit baseline
            rate = est.get("commit") or 5000.0
            n = int(env("BENCH_WEBHOOK_N", "0")) or max(2000, int(rate * seconds(duration) * 2))
            s, tag = webhook_script(n)
        r = measure(row, duration, s)
        if tag:
            webhook_check(tag, n, r)
        if i < 0:
            continue
        runs.append(r)
        print(" %8.0f" % r["rps"], end="", file=sys.stderr, flush=True)
        if "wrk_output" in r:
            print("\nbench: wrk said:\n" + r["wrk_output"], file=sys.stderr)
    print(file=sys.stderr)
    row["runs"] = runs
    med = {}
    for k in ("rps", "p50_ms", "p90_ms", "p99_ms", "stmts_per_req", "commits_per_req",
              "tmp_tables_per_req",
              "db_cpu_us_per_req", "app_cpu_us_per_req", "nginx_cpu_us_per_req"):
        vals = [r[k] for r in runs if r.get(k) is not None]
        med[k] = statistics.median(vals) if vals else None
    med["errors"] = sum(r["errors"] for r in runs)
    med["requests"] = sum(r["requests"] for r in runs)
    row["median"] = med
    return row


def fmt(v, spec, none="-"):
    if v is None:
        return none
    if isinstance(v, float) and abs(v) < 0.005:
        v = 0.0  # the background taken off leaves a -0.00 now and then
    return format(v, spec)


def main():
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    started = time.time()
    load = os.getloadavg()
    background = measure_background()
    print("bench: wrk -t%d -c%d -d%s --latency, median of %d runs (+%s warm-up); %d workers;"
          " orgd %s; innodb_flush_log_at_trx_commit=1" % (THREADS, CONNS, DURATION, RUNS, WARMUP,
                                                          WORKERS, PATHS["ORGD_BIN"]),
          file=sys.stderr)
    rows, est = [], {}
    for name, path, script, app, what in ROWS:
        if not wanted(name):
            continue
        if script == "webhook" and not ORG_IDS:
            continue
        row = run_row(name, path, script, app, what, est)
        est[name] = row["median"]["rps"]
        rows.append(row)
    sel = est.get("select")
    com = est.get("commit")
    for row in rows:
        rps = row["median"]["rps"]
        row["x_select"] = round(rps / sel, 3) if sel else None
        row["x_commit"] = round(rps / com, 3) if com else None
    rss = {pid: rss_kib(pid) for pid in children(ORGD)}
    rss = {pid: v for pid, v in rss.items() if v is not None}
    out = {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "git": subprocess.run(["git", "-C", REPO, "describe", "--always", "--dirty"],
                              capture_output=True, text=True).stdout.strip(),
        "machine": {"cpus": os.cpu_count(), "kernel": platform.release(),
                    "loadavg_at_start": [round(x, 2) for x in load]},
        "settings": {"wrk_threads": THREADS, "connections": CONNS, "duration": DURATION,
                     "runs": RUNS, "warmup": WARMUP, "workers": WORKERS,
                     "update_workers": int(env("BENCH_UPDATE_WORKERS", str(WORKERS))),
                     "orgs": len(ORG_IDS), "orgd_bin": PATHS["ORGD_BIN"],
                     "innodb_flush_log_at_trx_commit": 1, "clock_tick_hz": TICK},
        "background": background,
        "counter_read_cost": {k: v for k, v in READ_COST.items() if v},
        "rows": rows,
        "worker_rss_kib": sorted(rss.values()),
        "webhook_batches": webhook_batches,
    }
    with open(OUT + ".tmp", "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    os.replace(OUT + ".tmp", OUT)

    print()
    head = ("%-13s %8s %6s %6s %7s %7s %6s %6s %5s %6s %6s %6s %6s"
            % ("row", "req/s", "x sel", "x com", "p50 ms", "p99 ms", "stmts", "commit", "tmp",
               "db us", "app us", "ngx us", "errors"))
    print(head)
    print("-" * len(head))
    for row in rows:
        m = row["median"]
        print("%-13s %8.0f %6s %6s %7s %7s %6s %6s %5s %6s %6s %6s %6d" % (
            row["name"], m["rps"], fmt(row["x_select"], ".2f"), fmt(row["x_commit"], ".2f"),
            fmt(m["p50_ms"], ".2f"), fmt(m["p99_ms"], ".2f"), fmt(m["stmts_per_req"], ".2f"),
            fmt(m["commits_per_req"], ".2f"), fmt(m["tmp_tables_per_req"], ".1f"),
            fmt(m["db_cpu_us_per_req"], ".0f"),
            fmt(m["app_cpu_us_per_req"], ".0f"), fmt(m["nginx_cpu_us_per_req"], ".0f"),
            m["errors"]))
    print()
    print("wrk -t%d -c%d -d%s, median of %d runs; %d workers; MariaDB flush=1; %d cpus, load"
          " %.2f at start; x sel / x com: req/s over select's / commit's" % (
              THREADS, CONNS, DURATION, RUNS, WORKERS, os.cpu_count(), load[0]))
    print("stmts, commit, tmp: MariaDB statements (round trips), COMMITs and implicit temporary"
          " tables per request; db / app / ngx us: CPU microseconds per request of mariadbd /"
          " the FastCGI app / nginx")
    if rss:
        v = sorted(rss.values())
        print("orgd worker RSS after the run: %s MiB (max %.1f)"
              % (" ".join("%.1f" % (x / 1024) for x in v), v[-1] / 1024))
    print("background, taken off every row: %.1f statements/s, %.1f commits/s, %.2f ms MariaDB"
          " CPU/s (measured idle for 3 s)" % (background["stmts_per_s"],
                                              background["commits_per_s"],
                                              background["db_cpu_ms_per_s"]))
    bad = [r["name"] for r in rows if r["median"]["errors"]]
    if bad:
        print("errors in: %s (non-2xx answers or socket errors: see %s)" % (", ".join(bad), OUT))
    for r in rows:
        for run in r["runs"]:
            if run.get("webhook_exhausted"):
                print("webhook: a run sent more requests than its batch held (events repeated);"
                      " set BENCH_WEBHOOK_N higher")
                break
    print("json: %s" % OUT)


if __name__ == "__main__":
    main()
