"""test_hung: a hung database and stalled clients (issue 13, SECURITY.md "Transport and
faults"): mariadbd stopped with SIGSTOP, not killed, makes /v1/health 503 within a second
and data calls 503 well before nginx's 60 s read timeout, and service comes back by
itself after SIGCONT; clients that send a body a byte at a time, or read their answer
slowly, do not stop the workers serving others (nginx buffers both ways)."""

import os
import signal
import socket
import threading
import time

from orgdtest import (expect, expect_eq, main, orgd_master_pid, req, stack_paths, test, url,
                      wait_health)
import urllib.parse

_u = urllib.parse.urlsplit(url)
HOST, PORT = _u.hostname, _u.port
PASSWORD = "hung tests password"


def user_token(tag):
    email = f"{tag}-{os.urandom(5).hex()}@example.test"
    st, _, _, raw = req("POST", "/v1/auth/signup", body={"email": email, "password": PASSWORD,
                                                          "name": tag})
    expect_eq(st, 201, f"signup ({raw[:200]!r})")
    st, _, body, raw = req("POST", "/v1/auth/login", body={"email": email, "password": PASSWORD})
    expect_eq(st, 200, f"login ({raw[:200]!r})")
    return body["token"]


def mariadbd_pid():
    with open(os.path.join(stack_paths()["RUN_DIR"], "mysqld.pid")) as f:
        return int(f.read().strip())


def stopped(pid, timeout=5.0):
    """Whether every thread of pid is stopped (state T) within timeout: SIGSTOP is only
    queued when kill() returns, and a running thread answers a few more requests before it
    stops (seen: four pings answered within 2 ms of the kill)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        states = []
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/stat") as f:
                    states.append(f.read().rsplit(")", 1)[1].split()[0])
        except OSError:
            return False
        if states and all(st in ("T", "t") for st in states):
            return True
        time.sleep(0.005)
    return False


def healthy():
    """Each case starts from a database that answers (the breaker of the last one shut)."""
    expect(wait_health(200, 10), "health not 200 before the case")


def timed(method, path, **kw):
    t0 = time.monotonic()
    st = req(method, path, timeout=70, **kw)[0]
    return st, time.monotonic() - t0


@test
def a_hung_database_is_503_fast_and_heals_after_sigcont():
    healthy()
    token = user_token("hung")
    for _ in range(8):  # every worker holds a live connection now
        expect_eq(req("GET", "/v1/me", token=token)[0], 200, "/v1/me before")
    master = orgd_master_pid()
    pid = mariadbd_pid()
    os.kill(pid, signal.SIGSTOP)
    try:
        expect(stopped(pid), "mariadbd's threads not all stopped within 5 s of SIGSTOP")
        health = [timed("GET", "/v1/health") for _ in range(5)]
        for st, secs in health:
            expect_eq(st, 503, "health with the database hung")
            expect(secs < 1.0, f"health took {secs:.2f} s, more than a second: {health}")
        data = [timed("GET", "/v1/me", token=token) for _ in range(6)]
        for st, secs in data:
            expect_eq(st, 503, "a data call with the database hung")
            expect(secs < 30, f"a data call took {secs:.1f} s: {data}")
        print(f"INFO hung database: health {[round(s, 2) for _, s in health]} s, "
              f"/v1/me {[round(s, 2) for _, s in data]} s")
    finally:
        os.kill(pid, signal.SIGCONT)
    expect(wait_health(200, 10), "health not back within 10 s of SIGCONT")
    for _ in range(8):
        expect_eq(req("GET", "/v1/me", token=token)[0], 200, "/v1/me after SIGCONT")
    expect_eq(orgd_master_pid(), master, "orgd's master after the hang (restarted?)")


def drip(stop, started):
    """One connection that sends its headers, then its body a byte a second."""
    try:
        s = socket.create_connection((HOST, PORT), timeout=30)
    except OSError:
        return
    with s:
        body = b'{"email":"a@b.cd","password":"x"}'
        s.sendall(b"POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n")
        started.release()
        for i in range(len(body)):
            if stop.is_set():
                return
            try:
                s.sendall(body[i:i + 1])
            except OSError:
                return
            stop.wait(1.0)


@test
def fifty_clients_dripping_bodies_do_not_stop_the_workers():
    healthy()
    stop, started = threading.Event(), threading.Semaphore(0)
    threads = [threading.Thread(target=drip, args=(stop, started), daemon=True) for _ in range(50)]
    for t in threads:
        t.start()
    try:
        for _ in range(50):
            started.acquire(timeout=10)
        time.sleep(0.5)
        t0 = time.monotonic()
        answers = [req("GET", "/v1/health", timeout=10)[0] for _ in range(40)]
        secs = time.monotonic() - t0
        expect_eq(answers, [200] * 40, "health while 50 clients drip their bodies")
        print(f"INFO 40 health checks beside 50 dripping clients: {secs:.2f} s")
    finally:
        stop.set()


@test
def a_client_reading_slowly_does_not_pin_a_worker():
    healthy()
    token = user_token("slow")
    socks = []
    try:
        for _ in range(8):  # more slow readers than workers; none reads a byte
            s = socket.create_connection((HOST, PORT), timeout=30)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
            s.sendall(f"GET /v1/auth/jwks.json HTTP/1.1\r\nHost: x\r\n\r\n".encode() * 50)
            socks.append(s)
        time.sleep(0.5)
        answers = [req("GET", "/v1/me", token=token, timeout=10)[0] for _ in range(20)]
        expect_eq(answers, [200] * 20, "requests beside clients that do not read")
    finally:
        for s in socks:
            s.close()


if __name__ == "__main__":
    main()
