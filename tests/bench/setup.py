#!/usr/bin/env python3
"""Bench setup (tests/bench/run.py imports it; scripts/bench runs it).

1. N organizations, each with an owner, a project and an environment (made through the
   API: the owners signed up and in one at a time, the rest 4 at a time), and wrk Lua scripts that spread requests over them:

     runs.lua   POST /v1/org/runs, rotating over the organizations
     one.lua    POST /v1/org/runs, all in the first organization
     me.lua     GET /v1/me with the same tokens
     dash.lua   GET /v1/org/dashboard

   usage: setup.py BASE_URL N OUT_DIR   (prints the organization ids: scripts/bench puts
   them on the enterprise plan by SQL, since a bench has no payment method)

2. webhook_batch(): N pending purchases (the SQL that makes them, INSERT ... SELECT from
   MariaDB's sequence engine) and, for each, a signed `payment_intent.succeeded` event that
   settles it, split into one file per wrk thread, and the wrk Lua script that walks
   through them (each request a new event for a new purchase). The signatures carry t =
   now: make a batch right before the run that sends it (orgd allows 300 s either way).
"""
import concurrent.futures
import hashlib
import hmac
import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid

WEBHOOK_PATH = "/v1/webhooks/payments"
WEBHOOK_AMOUNT = 1000  # cents, and credits


def call(base, method, path, body=None, token=None):
    """One API call; a 503 (orgd allows only so many password hashes at once) is tried
    again a little later. (Sign-ins are made one at a time: a sign-in refused with 503
    counts as a failed attempt, and enough of those from one address are a 429.)"""
    data = json.dumps(body).encode() if body is not None else None
    for attempt in range(100):
        r = urllib.request.Request(base + path, data=data, method=method)
        r.add_header("Content-Type", "application/json")
        if token:
            r.add_header("Authorization", "Bearer " + token)
        try:
            with urllib.request.urlopen(r, timeout=30) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as e:
            if e.code != 503 or attempt == 99:
                raise
            time.sleep(0.05 * (1 + attempt % 10))


def lua(path, method, reqs, rotate=True):
    """A wrk script over reqs [(path, token, body)]: each request the next one, or
    always the first. The requests are formatted in init(), once wrk knows the Host."""
    with open(path, "w") as f:
        f.write("local spec = {\n")
        for p, token, body in reqs:
            f.write("  {%s, %s, %s},\n" % (json.dumps(p), json.dumps("Bearer " + token),
                                          json.dumps(body) if body is not None else "nil"))
        f.write("}\nlocal reqs = {}\nlocal i = 0\n"
                "function init(args)\n"
                "  for k, s in ipairs(spec) do\n"
                "    reqs[k] = wrk.format(%s, s[1], {[\"Authorization\"] = s[2],"
                " [\"Content-Type\"] = \"application/json\"}, s[3])\n"
                "  end\nend\n"
                "function request()\n  %s\n  return reqs[i]\nend\n"
                % (json.dumps(method), "i = i % #reqs + 1" if rotate else "i = 1"))


def sign_in(base, i):
    email = "bench-%s@example.com" % uuid.uuid4().hex[:12]
    call(base, "POST", "/v1/auth/signup",
         {"email": email, "password": "bench password 123", "name": "Bench %d" % i})
    return call(base, "POST", "/v1/auth/login",
                {"email": email, "password": "bench password 123"})["token"]


def make_org(base, i, tok):
    created = call(base, "POST", "/v1/orgs", {"name": "Bench %d" % i}, tok)
    tok = created["token"]
    prj = call(base, "POST", "/v1/org/projects", {"name": "rules"}, tok)["id"]
    env = call(base, "POST", "/v1/org/environments",
               {"name": "prod", "kind": "production", "region": "local"}, tok)["id"]
    return created["org"]["id"], tok, prj, env


def orgs(base, n, out):
    tokens = [sign_in(base, i) for i in range(n)]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        made = list(pool.map(lambda i: make_org(base, i, tokens[i]), range(n)))
    runs = [("/v1/org/runs", tok, json.dumps({"project_id": prj, "environment_id": env}))
            for _, tok, prj, env in made]
    lua(out + "/runs.lua", "POST", runs)
    lua(out + "/one.lua", "POST", runs[:1], rotate=False)
    lua(out + "/me.lua", "GET", [("/v1/me", tok, None) for _, tok, _, _ in made])
    lua(out + "/dash.lua", "GET", [("/v1/org/dashboard", tok, None) for _, tok, _, _ in made])
    return [org for org, _, _, _ in made]


# --- webhook batches ---------------------------------------------------------------------

_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _letters(i, n):
    """i as n base-26 letters (a valid id tail: orgd's ids are [a-z2-7]), most significant first."""
    s = []
    for _ in range(n):
        s.append(_LETTERS[i % 26])
        i //= 26
    return "".join(reversed(s))


def _sql_letters(n):
    """The SQL of _letters(seq, n)."""
    parts = ["CHAR(97 + seq DIV %d MOD 26)" % 26 ** k for k in range(n - 1, -1, -1)]
    return "CONCAT(%s)" % ", ".join(parts)


def new_tag():
    """Four random letters: a batch's ids are pur_bench<tag><5 letters of its number>."""
    return "".join(_LETTERS[b % 26] for b in os.urandom(4))


def webhook_batch(out, tag, n, org_ids, secret, threads, t=None):
    """Writes out/webhook-<tag>-<k>.txt (k = 1..threads: "signature TAB body" lines) and
    out/webhook-<tag>.lua; returns (sql, lua_path). Purchase j (0 <= j < n) belongs to
    org_ids[j % len(org_ids)], costs WEBHOOK_AMOUNT cents in usd for as many credits, is
    pending, and its event (evt_bench<tag><j>) says its PaymentIntent succeeded with that
    amount, currency and organization."""
    if n > 26 ** 5:
        raise ValueError("at most 26^5 purchases a batch")
    t = int(time.time()) if t is None else t
    key = secret.encode()
    files = ["%s/webhook-%s-%d.txt" % (out, tag, k + 1) for k in range(threads)]
    fs = [open(f, "w") for f in files]
    try:
        for j in range(n):
            suffix = tag + _letters(j, 5)
            body = json.dumps({
                "id": "evt_bench" + suffix, "object": "event", "api_version": "2024-06-20",
                "created": t, "type": "payment_intent.succeeded", "livemode": False,
                "data": {"object": {
                    "id": "pi_bench" + suffix, "object": "payment_intent",
                    "amount": WEBHOOK_AMOUNT, "amount_received": WEBHOOK_AMOUNT,
                    "currency": "usd", "status": "succeeded", "customer": "cus_bench",
                    "payment_method": "pm_card_visa",
                    "metadata": {"org_id": org_ids[j % len(org_ids)],
                                 "purchase_id": "pur_bench" + suffix}}}},
                separators=(",", ":"))
            sig = hmac.new(key, b"%d.%s" % (t, body.encode()), hashlib.sha256).hexdigest()
            fs[j % threads].write("t=%d,v1=%s\t%s\n" % (t, sig, body))
    finally:
        for f in fs:
            f.close()
    elt = ", ".join("'%s'" % o for o in org_ids)
    sql = ("INSERT INTO purchases (id, org_id, kind, credits, amount_cents, status,"
           " provider_key, customer_id, pm_id, created_at)"
           " SELECT CONCAT('pur_bench%s', %s), ELT(1 + seq MOD %d, %s), 'credits', %d, %d,"
           " 'pending', CONCAT('bench:%s:', seq), 'cus_bench', 'pm_card_visa', UTC_TIMESTAMP()"
           " FROM seq_0_to_%d;\n"
           % (tag, _sql_letters(5), len(org_ids), elt, WEBHOOK_AMOUNT, WEBHOOK_AMOUNT, tag,
              n - 1))
    lua_path = "%s/webhook-%s.lua" % (out, tag)
    with open(lua_path, "w") as f:
        f.write("-- written by tests/bench/setup.py: each request a new signed event\n")
        f.write("local files = {%s}\n" % ", ".join(json.dumps(p) for p in files))
        f.write(
            "local made = 0\n"
            "function setup(thread)\n"
            "  made = made + 1\n"
            "  thread:set(\"tid\", made)\n"
            "end\n"
            "local reqs = {}\n"
            "local i = 0\n"
            "function init(args)\n"
            "  local f = assert(io.open(files[tid], \"rb\"))\n"
            "  for line in f:lines() do\n"
            "    local sig, body = line:match(\"^([^\\t]*)\\t(.*)$\")\n"
            "    reqs[#reqs + 1] = wrk.format(\"POST\", %s,\n"
            "      {[\"Stripe-Signature\"] = sig, [\"Content-Type\"] = \"application/json\"}, body)\n"
            "  end\n"
            "  f:close()\n"
            "end\n"
            "-- past the end it starts again (repeated events): run.py says so if it happens\n"
            "function request()\n"
            "  i = i %% #reqs + 1\n"
            "  return reqs[i]\n"
            "end\n" % json.dumps(WEBHOOK_PATH))
    return sql, lua_path


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    base, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    print(" ".join(orgs(base, n, out)))


if __name__ == "__main__":
    main()
