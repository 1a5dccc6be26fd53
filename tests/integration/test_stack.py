"""test_stack: the local stack itself (nginx, the FastCGI socket, scripts/stack,
scripts/migrate), independent of orgd's routes other than /v1/health. The cases that
stop parts of the stack come last and leave it up again."""

import glob
import os
import socket
import stat
import subprocess
import urllib.parse

from orgdtest import (REPO, SOCKET, URL, VAR, db_query, db_start, db_stop, expect, expect_eq,
                      expect_error, fcgi_call, main, parse_cgi_response, orgd_master_pid, orgd_worker_pids, req,
                      stack, stack_paths, test, wait_gone, wait_health, wait_until)

BIG = b"a" * (70 * 1024)


def part_pids():
    paths = stack_paths()
    pids = {}
    for part, name in (("mariadb", "mysqld.pid"), ("orgd", "orgd.pid"), ("nginx", "nginx.pid")):
        with open(os.path.join(paths["RUN_DIR"], name)) as f:
            pids[part] = int(f.read().strip())
    return pids


def standin():
    """Is orgd the build/fcgi-hello stand-in (which does not check the database)?"""
    return os.path.basename(stack_paths().get("ORGD_BIN", "")) == "fcgi-hello"


@test
def health_answers_200_json():
    st, headers, body, raw = req("GET", "/v1/health")
    expect_eq(st, 200, "status")
    expect(headers.get("Content-Type", "").startswith("application/json"),
           f"Content-Type {headers.get('Content-Type')!r}")
    expect_eq(body, {"status": "ok", "db": "ok"}, "body")
    expect(headers.get("Transfer-Encoding") is None, "chunked: orgd sent no Content-Length")


@test
def server_header_has_no_version():
    st, headers, _, _ = req("GET", "/v1/health")
    expect_eq(headers.get("Server"), "nginx", "Server header")


@test
def outside_v1_is_json_404():
    # "/" is the console (nginx/console/, issue 14; test_console.py checks it)
    for path in ("/nope", "/v1", "/index.html", "/V1/health"):
        expect_error(req("GET", path), 404, "not_found")
    expect_error(req("POST", "/nope", body={}), 404, "not_found")


@test
def nginx_own_errors_are_json():
    expect_error(req("GET", "/v1/" + "a" * 9000), 414, "invalid_request")
    expect_error(req("GET", "/v1/health", headers={"X-Big": "b" * 9000}), 400, "invalid_request")
    expect_error(req("TRACE", "/v1/health"), 405, "method_not_allowed")
    with socket.create_connection((_host(), _port()), timeout=5) as s:
        s.sendall(b"GARBAGE\r\n\r\n")
        data = b""
        while True:
            got = s.recv(4096)
            if not got:
                break
            data += got
    status, headers, body, raw = parse_cgi_response(data.split(b"\r\n", 1)[1])
    expect(data.startswith(b"HTTP/1.1 400 "), f"answer to garbage: {data[:100]!r}")
    expect_eq(headers.get("content-type"), "application/json", "Content-Type")
    expect(isinstance(body, dict) and body.get("error", {}).get("code") == "invalid_request",
           f"body {raw!r}")


def _host():
    return urllib.parse.urlsplit(URL).hostname


def _port():
    return urllib.parse.urlsplit(URL).port or 80


@test
def body_over_64k_is_json_413():
    for method, path in (("POST", "/v1/anything"), ("PUT", "/v1/org/plan"),
                         ("POST", "/v1/auth/signup")):
        expect_error(req(method, path, raw=BIG), 413, "payload_too_large")


@test
def body_of_64k_passes_nginx():
    st, _, _, raw = req("POST", "/v1/anything", raw=b"a" * (64 * 1024))
    expect(st != 413, f"64 KiB refused by nginx: {st} {raw[:200]!r}")


@test
def webhook_takes_up_to_256k():
    st, _, _, raw = req("POST", "/v1/webhooks/payments", raw=BIG)
    expect(st != 413, f"70 KiB webhook refused: {st} {raw[:200]!r}")
    expect_error(req("POST", "/v1/webhooks/payments", raw=b"a" * (300 * 1024)), 413,
                 "payload_too_large")


@test
def fastcgi_socket_is_private():
    st = os.stat(SOCKET)
    expect(stat.S_ISSOCK(st.st_mode), f"{SOCKET} is not a socket")
    expect_eq(stat.S_IMODE(st.st_mode) & 0o077, 0, f"group/other bits of {oct(st.st_mode)}")
    if os.geteuid() == 0:
        import pwd
        expect_eq(st.st_uid, pwd.getpwnam("nobody").pw_uid, "socket owner (nginx's workers)")


@test
def fastcgi_socket_answers_directly():
    st, headers, body, raw = fcgi_call("GET", "/v1/health")
    expect_eq(st, 200, f"status ({raw[:200]!r})")
    expect_eq(body, {"status": "ok", "db": "ok"}, "body")
    expect("content-length" in headers, f"no Content-Length in {headers}")


@test
def workers_as_configured():
    want = int(os.environ.get("ORGD_WORKERS") or min(8 * os.cpu_count(), 64))
    got = wait_until(lambda: len(orgd_worker_pids()) == want, 10)
    expect(got, f"{len(orgd_worker_pids())} workers, want {want}")


@test
def secrets_and_keys_are_private():
    paths = stack_paths()
    sdir = paths["SECRETS_DIR"]
    expect_eq(stat.S_IMODE(os.stat(sdir).st_mode), 0o700, "secrets dir mode")
    secrets = []
    for name in ("db_password", "cron_secret"):
        f = os.path.join(sdir, name)
        expect_eq(stat.S_IMODE(os.stat(f).st_mode), 0o600, f"{name} mode")
        with open(f) as fh:
            secrets.append(fh.read().strip())
        expect(len(secrets[-1]) >= 32, f"{name} is short")
    kdir = paths["KEY_DIR"]
    expect_eq(stat.S_IMODE(os.stat(kdir).st_mode), 0o700, "key dir mode")
    pems = glob.glob(os.path.join(kdir, "*.pem"))
    expect(len(pems) >= 1, "no key generated")
    for pem in pems:
        expect_eq(stat.S_IMODE(os.stat(pem).st_mode), 0o600, f"{pem} mode")
        p = subprocess.run(["openssl", "pkey", "-in", pem, "-noout", "-text"],
                           capture_output=True, text=True)
        expect(p.returncode == 0 and "ED25519" in p.stdout, f"{pem} is not an Ed25519 key")
    # nothing the stack prints, nor its logs, shows a secret
    _, up = stack("up")
    _, status = stack("status")
    text = up + status
    for log in glob.glob(os.path.join(paths["LOG_DIR"], "*")):
        with open(log, errors="replace") as fh:
            text += fh.read()
    for s in secrets:
        expect(s not in text, "a secret appears in the stack's output or logs")


@test
def up_twice_changes_nothing():
    before = part_pids()
    workers = sorted(orgd_worker_pids())
    _, out = stack("up")
    expect_eq(out.count("already running"), 3, f"'already running' lines in: {out}")
    expect_eq(part_pids(), before, "pids after a second up")
    expect_eq(sorted(orgd_worker_pids()), workers, "worker pids after a second up")


@test
def migrate_twice_applies_nothing():
    files = glob.glob(os.path.join(REPO, "schema", "[0-9]*.sql"))
    rows = db_query("SELECT version, name FROM schema_migrations ORDER BY version")
    expect_eq(len(rows), len(files), "recorded migrations")
    expect_eq(rows[0], ["1", "init"], "the first migration")
    for _ in range(2):
        p = subprocess.run([os.path.join(REPO, "scripts", "migrate")],
                           env=dict(os.environ, ORGD_VAR=VAR), capture_output=True, text=True)
        expect_eq(p.returncode, 0, f"migrate exit status ({p.stderr.strip()})")
        expect("up to date" in p.stdout and "applying" not in p.stdout, f"migrate said: {p.stdout}")
    expect_eq(db_query("SELECT version, name FROM schema_migrations ORDER BY version"), rows,
              "schema_migrations after migrating twice")


@test
def orgd_stopped_is_json_502_and_up_restarts_it():
    master = orgd_master_pid()
    expect(master, "no orgd master")
    try:
        os.kill(master, 15)
        expect(wait_gone(master, 20), "orgd did not exit within 20 s of SIGTERM")
        expect_error(req("GET", "/v1/health"), 502, "unavailable")
    finally:
        _, out = stack("up")
    expect("orgd: started" in out, f"up did not restart orgd: {out}")
    expect(orgd_master_pid() not in (None, master), "no new orgd master")
    expect(wait_health(200, 15), "no 200 from /v1/health after up")


@test
def db_stop_and_start():
    try:
        db_stop()
        _, out = stack("status", check=False)
        expect("mariadb  stopped" in out, f"status after db_stop: {out}")
        if not standin():
            expect(wait_health(503, 10), "/v1/health is not 503 with the database down")
    finally:
        db_start()
    expect(wait_health(200, 15), "/v1/health did not come back within 15 s of db_start")


@test
def down_then_up_keeps_data():
    db_query("CREATE TABLE IF NOT EXISTS stack_scratch (id INT PRIMARY KEY, note TEXT)")
    db_query("REPLACE INTO stack_scratch VALUES (1, 'kept')")
    try:
        stack("down")
        _, out = stack("status", check=False)
        for part in ("mariadb", "orgd", "nginx"):
            expect(f"{part:<8} stopped" in out, f"{part} still runs after down: {out}")
    finally:
        stack("up")
    expect_eq(db_query("SELECT note FROM stack_scratch WHERE id = 1"), [["kept"]], "the row")
    db_query("DROP TABLE stack_scratch")
    expect(wait_health(200, 5), "no 200 from /v1/health after up")


if __name__ == "__main__":
    main()
