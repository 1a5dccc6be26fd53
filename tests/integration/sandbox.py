"""sandbox: the integration tests' client of the sandbox payment provider's control
interface (tests/fakes/payprov.py, /_sandbox/): its modes, its webhook switches, and a
decorator that resets both around a test case. python3 standard library only.
"""

import functools
import json
import urllib.error
import urllib.request

from orgdtest import expect, expect_eq, stack_paths

_base = []


def base():
    """The sandbox's URL, read once from scripts/stack paths (the stack must run it)."""
    if not _base:
        paths = stack_paths()
        expect(paths.get("PAY_SANDBOX") == "1",
               f"the stack does not run the sandbox provider (PAY_SANDBOX={paths.get('PAY_SANDBOX')!r})")
        _base.append(f"http://127.0.0.1:{paths['PAY_SANDBOX_PORT']}")
    return _base[0]


def sandbox(method, path, body=None, timeout=90):
    """One call to the sandbox's control interface; returns (status, JSON)."""
    data = json.dumps(body).encode() if body is not None else None
    r = urllib.request.Request(base() + path, data=data, method=method,
                               headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(r, timeout=timeout) as f:
            return f.status, json.loads(f.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def sb_ok(method, path, body=None, timeout=90):
    """sandbox(), which must answer 200 or 202; returns the JSON."""
    st, b = sandbox(method, path, body, timeout)
    expect(st in (200, 202), f"sandbox {method} {path} {body}: {st} {b}")
    return b


def sandbox_reset():
    """Mode normal, webhooks on and not doubled (the records stay)."""
    b = sb_ok("POST", "/_sandbox/reset", {})
    expect(b["mode"]["mode"] == "normal" and b["webhooks"]["enabled"] is True,
           f"sandbox reset answered {b}")


def sandboxed(fn):
    """A case that resets the sandbox's switches before and after it runs."""
    @functools.wraps(fn)
    def wrapper():
        sandbox_reset()
        try:
            fn()
        finally:
            sandbox_reset()
    return wrapper


def set_mode(mode, delay_ms=None, calls=None):
    body = {"mode": mode}
    if delay_ms is not None:
        body["delay_ms"] = delay_ms
    if calls is not None:
        body["calls"] = calls
    b = sb_ok("POST", "/_sandbox/mode", body)
    expect_eq(b["mode"], mode, "sandbox mode")


def webhooks(enabled):
    b = sb_ok("POST", "/_sandbox/webhooks", {"enabled": enabled})
    expect_eq(b["enabled"], enabled, "sandbox webhooks enabled")
