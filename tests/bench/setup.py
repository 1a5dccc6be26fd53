#!/usr/bin/env python3
"""Bench setup: N organizations, each with an owner, a project and an environment,
on the enterprise plan (set by SQL: a bench has no payment method), and wrk Lua
scripts that spread requests over them:

  runs.lua   POST /v1/org/runs, rotating over the organizations
  one.lua    POST /v1/org/runs, all in the first organization
  me.lua     GET /v1/me with the same tokens
  dash.lua   GET /v1/org/dashboard

usage: setup.py BASE_URL N OUT_DIR   (prints the organization ids, for the SQL)"""
import json
import sys
import urllib.request
import uuid


def call(base, method, path, body=None, token=None):
    data = json.dumps(body).encode() if body is not None else None
    r = urllib.request.Request(base + path, data=data, method=method)
    r.add_header("Content-Type", "application/json")
    if token:
        r.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(r, timeout=30) as resp:
        return json.loads(resp.read() or b"null")


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


def main():
    base, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    runs, me, dash, orgs = [], [], [], []
    for i in range(n):
        email = "bench-%s@example.com" % uuid.uuid4().hex[:12]
        call(base, "POST", "/v1/auth/signup",
             {"email": email, "password": "bench password 123", "name": "Bench %d" % i})
        tok = call(base, "POST", "/v1/auth/login",
                   {"email": email, "password": "bench password 123"})["token"]
        created = call(base, "POST", "/v1/orgs", {"name": "Bench %d" % i}, tok)
        tok = created["token"]
        orgs.append(created["org"]["id"])
        prj = call(base, "POST", "/v1/org/projects", {"name": "rules"}, tok)["id"]
        env = call(base, "POST", "/v1/org/environments",
                   {"name": "prod", "kind": "production", "region": "local"}, tok)["id"]
        runs.append(("/v1/org/runs", tok,
                     json.dumps({"project_id": prj, "environment_id": env})))
        me.append(("/v1/me", tok, None))
        dash.append(("/v1/org/dashboard", tok, None))
    lua(out + "/runs.lua", "POST", runs)
    lua(out + "/one.lua", "POST", runs[:1], rotate=False)
    lua(out + "/me.lua", "GET", me)
    lua(out + "/dash.lua", "GET", dash)
    print(" ".join(orgs))


if __name__ == "__main__":
    main()
