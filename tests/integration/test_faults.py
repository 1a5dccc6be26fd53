"""test_faults: orgd's processes under faults (issue 2, acceptance 4 to 7; SECURITY.md
"Transport and faults"): a worker killed under load is replaced at once; the database
stopped and started under load gives 503 then recovers without a restart of orgd; SIGTERM
lets a request in flight finish, then everything exits 0; a PARAMS record with the lengths
of CVE-2025-23016 kills at most one worker, which is replaced.

Every case leaves the stack running and healthy, also when it fails."""

import json
import os
import signal
import socket
import struct
import threading
import time
import uuid

from orgdtest import (FCGI_END_REQUEST, FCGI_PARAMS, FCGI_STDIN, FCGI_STDOUT, SOCKET, Failure,
                      alive, db_query, db_start, db_stop, expect, expect_eq, fcgi_begin, fcgi_call,
                      fcgi_exchange, fcgi_params, fcgi_record, main, orgd_master_pid,
                      orgd_worker_pids, parse_cgi_response, req, stack, stack_paths, test,
                      wait_gone, wait_health, wait_until)

PASSWORD = "correct horse battery"
WANT_WORKERS = int(os.environ.get("ORGD_WORKERS") or min(8 * os.cpu_count(), 64))


# --- helpers -----------------------------------------------------------------------------------

def uniq_email(tag):
    return f"ft-{tag}-{uuid.uuid4().hex[:12]}@example.com"


def signup_body(email):
    return {"email": email, "password": PASSWORD, "name": "Fault Test"}


def sign_in(tag):
    email = uniq_email(tag)
    st, _, body, raw = req("POST", "/v1/auth/signup", body=signup_body(email))
    expect(st == 201, f"signup: {st} {raw[:300]!r}")
    st, _, body2, raw = req("POST", "/v1/auth/login", body={"email": email, "password": PASSWORD})
    expect(st == 200, f"login: {st} {raw[:300]!r}")
    return body["user"], body2["token"]


def expect_exact_error(resp, status, code, what):
    st, headers, body, raw = resp
    expect(st == status, f"{what}: status {st}, want {status}: {raw[:300]!r}")
    ctype = headers.get("Content-Type") or headers.get("content-type") or ""
    expect(ctype.split(";")[0].strip() == "application/json",
           f"{what}: Content-Type {ctype!r}, want application/json")
    expect(isinstance(body, dict) and list(body.keys()) == ["error"]
           and isinstance(body["error"], dict), f"{what}: not an error body: {raw[:300]!r}")
    expect({"code", "message"} <= set(body["error"]) <= {"code", "message", "field"},
           f"{what}: error keys {sorted(body['error'])}")
    expect_eq(body["error"]["code"], code, f"{what}: error code")


def log_file():
    return os.path.join(stack_paths()["LOG_DIR"], "orgd.log")


def log_size():
    try:
        return os.path.getsize(log_file())
    except OSError:
        return 0


def log_since(offset):
    """orgd's log written since offset (bytes)."""
    with open(log_file(), "rb") as f:
        f.seek(offset)
        return f.read().decode("utf-8", "replace")


def workers_settled(master):
    """The worker pids once the master has WANT_WORKERS of them (None on timeout)."""
    got = wait_until(lambda: (orgd_master_pid() == master
                              and len(orgd_worker_pids()) == WANT_WORKERS), 5)
    return sorted(orgd_worker_pids()) if got else None


def restore_stack():
    """Whatever a case did: the database up, orgd up, health 200, all workers there."""
    try:
        db_start()
    except Failure:
        pass
    if orgd_master_pid() is None:
        stack("up")
    else:
        stack("up", check=False)
    wait_health(200, 20)
    wait_until(lambda: len(orgd_worker_pids()) == WANT_WORKERS, 10)


class Load:
    """threads threads looping GET /v1/health and a signed-in GET /v1/me until finish()
    (or seconds_max, a hard bound). Records (t_start, t_end, what, status, body, raw)."""

    def __init__(self, threads, token, seconds_max=25.0):
        self.token = token
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.records = []
        self.deadline = time.monotonic() + seconds_max
        self.threads = [threading.Thread(target=self._loop, args=(i,), daemon=True)
                        for i in range(threads)]

    def _loop(self, i):
        k = i
        while not self.stop.is_set() and time.monotonic() < self.deadline:
            what = "health" if k % 2 == 0 else "me"
            k += 1
            t0 = time.monotonic()
            try:
                if what == "health":
                    st, _, body, raw = req("GET", "/v1/health", timeout=10)
                else:
                    st, _, body, raw = req("GET", "/v1/me", token=self.token, timeout=10)
            except OSError as e:  # a cut connection counts as a failed request
                st, body, raw = None, None, repr(e).encode()
            with self.lock:
                self.records.append((t0, time.monotonic(), what, st, body, raw))

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=15)
        with self.lock:
            return list(self.records)


def describe(rec):
    t0, t1, what, st, body, raw = rec
    return f"{what} {st} {raw[:120]!r}"


# --- (a) kill -9 of a worker under load ---------------------------------------------------------

@test
def killed_worker_is_replaced_within_1s_and_only_its_request_fails():
    master = orgd_master_pid()
    expect(master, "no orgd master")
    try:
        before = workers_settled(master)
        expect(before, f"{len(orgd_worker_pids())} workers before, want {WANT_WORKERS}")
        user, token = sign_in("kill")
        offset = log_size()
        load = Load(8, token).start()
        try:
            time.sleep(0.8)
            victim = before[0]
            t_kill = time.monotonic()
            os.kill(victim, signal.SIGKILL)
            fresh = wait_until(lambda: sorted(set(orgd_worker_pids()) - set(before)), 1.0, 0.01)
            t_new = time.monotonic()
            expect(fresh, f"no new worker within 1 s of kill -9 {victim}")
            expect(wait_gone(victim, 2), f"killed worker {victim} still alive")
            after = workers_settled(master)
            expect(after, f"{len(orgd_worker_pids())} workers after the kill, "
                          f"want {WANT_WORKERS}")
            expect_eq(sorted(set(before) - set(after)), [victim], "workers gone (only the victim)")
            expect_eq(len(set(after) - set(before)), 1, "new workers")
            time.sleep(1.5)  # more load, served with the replacement in the pool
        finally:
            records = load.finish()
        expect_eq(orgd_master_pid(), master, "master pid (orgd restarted?)")
        failures = [r for r in records if r[3] != 200]
        late = [r for r in failures if r[0] >= t_new]
        expect(not late, f"{len(late)} requests started after the replacement failed: "
                         f"{[describe(r) for r in late[:5]]}")
        expect(len(failures) <= 2, f"{len(failures)} requests failed around the kill (only the "
                                   f"victim's in-flight one may): "
                                   f"{[describe(r) for r in failures[:5]]}")
        for r in failures:
            expect(r[0] < t_kill + 0.05, f"a request started after the kill failed: {describe(r)}")
        after_ok = [r for r in records if r[0] >= t_new]
        expect(len([r for r in after_ok if r[2] == "me"]) >= 10 and
               len([r for r in after_ok if r[2] == "health"]) >= 10,
               f"too little load after the replacement ({len(after_ok)} requests)")
        for r in after_ok:
            if r[2] == "me":
                expect_eq(r[4]["user"]["id"], user["id"], "user of /v1/me under load")
        log = log_since(offset)
        expect(f'msg="worker died" worker={victim} signal=9' in log,
               f"no 'worker died ... signal=9' line for {victim} in orgd's log")
    finally:
        restore_stack()


# --- (b) the database stopped and started under load --------------------------------------------

@test
def database_down_is_503_without_worker_exits_and_recovers_without_restart():
    master = orgd_master_pid()
    expect(master, "no orgd master")
    stopped = False
    try:
        before = workers_settled(master)
        expect(before, f"{len(orgd_worker_pids())} workers before, want {WANT_WORKERS}")
        user, token = sign_in("db")
        offset = log_size()
        load = Load(4, token).start()
        try:
            time.sleep(0.5)
            db_stop()
            stopped = True
            t_down = time.monotonic()
            # health: 503 {"status":"degraded","db":"down"} (bounded wait for the first one)
            got = wait_until(lambda: req("GET", "/v1/health", timeout=5)[0] == 503, 5, 0.05)
            expect(got, "/v1/health is not 503 within 5 s of stopping the database")
            st, headers, body, raw = req("GET", "/v1/health")
            expect_eq(st, 503, "health status with the database down")
            expect_eq(body, {"status": "degraded", "db": "down"}, "health body")
            expect((headers.get("Content-Type") or "").startswith("application/json"),
                   f"health Content-Type {headers.get('Content-Type')!r}")
            st, _, body, raw = fcgi_call("GET", "/v1/health")
            expect_eq((st, body), (503, {"status": "degraded", "db": "down"}),
                      "health on the socket")
            # data calls: 503 unavailable, on every worker (repeat to reach them all)
            for i in range(2 * WANT_WORKERS):
                expect_exact_error(req("GET", "/v1/me", token=token), 503, "unavailable",
                                   f"GET /v1/me #{i} with the database down")
            expect_exact_error(req("POST", "/v1/auth/signup", body=signup_body(uniq_email("dd"))),
                               503, "unavailable", "signup with the database down")
            expect_exact_error(req("POST", "/v1/auth/login",
                                   body={"email": user["email"], "password": PASSWORD}),
                               503, "unavailable", "login with the database down")
            time.sleep(1.0)  # the load keeps hitting the dead database
            expect_eq(orgd_master_pid(), master, "master pid with the database down")
            expect_eq(sorted(orgd_worker_pids()), before, "worker pids with the database down")
            t_start = time.monotonic()
            db_start()
            stopped = False
            ok = wait_until(lambda: req("GET", "/v1/health", timeout=3)[0] == 200, 5, 0.05)
            expect(ok, "/v1/health not 200 within 5 s of starting the database")
            me = wait_until(lambda: req("GET", "/v1/me", token=token, timeout=3)[0] == 200,
                            max(0.1, 5 - (time.monotonic() - t_start)), 0.05)
            expect(me, "GET /v1/me not 200 within 5 s of starting the database")
            t_back = time.monotonic()
            time.sleep(1.0)  # load on the recovered service
        finally:
            records = load.finish()
        # after recovery: data calls work, on every worker, with the same orgd
        for i in range(2 * WANT_WORKERS):
            st, _, body, raw = req("GET", "/v1/me", token=token)
            expect(st == 200, f"GET /v1/me #{i} after recovery: {st} {raw[:200]!r}")
            expect_eq(body["user"]["id"], user["id"], "user after recovery")
        email = uniq_email("db-back")
        st, _, body, raw = req("POST", "/v1/auth/signup", body=signup_body(email))
        expect(st == 201, f"signup after recovery: {st} {raw[:200]!r}")
        expect_eq(orgd_master_pid(), master, "master pid after recovery (orgd restarted?)")
        expect_eq(sorted(orgd_worker_pids()), before, "worker pids after recovery")
        # the load saw only 200 or a proper 503, never a dead worker's 502 or a 500
        for r in records:
            t0, t1, what, st, body, raw = r
            expect(st in (200, 503), f"under load: {describe(r)}")
            if st == 503:
                if what == "health":
                    expect_eq(body, {"status": "degraded", "db": "down"}, "health 503 body")
                else:
                    expect(isinstance(body, dict) and body.get("error", {}).get("code")
                           == "unavailable", f"/v1/me 503 under load: {describe(r)}")
        down = [r for r in records if r[0] >= t_down and r[1] <= t_start]
        expect(down and all(r[3] == 503 for r in down),
               f"{len(down)} requests while the database was down, not all 503: "
               f"{[describe(r) for r in down if r[3] != 503][:5]}")
        back = [r for r in records if r[0] >= t_back]
        bad = [r for r in back if r[3] != 200]
        expect(not bad, f"after recovery: {[describe(r) for r in bad[:5]]}")
        log = log_since(offset)
        expect('msg="worker died"' not in log and 'msg="worker exited"' not in log,
               "a worker exited while the database was down (see orgd's log)")
    finally:
        if stopped:
            try:
                db_start()
            except Failure:
                pass
        restore_stack()


@test
def connections_left_dead_by_a_database_restart_are_replaced_without_a_503():
    """Every worker holds a connection; the database restarts while orgd is idle, so each
    of those connections is dead. The next requests must all succeed: a read that finds
    its connection lost reconnects and runs again, instead of answering 503."""
    master = orgd_master_pid()
    expect(master, "no orgd master")
    stopped = False
    try:
        user, token = sign_in("restart")
        for i in range(4 * WANT_WORKERS):  # give every worker a live connection
            st, _, _, raw = req("GET", "/v1/me", token=token)
            expect(st == 200, f"warm-up /v1/me #{i}: {st} {raw[:200]!r}")
        db_stop()
        stopped = True
        db_start()
        stopped = False
        # the database answers again (asked directly, not through orgd)
        expect(wait_until(lambda: _db_answers(), 10, 0.1), "the database did not come back")
        for i in range(2 * WANT_WORKERS):
            st, _, body, raw = req("GET", "/v1/me", token=token)
            expect(st == 200, f"/v1/me #{i} after the restart: {st} {raw[:200]!r}")
            expect_eq(body["user"]["id"], user["id"], "user after the restart")
        expect_eq(orgd_master_pid(), master, "master pid (orgd restarted?)")
    finally:
        if stopped:
            try:
                db_start()
            except Failure:
                pass
        restore_stack()


def _db_answers():
    try:
        return db_query("SELECT 1") == [["1"]]
    except Exception:
        return False


# --- (c) SIGTERM with a request in flight -------------------------------------------------------

def signup_params(length):
    return {
        "REQUEST_METHOD": "POST", "REQUEST_URI": "/v1/auth/signup",
        "DOCUMENT_URI": "/v1/auth/signup", "SCRIPT_NAME": "/v1/auth/signup", "QUERY_STRING": "",
        "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(length),
        "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "40000", "SERVER_PROTOCOL": "HTTP/1.1",
        "SERVER_NAME": "localhost", "SERVER_PORT": "80", "GATEWAY_INTERFACE": "CGI/1.1",
        "HTTP_HOST": "localhost",
    }


def read_records(sock, timeout):
    """Reads FastCGI records until the peer closes or timeout; returns (records, closed)."""
    buf = b""
    deadline = time.monotonic() + timeout
    closed = False
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        sock.settimeout(left)
        try:
            got = sock.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            closed = True
            break
        if not got:
            closed = True
            break
        buf += got
    records = []
    i = 0
    while i + 8 <= len(buf):
        _v, rtype, rid, clen, plen, _r = struct.unpack(">BBHHBB", buf[i:i + 8])
        records.append((rtype, rid, buf[i + 8:i + 8 + clen]))
        i += 8 + clen + plen
    return records, closed


@test
def sigterm_lets_the_request_in_flight_finish_then_all_exit_0():
    master = orgd_master_pid()
    expect(master, "no orgd master")
    workers = workers_settled(master)
    expect(workers, f"{len(orgd_worker_pids())} workers before, want {WANT_WORKERS}")
    email = uniq_email("term")
    body = json.dumps(signup_body(email)).encode()
    half = len(body) // 2
    offset = log_size()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    termed = False
    try:
        sock.settimeout(5)
        sock.connect(SOCKET)
        sock.sendall(fcgi_begin() + fcgi_params(signup_params(len(body)))
                     + fcgi_record(FCGI_STDIN, body[:half]))
        time.sleep(0.3)  # a worker has taken the request and waits for the rest of the body
        os.kill(master, signal.SIGTERM)
        termed = True
        time.sleep(0.5)
        expect(alive(master), "the master exited while a request was in flight")
        expect(any(alive(w) for w in workers), "every worker exited while a request was in flight")
        sock.sendall(fcgi_record(FCGI_STDIN, body[half:]) + fcgi_record(FCGI_STDIN, b""))
        records, closed = read_records(sock, 10)
        ends = [c for t, _, c in records if t == FCGI_END_REQUEST]
        out = b"".join(c for t, _, c in records if t == FCGI_STDOUT)
        expect(ends, f"the request in flight got no END_REQUEST (cut?): {out[:200]!r}")
        expect_eq(ends[0][4], 0, "END_REQUEST protocolStatus (0: request complete)")
        status, headers, got, raw = parse_cgi_response(out)
        expect(status == 201, f"the request in flight: {status} {raw[:300]!r}")
        expect_eq(got["user"]["email"], email, "the account the request created")
        expect_eq(int(headers.get("content-length", "-1")), len(raw), "Content-Length vs body")
        # then everything exits, cleanly
        expect(wait_gone(master, 15), "the master did not exit within 15 s of the request ending")
        for w in workers:
            expect(wait_gone(w, 5), f"worker {w} still runs after the master exited")
        log = log_since(offset)
        expect(f'pid={master} msg="orgd stopped"' in log,
               "the master did not log msg=\"orgd stopped\" (its exit-0 path)")
        expect('msg="worker died"' not in log, "a worker was killed by a signal during the stop")
        expect('msg="worker exited"' not in log,
               "a worker exited with a non-zero status during the stop")
        for line in log.splitlines():
            expect("level=error" not in line, f"an error during the stop: {line}")
    finally:
        sock.close()
        if termed and alive(master) and not wait_gone(master, 10):
            stack("down", check=False)
        restore_stack()
    st, _, _, raw = req("GET", "/v1/health")
    expect(st == 200, f"health after restarting orgd: {st} {raw[:200]!r}")
    st, _, _, raw = req("POST", "/v1/auth/login", body={"email": email, "password": PASSWORD})
    expect(st == 200, f"the account created during the stop cannot log in: {st} {raw[:200]!r}")


# --- (d) CVE-2025-23016: PARAMS lengths ff ff ff fe ------------------------------------------------

@test
def params_lengths_fffffffe_kill_at_most_one_worker_which_is_replaced():
    master = orgd_master_pid()
    expect(master, "no orgd master")
    try:
        offset = log_size()
        crafted = (fcgi_begin()
                   + fcgi_record(FCGI_PARAMS, b"\xff\xff\xff\xfe\xff\xff\xff\xfe" + b"A" * 56)
                   + fcgi_record(FCGI_PARAMS, b""))
        died_all = []
        for attempt in range(3):
            before = workers_settled(master)
            expect(before, f"attempt {attempt}: {len(orgd_worker_pids())} workers, "
                           f"want {WANT_WORKERS}")
            records, _ = fcgi_exchange(crafted, timeout=3.0)
            out = b"".join(c for t, _, c in records if t == FCGI_STDOUT)
            expect(b"Status: 200" not in out, f"the crafted request was served: {out[:200]!r}")
            after = workers_settled(master)
            expect(after, f"attempt {attempt}: worker count not back to {WANT_WORKERS} "
                          f"({len(orgd_worker_pids())})")
            died = sorted(set(before) - set(after))
            expect(len(died) <= 1, f"attempt {attempt}: workers {died} died, at most one may")
            expect_eq(len(set(after) - set(before)), len(died), "replacements")
            died_all += died
            expect_eq(orgd_master_pid(), master, "master pid")
            # the service keeps answering, through nginx and on the socket
            for i in range(2 * WANT_WORKERS):
                st, _, body, raw = req("GET", "/v1/health")
                expect(st == 200, f"attempt {attempt}: health #{i}: {st} {raw[:200]!r}")
                expect_eq(body, {"status": "ok", "db": "ok"}, "health body")
            st, _, _, raw = fcgi_call("GET", "/v1/health")
            expect(st == 200, f"attempt {attempt}: health on the socket: {st} {raw[:200]!r}")
        log = log_since(offset)
        for pid in died_all:
            expect(f'msg="worker died" worker={pid} ' in log or
                   f'msg="worker exited" worker={pid} ' in log,
                   f"the master did not log the death of worker {pid}")
        user, token = sign_in("cve")
        st, _, body, raw = req("GET", "/v1/me", token=token)
        expect(st == 200 and body["user"]["id"] == user["id"], f"GET /v1/me: {st} {raw[:200]!r}")
    finally:
        restore_stack()


if __name__ == "__main__":
    main()
