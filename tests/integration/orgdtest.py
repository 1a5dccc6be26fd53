"""orgdtest: the integration tests' small library (python3 standard library, and Debian's
python3-jsonschema and python3-yaml for the answers' validation).

A test file registers its cases with @test and ends with main():

    from orgdtest import test, main, req, expect
    @test
    def health_is_ok():
        status, headers, body, raw = req("GET", "/v1/health")
        expect(status == 200, f"status {status}")
    if __name__ == "__main__":
        main()

main() runs every case in the order written (or those named on the command line) and
prints "PASS <file>::<name>" or "FAIL <file>::<name>: <reason>" for each; scripts/test
counts those lines. The environment comes from scripts/test: ORGD_TEST_URL (nginx),
ORGD_TEST_SOCKET (orgd's FastCGI socket), ORGD_VAR (the test stack), ORGD_REPO.

What is here:
- HTTP through nginx: req(), url. Every answer req() receives is validated against
  schema/openapi.yaml (tests/openapi/validate.py: the operation by method and path, the
  response by status, its JSON body by the response's schema); one that does not validate
  fails the test that received it. main() prints "INFO openapi: N responses validated"
  at the end (scripts/test adds them up). The validator needs Debian's python3-jsonschema
  and python3-yaml: scripts/test runs the tests with /usr/bin/python3, and a test file
  started by another python3 without them runs itself again under /usr/bin/python3.
  ORGD_OPENAPI_VALIDATE=0 turns the validation off, ORGD_OPENAPI_DOC names another
  document (both to debug; scripts/test sets neither).
- Raw FastCGI to orgd's socket: fcgi_record(), fcgi_nv(), fcgi_params(),
  fcgi_request(), fcgi_exchange(), fcgi_call().
- Concurrency: concurrently().
- Processes: orgd_master_pid(), orgd_worker_pids(), alive(), wait_until(), wait_gone().
- The stack: stack(), stack_paths(), db_stop(), db_start(), db_query(), wait_health().
- Identity: mail_dir(), verify_email(), accept_invitation() (through the stack's SMTP
  sink: a message is read from its Maildir, as a user would read it).
"""

import http.client
import json
import os
import random
import shlex
import signal
import socket
import string
import struct
import subprocess
import sys
import threading
import time
import traceback
import urllib.parse
from concurrent.futures import ThreadPoolExecutor


def _run_under_debian_python():
    """The answers' validation needs Debian's python3-jsonschema and python3-yaml, modules
    of Debian's /usr/bin/python3 (another python3 may come first on PATH): a test file run
    by another interpreter that lacks them runs itself again under /usr/bin/python3."""
    if os.environ.get("ORGD_OPENAPI_VALIDATE", "1") == "0" or os.environ.get("ORGD_PYTHON_REEXEC"):
        return
    try:
        import jsonschema  # noqa: F401
        import yaml  # noqa: F401
        return
    except ImportError:
        pass
    debian = "/usr/bin/python3"
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    if (not main_file or not os.access(debian, os.X_OK)
            or os.path.realpath(sys.executable) == os.path.realpath(debian)):
        return  # the first req() says what is missing
    os.environ["ORGD_PYTHON_REEXEC"] = "1"
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(debian, [debian, os.path.abspath(main_file)] + sys.argv[1:])


_run_under_debian_python()

REPO = os.environ.get("ORGD_REPO") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
URL = os.environ.get("ORGD_TEST_URL", "http://127.0.0.1:18080")
VAR = os.environ.get("ORGD_VAR", os.path.join(REPO, "var", "test"))
SOCKET = os.environ.get("ORGD_TEST_SOCKET", os.path.join(VAR, "run", "orgd.sock"))
url = URL

_parsed = urllib.parse.urlsplit(URL)
_HOST, _PORT = _parsed.hostname or "127.0.0.1", _parsed.port or 80


# --- assertions -------------------------------------------------------------------------

class Failure(AssertionError):
    """A test's own verdict (reported without a traceback)."""


def expect(cond, reason="expectation failed"):
    """Fails the running test with reason unless cond holds."""
    if not cond:
        raise Failure(reason)


def expect_eq(got, want, what="value"):
    """Fails the running test unless got == want."""
    if got != want:
        raise Failure(f"{what}: got {got!r}, want {want!r}")


def expect_status(resp, status, what):
    """Fails unless resp (a req() result) has that status; returns its JSON body."""
    st, _, body, raw = resp
    expect(st == status, f"{what}: status {st}, want {status}: {raw[:300]!r}")
    return body


def rnd(n=10):
    """n random lowercase letters and digits (names, emails and keys unique to a case)."""
    return "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(n))


def expect_error(resp, status, code):
    """Fails unless resp (a req() result) is an API error with that status and code."""
    st, headers, body, raw = resp
    expect(st == status, f"status {st}, want {status}: {raw[:300]!r}")
    ctype = headers.get("Content-Type", "")
    expect(ctype.startswith("application/json"), f"Content-Type {ctype!r}, want application/json")
    expect(isinstance(body, dict) and isinstance(body.get("error"), dict),
           f"no error object: {raw[:300]!r}")
    expect(body["error"].get("code") == code, f"error code {body['error'].get('code')!r}, want {code!r}")


# --- HTTP through nginx --------------------------------------------------------------------

def req(method, path, body=None, headers=None, token=None, raw=None,
        content_type="application/json", timeout=30):
    """One HTTP request to ORGD_TEST_URL on a fresh connection.

    body is sent as JSON; raw (bytes or str) is sent as is instead. content_type is
    sent with any body (None: no Content-Type header). token: Authorization: Bearer.
    Returns (status, headers, parsed JSON or None, raw body bytes); headers is an
    http.client.HTTPMessage (case-insensitive .get()).
    """
    hdrs = {}
    data = None
    if raw is not None:
        data = raw.encode() if isinstance(raw, str) else raw
    elif body is not None:
        data = json.dumps(body).encode()
    if data is not None and content_type is not None:
        hdrs["Content-Type"] = content_type
    if token is not None:
        hdrs["Authorization"] = f"Bearer {token}"
    hdrs.update(headers or {})
    conn = http.client.HTTPConnection(_HOST, _PORT, timeout=timeout)
    try:
        try:
            conn.request(method, path, body=data, headers=hdrs)
        except (BrokenPipeError, ConnectionResetError):
            pass  # nginx may answer (413) and close before the whole body is sent
        resp = conn.getresponse()
        rawbody = resp.read()
    finally:
        conn.close()
    openapi_check(method, path, resp.status, resp.headers, rawbody)
    return resp.status, resp.headers, _json_or_none(rawbody), rawbody


# --- every answer against schema/openapi.yaml ----------------------------------------------

_openapi = {"doc": None, "error": None, "validated": 0, "outside": 0, "violations": []}
_openapi_lock = threading.Lock()
OPENAPI_VALIDATE = os.environ.get("ORGD_OPENAPI_VALIDATE", "1") != "0"  # 0: off, to debug
# another document to validate against (to debug one; scripts/test never sets it)
OPENAPI_DOC = os.environ.get("ORGD_OPENAPI_DOC") or os.path.join(REPO, "schema", "openapi.yaml")


def _openapi_doc():
    """The loaded schema/openapi.yaml (once), or raises Failure saying why it cannot be."""
    with _openapi_lock:
        if _openapi["doc"] is None and _openapi["error"] is None:
            try:
                sys.path.insert(0, os.path.join(REPO, "tests", "openapi"))
                import validate  # tests/openapi/validate.py
                _openapi["doc"] = validate.Document(OPENAPI_DOC)
            except Exception as e:  # noqa: BLE001 - every test fails, saying why
                _openapi["error"] = f"openapi: cannot validate answers: {type(e).__name__}: {e}"
        if _openapi["error"]:
            raise Failure(_openapi["error"])
        return _openapi["doc"]


def openapi_check(method, path, status, headers, rawbody):
    """Validates one answer against the schema of its operation and status; raises Failure
    (and records the violation for main()) if it does not validate."""
    if not OPENAPI_VALIDATE:
        return
    doc = _openapi_doc()
    problems, kind = doc.check(method, path, status, headers, rawbody)
    with _openapi_lock:
        _openapi["validated"] += 1
        if kind == "outside":
            _openapi["outside"] += 1
        if problems:
            msg = f"openapi: {method} {path.split('?', 1)[0][:120]} -> {status}: {problems[0]}"
            _openapi["violations"].append(msg)
    if problems:
        print(f"openapi violation: {msg}", file=sys.stderr, flush=True)
        raise Failure(msg)


def _openapi_take_violations():
    with _openapi_lock:
        v = _openapi["violations"]
        _openapi["violations"] = []
        return v


def _json_or_none(data):
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return None


# --- raw FastCGI to orgd's socket ------------------------------------------------------------

FCGI_BEGIN_REQUEST, FCGI_ABORT_REQUEST, FCGI_END_REQUEST = 1, 2, 3
FCGI_PARAMS, FCGI_STDIN, FCGI_STDOUT, FCGI_STDERR = 4, 5, 6, 7
FCGI_RESPONDER, FCGI_KEEP_CONN = 1, 1


def fcgi_record(rtype, content=b"", req_id=1, padding=None, version=1, length=None):
    """One FastCGI record. length overrides the header's content length (to lie)."""
    if padding is None:
        padding = (-len(content)) % 8
    clen = len(content) if length is None else length
    return struct.pack(">BBHHBB", version, rtype, req_id, clen, padding, 0) + content + b"\0" * padding


def _fcgi_len(n):
    return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)


def fcgi_nv(name, value, name_len=None, value_len=None):
    """One name-value pair of a PARAMS stream; name_len/value_len override the encoded
    lengths (a raw bytes prefix may also be given as bytes) to craft bad pairs."""
    name = name.encode() if isinstance(name, str) else name
    value = value.encode() if isinstance(value, str) else value
    nl = name_len if isinstance(name_len, bytes) else _fcgi_len(len(name) if name_len is None else name_len)
    vl = value_len if isinstance(value_len, bytes) else _fcgi_len(len(value) if value_len is None else value_len)
    return nl + vl + name + value


def fcgi_params(pairs, req_id=1):
    """PARAMS records for pairs (a dict or a list of (name, value)), split in records of
    at most 65535 bytes, ending with the empty PARAMS record."""
    items = pairs.items() if isinstance(pairs, dict) else pairs
    stream = b"".join(fcgi_nv(k, v) for k, v in items)
    return _stream(FCGI_PARAMS, stream, req_id)


def _stream(rtype, data, req_id):
    out = b""
    for i in range(0, len(data), 65535):
        out += fcgi_record(rtype, data[i:i + 65535], req_id)
    return out + fcgi_record(rtype, b"", req_id)


def fcgi_begin(req_id=1, role=FCGI_RESPONDER, flags=0):
    return fcgi_record(FCGI_BEGIN_REQUEST, struct.pack(">HB5x", role, flags), req_id)


def fcgi_request(params, stdin=b"", req_id=1, keep_conn=False):
    """A whole request as nginx would send it: BEGIN_REQUEST, PARAMS, STDIN."""
    stdin = stdin.encode() if isinstance(stdin, str) else stdin
    return (fcgi_begin(req_id, flags=FCGI_KEEP_CONN if keep_conn else 0)
            + fcgi_params(params, req_id) + _stream(FCGI_STDIN, stdin, req_id))


def fcgi_exchange(data, timeout=5.0, path=None, chunks=None):
    """Sends data (bytes, or a list of byte strings sent with 0.05 s pauses) to the
    FastCGI socket and reads until the peer closes or timeout passes.
    Returns (records, timed_out) with records a list of (type, req_id, content)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    buf = b""
    timed_out = False
    try:
        s.connect(path or SOCKET)
        parts = data if isinstance(data, list) else [data]
        for i, part in enumerate(parts):
            if i:
                time.sleep(0.05)
            try:
                s.sendall(part)
            except (BrokenPipeError, ConnectionResetError):
                break
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            s.settimeout(left)
            try:
                got = s.recv(65536)
            except socket.timeout:
                timed_out = True
                break
            except ConnectionResetError:
                break
            if not got:
                break
            buf += got
    finally:
        s.close()
    records = []
    i = 0
    while i + 8 <= len(buf):
        _v, rtype, rid, clen, plen, _r = struct.unpack(">BBHHBB", buf[i:i + 8])
        records.append((rtype, rid, buf[i + 8:i + 8 + clen]))
        i += 8 + clen + plen
    return records, timed_out


def fcgi_call(method, path, body=b"", headers=None, params=None, timeout=5.0):
    """A request straight to orgd's socket with nginx's usual params (params adds or
    overrides some). Returns (status, headers dict lower-cased, parsed JSON or None,
    raw body); status is None if orgd sent no complete response."""
    body = body.encode() if isinstance(body, str) else body
    uri = urllib.parse.urlsplit(path)
    p = {
        "REQUEST_METHOD": method, "REQUEST_URI": path, "DOCUMENT_URI": uri.path,
        "SCRIPT_NAME": uri.path, "QUERY_STRING": uri.query,
        "CONTENT_TYPE": "application/json" if body else "",
        "CONTENT_LENGTH": str(len(body)) if body else "",
        "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "40000", "SERVER_PROTOCOL": "HTTP/1.1",
        "SERVER_NAME": "localhost", "SERVER_PORT": "80", "GATEWAY_INTERFACE": "CGI/1.1",
        "HTTP_HOST": "localhost",
    }
    for k, v in (headers or {}).items():
        p["HTTP_" + k.upper().replace("-", "_")] = v
    p.update(params or {})
    records, _ = fcgi_exchange(fcgi_request(p, body), timeout=timeout)
    out = b"".join(c for t, _, c in records if t == FCGI_STDOUT)
    if not any(t == FCGI_END_REQUEST for t, _, _ in records):
        return None, {}, None, out
    return parse_cgi_response(out)


def parse_cgi_response(out):
    """Splits a CGI response (headers, blank line, body) into (status, headers, JSON, raw)."""
    sep = out.find(b"\r\n\r\n")
    if sep < 0:
        head, rawbody = out, b""
    else:
        head, rawbody = out[:sep], out[sep + 4:]
    hdrs = {}
    for line in head.decode("latin-1").split("\r\n"):
        if ":" in line:
            k, v = line.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
    status = int(hdrs.get("status", "200").split()[0])
    return status, hdrs, _json_or_none(rawbody), rawbody


# --- concurrency -----------------------------------------------------------------------------

def concurrently(n, fn, *args, **kwargs):
    """Runs fn(i, *args, **kwargs) for i in 0..n-1 in n threads released together; returns
    their results in order (an exception raised by a call is returned in its place)."""
    barrier = threading.Barrier(n)

    def one(i):
        try:
            barrier.wait(timeout=30)
        except threading.BrokenBarrierError:
            pass
        try:
            return fn(i, *args, **kwargs)
        except Exception as e:  # noqa: BLE001 - reported to the caller
            return e

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(one, range(n)))


# --- processes ---------------------------------------------------------------------------------

def alive(pid):
    """True if pid exists and is not a zombie (exited processes may linger as zombies)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def wait_until(cond, timeout=10.0, interval=0.05):
    """Polls cond() until it returns something true (returned) or timeout (returns None)."""
    deadline = time.monotonic() + timeout
    while True:
        got = cond()
        if got:
            return got
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


def wait_gone(pid, timeout=10.0):
    """True once pid is gone (or a zombie)."""
    return bool(wait_until(lambda: not alive(pid), timeout))


def orgd_master_pid():
    """The orgd master's pid from $ORGD_VAR/run/orgd.pid, or None if it is not running."""
    try:
        with open(os.path.join(VAR, "run", "orgd.pid")) as f:
            pid = int(f.read().strip())
    except (OSError, ValueError):
        return None
    return pid if alive(pid) else None


def children(pid):
    """The live child pids of pid."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            kids = [int(x) for x in f.read().split()]
    except OSError:
        kids = []
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    with open(f"/proc/{d}/stat") as f:
                        st = f.read()
                    if int(st[st.rindex(")") + 2:].split()[1]) == pid:
                        kids.append(int(d))
                except (OSError, ValueError, IndexError):
                    pass
    return [k for k in kids if alive(k)]


def orgd_worker_pids():
    """The orgd master's live workers (its children)."""
    master = orgd_master_pid()
    return children(master) if master else []


def signal_pid(pid, sig=signal.SIGTERM):
    os.kill(pid, sig)


# --- the stack -----------------------------------------------------------------------------------

def stack(*args, check=True, timeout=120):
    """Runs scripts/stack with args against this stack; returns (exit status, output)."""
    env = dict(os.environ, ORGD_VAR=VAR)
    p = subprocess.run([os.path.join(REPO, "scripts", "stack"), *args], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=timeout)
    if check and p.returncode != 0:
        raise Failure(f"scripts/stack {' '.join(args)} exited {p.returncode}: {p.stdout[-800:]}")
    return p.returncode, p.stdout


def stack_paths():
    """scripts/stack paths as a dict (RUN_DIR, LOG_DIR, MYCNF, DB_SOCKET, ORGD_SOCKET, ...)."""
    _, out = stack("paths")
    out_d = {}
    for line in out.splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            parts = shlex.split(v)
            out_d[k] = parts[0] if parts else ""
    return out_d


_MAIL_DIR = None


def mail_dir():
    """The Maildir the stack's SMTP sink keeps every message in."""
    global _MAIL_DIR
    if _MAIL_DIR is None:
        _MAIL_DIR = stack_paths()["MAIL_DIR"]
    return _MAIL_DIR


def verify_email(email, timeout=15.0):
    """Verify email through the link of its newest verification message; returns the
    answer's body."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import mailbox as mb  # tests/integration/mailbox.py
    deadline = time.monotonic() + timeout
    while True:  # other messages (an invitation) may come first
        msgs = [m for m in mb.messages(mail_dir(), email)
                if "/verify-email?token=" in mb.text_of(m)]
        if msgs:
            break
        if time.monotonic() > deadline:
            raise Failure(f"no verification message to {email} within {timeout} s")
        time.sleep(0.05)
    token = mb.token_of(mb.link(msgs[-1], f"{url}/verify-email?token="))
    status, _, body, raw = req("POST", "/v1/auth/verify-email", body={"token": token})
    if status != 200:
        raise Failure(f"verify {email}: {status} {raw[:200]!r}")
    return body


def accept_invitation(token, org_id, email=None):
    """As the user of session token (verifying its email first if need be), accept the
    pending invitation to org_id; returns the answer ({org, token})."""
    status, _, me, raw = req("GET", "/v1/me", token=token)
    if status != 200:
        raise Failure(f"GET /v1/me: {status} {raw[:200]!r}")
    if not me["user"]["email_verified"]:
        verify_email(email or me["user"]["email"])
    status, _, inv, raw = req("GET", "/v1/invitations?limit=100", token=token)
    if status != 200:
        raise Failure(f"GET /v1/invitations: {status} {raw[:200]!r}")
    mine = [i for i in inv["data"] if i["org"]["id"] == org_id]
    if not mine:
        raise Failure(f"no invitation to {org_id} for {me['user']['email']}: {inv!r}")
    status, _, body, raw = req("POST", f"/v1/invitations/{mine[0]['id']}/accept", token=token)
    if status != 200:
        raise Failure(f"accept {mine[0]['id']}: {status} {raw[:200]!r}")
    return body


def db_stop():
    """Stops the test stack's MariaDB (waits until it is gone)."""
    stack("db-down")


def db_start():
    """Starts the test stack's MariaDB again (waits until it answers)."""
    stack("db-up")


def db_query(sql, timeout=30):
    """Runs sql as the database's admin on the stack's database; returns the rows of the
    last result as lists of strings (None for NULL)."""
    p = subprocess.run([os.path.join(REPO, "scripts", "stack"), "sql", "--batch",
                        "--skip-column-names", "-e", sql],
                       env=dict(os.environ, ORGD_VAR=VAR), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=timeout)
    if p.returncode != 0:
        raise Failure(f"SQL failed: {p.stderr.strip()[:500]}")
    rows = []
    for line in p.stdout.splitlines():
        rows.append([None if c == "NULL" else c for c in line.split("\t")])
    return rows


def wait_health(status=200, timeout=15.0):
    """Waits until GET /v1/health answers status; returns True if it did in time."""
    def ok():
        try:
            return req("GET", "/v1/health", timeout=3)[0] == status
        except OSError:
            return False
    return bool(wait_until(ok, timeout, 0.1))


# --- registration and main -------------------------------------------------------------------

_tests = []


def test(fn):
    """Registers fn as a test case of this file (run in the order written)."""
    _tests.append(fn)
    return fn


def main():
    """Runs the registered tests (or those named in argv), printing PASS/FAIL lines;
    exits 0 only if all passed. A case named in ORGD_TEST_SKIP (comma-separated names;
    make test-valgrind's, for a case that measures throughput) is not run: a SKIP line
    says so."""
    name = os.path.basename(sys.argv[0])
    wanted = set(sys.argv[1:])
    skip = set(filter(None, os.environ.get("ORGD_TEST_SKIP", "").split(",")))
    failed = 0
    for fn in _tests:
        if wanted and fn.__name__ not in wanted:
            continue
        if fn.__name__ in skip:
            print(f"SKIP {name}::{fn.__name__}: named in ORGD_TEST_SKIP", flush=True)
            continue
        _openapi_take_violations()
        reason = None
        try:
            fn()
        except Failure as e:
            reason = _one_line(str(e))
        except Exception as e:  # noqa: BLE001 - any error fails the case, not the file
            tb = traceback.extract_tb(e.__traceback__)
            where = f" at line {tb[-1].lineno}" if tb else ""
            reason = f"{type(e).__name__}: {_one_line(str(e))}{where}"
            traceback.print_exc(file=sys.stderr)
        # an answer that did not validate fails its test, even where the test caught the
        # Failure (in a thread of concurrently(), say)
        violations = _openapi_take_violations()
        if violations and not (reason or "").startswith("openapi: "):
            more = f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""
            v = _one_line(violations[0] + more)
            reason = f"{v}; then {reason}" if reason else v
        if reason is not None:
            failed += 1
            print(f"FAIL {name}::{fn.__name__}: {reason[:1000]}", flush=True)
        else:
            print(f"PASS {name}::{fn.__name__}", flush=True)
    if OPENAPI_VALIDATE:
        print(f"INFO openapi: {_openapi['validated']} responses validated against "
              f"{os.path.relpath(OPENAPI_DOC, REPO)} ({_openapi['outside']} of them outside its "
              f"paths or methods, as errors)", flush=True)
    else:
        print("INFO openapi: validation off (ORGD_OPENAPI_VALIDATE=0)", flush=True)
    sys.exit(1 if failed else 0)


def _one_line(s):
    return " ".join(s.split())[:1000]
