"""test_openapi: schema/openapi.yaml held to the server. The document has exactly the routes
of src/http/routes.c (and GET /v1/openapi.yaml, which nginx serves); each operation says
what its row of routes.c decides (who may call it, its body and the limits of the body's
field table, its query, its Idempotency-Key); nginx serves the file; and the validator
that orgdtest.req() runs on every answer refuses what it must (tests/openapi/validate.py).
tests/openapi/lint checks the document itself (@redocly/cli)."""

import os
import re
import sys

from orgdtest import REPO, expect, expect_eq, main, req, test

sys.path.insert(0, os.path.join(REPO, "tests", "openapi"))
import validate  # noqa: E402 - tests/openapi/validate.py

DOC_PATH = os.path.join(REPO, "schema", "openapi.yaml")
_doc = None


def doc():
    global _doc
    if _doc is None:
        _doc = validate.Document(DOC_PATH)
    return _doc


def served_by_orgd():
    """{(METHOD, pattern)} of the document's operations orgd serves (not nginx's own)."""
    return {validate.route_key(m, t) for m, t, op in doc().operations()
            if op.get("x-orgd-served-by") != "nginx"}


# --- routes.c, row by row ---------------------------------------------------------------------

def routes_c_rows():
    """{(METHOD, pattern): the text of its row} of src/http/routes.c."""
    with open(os.path.join(REPO, "src", "http", "routes.c")) as f:
        text = f.read()
    table = text[text.index("routes[] = {"):]
    table = table[:table.index("\n};")]
    starts = [m for m in re.finditer(r'\{\s*M_(GET|POST|PUT|PATCH|DELETE)\s*,\s*"(/[^"]*)"', table)]
    rows = {}
    for i, m in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(table)
        rows[(m.group(1), m.group(2))] = table[m.start():end]
    return rows


def jfield_tables():
    """{table name: [(name, kind, flags, min, max, enums)]} of the jfield tables of src/api/
    and the list queries of src/http/dispatch.c; min/max as ints, or None when not a literal."""
    tables = {}
    for d in ("api", "http"):
        base = os.path.join(REPO, "src", d)
        for fn in sorted(os.listdir(base)):
            if not fn.endswith(".c"):
                continue
            with open(os.path.join(base, fn)) as f:
                text = f.read()
            enums = {m.group(1): re.findall(r'"([^"]+)"', m.group(2)) for m in re.finditer(
                r'const char \*const (\w+)\[\]\s*=\s*\{([^}]*)\}', text)}
            text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)  # comments between rows
            for m in re.finditer(r'struct jfield (\w+)\[\d*\]\s*=\s*\{(.*?)\n\};', text, re.S):
                rows = []
                for r in re.finditer(r'\{\s*"(\w+)",\s*(JF_\w+),\s*([^,]+),\s*([^,]+),\s*([^,]+),'
                                     r'(.*?)\}\s*,?\s*(?=\{|$)', m.group(2), re.S):
                    name, kind, flags, lo, hi, rest = r.groups()
                    e = re.search(r'\.enums\s*=\s*(\w+)(?:\s*\+\s*(\w+))?', rest)
                    values = None
                    if e and e.group(1) == "role_names":
                        values = ["member", "admin", "owner"]  # role_names + ROLE_MEMBER
                    elif e:
                        values = enums.get(e.group(1))
                    rows.append((name, kind, flags, _int(lo), _int(hi), values))
                tables[m.group(1)] = rows
    return tables


def _int(expr):
    expr = re.sub(r"INT64_C\((\d+)\)", r"\1", expr.strip())
    if re.fullmatch(r"[\d\s<()+*-]+", expr):
        return int(eval(expr, {"__builtins__": {}}))  # noqa: S307 - digits and << only
    if expr == "INT64_MAX":
        return 2 ** 63 - 1
    return None


def _types(schema):
    t = schema.get("type")
    if isinstance(t, list):
        return set(t)
    if t:
        return {t}
    if "const" in schema:
        return {type(schema["const"]).__name__}
    return set()


def check_field(where, f, prop, required, problems):
    """One row of a jfield table against its property in the document's schema."""
    name, kind, flags, lo, hi, values = f
    types = _types(prop)
    want_required = "JF_REQUIRED" in flags
    if want_required != (name in required):
        problems.append(f"{where}.{name}: required is {name in required}, the table says "
                        f"{want_required}")
    if ("JF_NULLABLE" in flags) != ("null" in types):
        problems.append(f"{where}.{name}: null {'allowed' if 'null' in types else 'refused'}, "
                        f"the table says {'JF_NULLABLE' in flags}")
    if kind in ("JF_STRING", "JF_ID", "JF_EMAIL", "JF_ENUM") and "string" not in types:
        problems.append(f"{where}.{name}: type {types}, the table says {kind} (a string)")
    if kind == "JF_INT" and "integer" not in types:
        problems.append(f"{where}.{name}: type {types}, the table says JF_INT")
    if kind == "JF_BOOL" and "boolean" not in types:
        problems.append(f"{where}.{name}: type {types}, the table says JF_BOOL")
    if kind == "JF_STRING":
        if lo is not None and prop.get("minLength", 0) != lo:
            problems.append(f"{where}.{name}: minLength {prop.get('minLength', 0)}, the table "
                            f"says {lo}")
        if hi and prop.get("maxLength") != hi:
            problems.append(f"{where}.{name}: maxLength {prop.get('maxLength')}, the table says {hi}")
        if "JF_ASCII" in flags and prop.get("pattern") != "^[ -~]+$":
            problems.append(f"{where}.{name}: the table says printable ASCII (JF_ASCII), the "
                            f"pattern is {prop.get('pattern')!r}")
    if kind == "JF_INT":
        if lo is not None and prop.get("minimum") != lo:
            problems.append(f"{where}.{name}: minimum {prop.get('minimum')}, the table says {lo}")
        if hi is not None and prop.get("maximum") != hi:
            problems.append(f"{where}.{name}: maximum {prop.get('maximum')}, the table says {hi}")
    if kind == "JF_EMAIL" and (prop.get("format") != "email" or prop.get("maxLength") != 254):
        problems.append(f"{where}.{name}: an email (JF_EMAIL) is format email, maxLength 254")
    if kind == "JF_ENUM" and values is not None and set(prop.get("enum", [])) != set(values):
        problems.append(f"{where}.{name}: enum {prop.get('enum')}, the table says {values}")


@test
def document_has_every_route_of_routes_c_and_no_other():
    routes = validate.routes_c()
    expect(len(routes) >= 40, f"found only {len(routes)} routes in src/http/routes.c")
    described = served_by_orgd()
    missing = sorted(routes - described)
    extra = sorted(described - routes)
    expect(not missing, f"routes of routes.c that schema/openapi.yaml lacks: {missing}")
    expect(not extra, f"operations of schema/openapi.yaml that routes.c does not serve: {extra}")


@test
def each_operation_says_what_its_row_of_routes_c_decides():
    """Who may call it (security, 401/403), its {id} (404), its body (required or not, 413,
    415, and the field table's names, kinds and limits), its list query, its
    Idempotency-Key."""
    tables = jfield_tables()
    ops = {validate.route_key(m, t): (t, op) for m, t, op in doc().operations()}
    problems = []
    for key, row in sorted(routes_c_rows().items()):
        if key not in ops:
            continue  # the case above names it
        template, op = ops[key]
        where = f"{key[0]} {key[1]}"
        statuses = set(op["responses"])
        security = op.get("security", doc().raw.get("security"))
        schemes = {name for s in security for name in s}
        auth = re.search(r"\b(PUBLIC|SIGNED|VERIFIED|ORG|CRON)\(", row).group(1)
        want = {"PUBLIC": set(), "CRON": {"cron"}}.get(auth, {"session"})
        if schemes != want:
            problems.append(f"{where}: security {sorted(schemes)}, routes.c says {auth}")
        if auth != "PUBLIC" and "401" not in statuses:
            problems.append(f"{where}: no 401 for an authenticated route")
        if auth in ("ORG", "VERIFIED") and "403" not in statuses:
            problems.append(f"{where}: no 403 for an {auth} route")
        if "{id}" in key[1] and "404" not in statuses:
            problems.append(f"{where}: no 404 for a route with an {{id}}")
        for s in ("200", "201", "202", "204"):
            if s in statuses:
                break
        else:
            problems.append(f"{where}: no 2xx answer")
        for s in ("400", "500", "502", "503", "504"):
            if s not in statuses:
                problems.append(f"{where}: no {s} (every route may answer it)")
        body = re.search(r"\.body\s*=\s*BODY\((\w+)", row)
        raw = ".raw = true" in row
        rb = op.get("requestBody")
        if bool(body or raw) != (rb is not None):
            problems.append(f"{where}: requestBody {'present' if rb else 'absent'}, routes.c "
                            f"says {'a body' if body or raw else 'none'}")
        if rb is not None:
            optional = ".body_optional = true" in row
            if bool(rb.get("required")) == optional:
                problems.append(f"{where}: requestBody required={rb.get('required')}, routes.c "
                                f"body_optional={optional}")
            for s in ("413", "415"):
                if s not in statuses:
                    problems.append(f"{where}: no {s} for a route with a body")
            schema = rb["content"]["application/json"]["schema"]
            if body:
                fields = tables.get(body.group(1))
                if fields is None:
                    problems.append(f"{where}: no field table {body.group(1)} found in src/api/")
                    continue
                props = schema.get("properties", {})
                if schema.get("additionalProperties") is not False:
                    problems.append(f"{where}: the body schema allows unknown fields (400 in orgd)")
                names = {f[0] for f in fields}
                if set(props) != names:
                    problems.append(f"{where}: body fields {sorted(props)}, {body.group(1)} has "
                                    f"{sorted(names)}")
                for f in fields:
                    if f[0] in props:
                        check_field(where, f, props[f[0]], set(schema.get("required", [])),
                                    problems)
        params = {(p["in"], p["name"]): p for p in op.get("parameters", [])}
        query = re.search(r"\.query\s*=\s*&(\w+)|\bLIST\b", row)
        qnames = {n for (i, n) in params if i == "query"}
        if query and qnames != {"limit", "after"}:
            problems.append(f"{where}: query parameters {sorted(qnames)}, routes.c says limit "
                            f"and after")
        if not query and qnames:
            problems.append(f"{where}: query parameters {sorted(qnames)}, routes.c reads none")
        if query:
            lim = params[("query", "limit")]["schema"]
            if (lim.get("minimum"), lim.get("maximum"), lim.get("default")) != (1, 100, 20):
                problems.append(f"{where}: ?limit is not 1..100, default 20")
        idem = re.search(r"\.idem\s*=\s*IDEM_(OPTIONAL|REQUIRED)", row)
        key_param = params.get(("header", "Idempotency-Key"))
        if bool(idem) != bool(key_param):
            problems.append(f"{where}: Idempotency-Key {'declared' if key_param else 'absent'}, "
                            f"routes.c says {idem.group(1) if idem else 'none'}")
        elif idem and bool(key_param.get("required")) != (idem.group(1) == "REQUIRED"):
            problems.append(f"{where}: Idempotency-Key required={key_param.get('required')}, "
                            f"routes.c says IDEM_{idem.group(1)}")
        if key_param:
            ks = key_param["schema"]
            if (ks.get("minLength"), ks.get("maxLength"), ks.get("pattern")) != (1, 255, "^[ -~]+$"):
                problems.append(f"{where}: Idempotency-Key is not 1..255 printable ASCII")
        if raw and ("header", "Stripe-Signature") not in params:
            problems.append(f"{where}: no Stripe-Signature header")
    expect(not problems, f"{len(problems)} disagreements: " + " | ".join(problems[:12]))


@test
def every_answer_object_refuses_undeclared_fields():
    """additionalProperties: false on every object schema of every response."""
    loose = []

    def walk(node, where):
        if isinstance(node, dict):
            if node.get("type") == "object" or (isinstance(node.get("type"), list)
                                                 and "object" in node["type"]):
                if node.get("additionalProperties") is not False:
                    loose.append(where)
            for k, v in node.items():
                walk(v, f"{where}/{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{where}/{i}")

    for m, t, op in doc().operations():
        for status, resp in op["responses"].items():
            for mt, media in (resp.get("content") or {}).items():
                walk(media.get("schema"), f"{m} {t} {status} {mt}")
    expect(not loose, f"object schemas of answers without additionalProperties false: {loose[:10]}")


# --- the file through nginx -------------------------------------------------------------------

@test
def nginx_serves_the_document():
    with open(DOC_PATH, "rb") as f:
        want = f.read()
    st, headers, _, raw = req("GET", "/v1/openapi.yaml")
    expect_eq(st, 200, "status")
    ctype = headers.get("Content-Type", "")
    expect(ctype.split(";")[0].strip() == "application/yaml", f"Content-Type {ctype!r}")
    expect(raw == want, f"the body ({len(raw)} bytes) is not schema/openapi.yaml ({len(want)} bytes)")
    st, headers, _, raw = req("HEAD", "/v1/openapi.yaml")
    expect_eq(st, 200, "HEAD status")
    expect_eq(raw, b"", "HEAD body")
    expect_eq(headers.get("Content-Length"), str(len(want)), "HEAD Content-Length")
    st, headers, body, raw = req("POST", "/v1/openapi.yaml", body={})  # validated as a 405
    expect_eq(st, 405, "POST status")
    expect_eq(headers.get("Allow"), "GET, HEAD", "Allow")


# --- the validator refuses what it must --------------------------------------------------------

class H(dict):
    """Headers for Document.check(), case-insensitive enough."""

    def get(self, k, d=None):
        for key, v in self.items():
            if key.lower() == k.lower():
                return v
        return d


JSON = H({"Content-Type": "application/json"})


@test
def validator_refuses_what_it_must():
    d = doc()
    ok = [
        ("GET", "/v1/health", 200, JSON, b'{"status":"ok","db":"ok"}'),
        ("HEAD", "/v1/health", 200, JSON, b""),
        ("GET", "/v1/health", 503, JSON, b'{"status":"degraded","db":"down"}'),
        ("GET", "/v1/org/projects/prj_x?limit=2", 404, JSON,
         b'{"error":{"code":"not_found","message":"Not found."}}'),
        ("DELETE", "/v1/org/projects/prj_x", 204, H(), b""),
        ("PUT", "/v1/org/projects", 405, H({"Content-Type": "application/json", "Allow": "GET, HEAD, POST"}),
         b'{"error":{"code":"method_not_allowed","message":"Method not allowed."}}'),
        ("GET", "/v1/nope", 404, JSON, b'{"error":{"code":"not_found","message":"no such resource"}}'),
        ("GET", "/v1/me", 401, H({"Content-Type": "application/json", "WWW-Authenticate": "Bearer"}),
         b'{"error":{"code":"unauthenticated","message":"Authentication is required."}}'),
    ]
    for m, p, st, h, body in ok:
        problems, _ = d.check(m, p, st, h, body)
        expect(not problems, f"{m} {p} {st} refused: {problems}")
    bad = [
        ("an undeclared field", ("GET", "/v1/health", 200, JSON, b'{"status":"ok","db":"ok","x":1}')),
        ("a wrong type", ("GET", "/v1/org/projects/prj_x", 200, JSON,
                          b'{"id":"prj_x","name":"a","description":7,"created_at":"2026-01-01T00:00:00Z"}')),
        ("an undeclared status", ("GET", "/v1/health", 418, JSON, b'{}')),
        ("a wrong error code", ("GET", "/v1/org", 403, JSON,
                                b'{"error":{"code":"not_found","message":"m"}}')),
        ("a field in the error", ("GET", "/v1/org", 403, JSON,
                                  b'{"error":{"code":"forbidden","message":"m","detail":"x"}}')),
        ("a body on 204", ("DELETE", "/v1/org/projects/prj_x", 204, JSON, b'{}')),
        ("no body on 200", ("GET", "/v1/me", 200, JSON, b"")),
        ("not JSON", ("GET", "/v1/me", 200, H({"Content-Type": "text/html"}), b"<html>")),
        ("a 401 without WWW-Authenticate", ("GET", "/v1/me", 401, JSON,
                                            b'{"error":{"code":"unauthenticated","message":"m"}}')),
        ("a 405 without Allow", ("PUT", "/v1/org/projects", 405, JSON,
                                 b'{"error":{"code":"method_not_allowed","message":"m"}}')),
        ("another status for an undeclared method", ("PUT", "/v1/org/projects", 200, JSON, b'{}')),
        ("a success outside the document", ("GET", "/v1/nope", 200, JSON, b'{}')),
        ("a nullable field null where it may not be", ("GET", "/v1/org/billing/ledger", 200, JSON,
         b'{"data":[{"id":"led_a","at":"2026-01-01T00:00:00Z","delta":1,"balance_after":1,'
         b'"reason":"purchase","ref":null}],"has_more":false}')),
        ("a time that is not UTC RFC 3339", ("GET", "/v1/org/projects/prj_x", 200, JSON,
         b'{"id":"prj_x","name":"a","description":"","created_at":"2026-01-01 00:00:00"}')),
        ("a body in the answer to HEAD", ("HEAD", "/v1/health", 200, JSON, b'{"status":"ok","db":"ok"}')),
    ]
    for what, (m, p, st, h, body) in bad:
        problems, _ = d.check(m, p, st, h, body)
        expect(problems, f"{what} ({m} {p} {st} {body[:80]!r}) passed the validator")


if __name__ == "__main__":
    main()
