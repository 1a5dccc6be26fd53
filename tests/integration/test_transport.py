"""test_transport: how orgd decodes a request (issue 2, acceptance 3; SECURITY.md
"Transport and faults"): the route table's 404/405, Content-Type (415), the body cap
(413), strict JSON (400), CONTENT_LENGTH enforced on the raw FastCGI socket, and forged
identity headers. Every error must be API.md's exact JSON error body.

No process is stopped or killed here."""

import json
import uuid

from orgdtest import (FCGI_END_REQUEST, FCGI_STDOUT, expect, expect_eq, fcgi_begin, fcgi_call,
                      fcgi_exchange, fcgi_params, main, parse_cgi_response, req, test)

PASSWORD = "correct horse battery"


def uniq_email(tag):
    return f"tr-{tag}-{uuid.uuid4().hex[:12]}@example.com"


def check_error_body(status, headers, body, raw, want_status, want_code, field=None,
                     no_field=False, what="answer"):
    """The answer is exactly {"error":{"code","message"[,"field"]}} with that status and
    code, as application/json. field: the "field" it must name; no_field: it must not name
    any."""
    expect(status == want_status, f"{what}: status {status}, want {want_status}: {raw[:300]!r}")
    ctype = headers.get("Content-Type") if hasattr(headers, "get") else None
    if ctype is None and isinstance(headers, dict):
        ctype = headers.get("content-type")
    expect((ctype or "").split(";")[0].strip() == "application/json",
           f"{what}: Content-Type {ctype!r}, want application/json")
    expect(isinstance(body, dict), f"{what}: body is not a JSON object: {raw[:300]!r}")
    expect_eq(sorted(body.keys()), ["error"], f"{what}: top-level keys")
    err = body["error"]
    expect(isinstance(err, dict), f"{what}: error is not an object: {raw[:300]!r}")
    keys = set(err.keys())
    expect({"code", "message"} <= keys <= {"code", "message", "field"},
           f"{what}: error keys {sorted(keys)}, want code, message[, field]")
    expect_eq(err["code"], want_code, f"{what}: error code")
    expect(isinstance(err["message"], str) and err["message"],
           f"{what}: message {err['message']!r} is not a non-empty string")
    if "field" in err:
        expect(isinstance(err["field"], str) and err["field"],
               f"{what}: field {err['field']!r} is not a non-empty string")
    if field is not None:
        expect_eq(err.get("field"), field, f"{what}: error field")
    if no_field:
        expect("field" not in err, f"{what}: names field {err.get('field')!r}, but no one "
               f"field is at fault: {raw[:300]!r}")


def expect_api_error(resp, want_status, want_code, field=None, no_field=False, what="answer"):
    status, headers, body, raw = resp
    check_error_body(status, headers, body, raw, want_status, want_code, field, no_field, what)


def signup_body(email, name="Transport Test"):
    return {"email": email, "password": PASSWORD, "name": name}


def expect_can_sign_up(email, what):
    """email is still free: the refused requests before wrote nothing."""
    st, _, body, raw = req("POST", "/v1/auth/signup", body=signup_body(email))
    expect(st == 201, f"{what}: signing up {email} afterwards: {st} {raw[:300]!r} "
           f"(an earlier, refused request created the account?)")
    expect_eq(body["user"]["email"], email, f"{what}: email of the account")


def sign_in(tag):
    email = uniq_email(tag)
    st, _, body, raw = req("POST", "/v1/auth/signup", body=signup_body(email, "Me " + tag))
    expect(st == 201, f"signup: {st} {raw[:300]!r}")
    st, _, body2, raw = req("POST", "/v1/auth/login", body={"email": email, "password": PASSWORD})
    expect(st == 200, f"login: {st} {raw[:300]!r}")
    return body["user"], body2["token"]


# --- routes ----------------------------------------------------------------------------------

@test
def unknown_paths_under_v1_are_json_404():
    for method, path in (("GET", "/v1/nope"), ("GET", "/v1/health/extra"), ("GET", "/v1/"),
                         ("GET", "/v1/auth"), ("GET", "/v1/me/"), ("GET", "/v1/HEALTH"),
                         ("POST", "/v1/auth/signupx"), ("DELETE", "/v1/orgz")):
        data = None if method in ("GET", "DELETE") else {"a": 1}
        expect_api_error(req(method, path, body=data), 404, "not_found", no_field=True,
                         what=f"{method} {path}")


@test
def wrong_method_on_known_path_is_json_405():
    for method, path in (("DELETE", "/v1/health"), ("POST", "/v1/health"),
                         ("GET", "/v1/auth/signup"), ("PUT", "/v1/auth/login"),
                         ("PATCH", "/v1/me"), ("DELETE", "/v1/plans")):
        data = {"a": 1} if method in ("POST", "PUT", "PATCH") else None
        expect_api_error(req(method, path, body=data), 405, "method_not_allowed", no_field=True,
                         what=f"{method} {path}")


# --- Content-Type and size -------------------------------------------------------------------

@test
def body_without_json_content_type_is_415_and_writes_nothing():
    email = uniq_email("ctype")
    data = json.dumps(signup_body(email)).encode()
    for ctype in ("text/plain", None, "application/x-www-form-urlencoded",
                  "application/jsonx", "text/json", "application/json-patch+json"):
        expect_api_error(req("POST", "/v1/auth/signup", raw=data, content_type=ctype), 415,
                         "unsupported_media_type", what=f"Content-Type {ctype!r}")
    # the same body as application/json (with a charset parameter) is taken
    st, _, body, raw = req("POST", "/v1/auth/signup", raw=data,
                           content_type="application/json; charset=utf-8")
    expect(st == 201, f"the same body as application/json; charset=utf-8: {st} {raw[:300]!r}")
    expect_eq(body["user"]["email"], email, "email of the account")


@test
def body_over_64k_is_json_413_and_writes_nothing():
    email = uniq_email("big")
    small = json.dumps(signup_body(email))
    big = small[:-1] + ', "pad": "' + "p" * (66 * 1024) + '"}'
    expect(len(big) > 64 * 1024, "the big body is not over 64 KiB")
    expect_api_error(req("POST", "/v1/auth/signup", raw=big), 413, "payload_too_large",
                     what="a 66 KiB signup")
    # a body of exactly 64 KiB reaches orgd's decoder (400 for the unknown "pad", not 413)
    exact = small[:-1] + ', "pad": "'
    exact += "p" * (64 * 1024 - len(exact) - 2) + '"}'
    expect_eq(len(exact.encode()), 64 * 1024, "length of the 64 KiB body")
    expect_api_error(req("POST", "/v1/auth/signup", raw=exact), 400, "invalid_request",
                     field="pad", what="a signup of exactly 64 KiB")
    expect_can_sign_up(email, "413")


# --- strict JSON -----------------------------------------------------------------------------

def nested(depth_below_root, kind):
    """A value that, as the member of the top-level object, makes the document depth_below_root
    + 1 deep: arrays [[...]] or objects {"a":{...}}."""
    if kind == "array":
        return "[" * depth_below_root + "]" * depth_below_root
    return '{"a":' * (depth_below_root - 1) + "{}" + "}" * (depth_below_root - 1)


@test
def nesting_of_16_is_parsed_and_17_is_refused():
    # Depth 16 (the top-level object + 15) passes the JSON grammar and reaches the field
    # table, which names the unknown member "x"; depth 17 is refused by the grammar
    # itself, before any field is looked at, so no field is named.
    for kind in ("array", "object"):
        ok = '{"x":' + nested(15, kind) + "}"
        expect_api_error(req("POST", "/v1/auth/signup", raw=ok), 400, "invalid_request",
                         field="x", what=f"16 deep ({kind}s)")
        deep = '{"x":' + nested(16, kind) + "}"
        expect_api_error(req("POST", "/v1/auth/signup", raw=deep), 400, "invalid_request",
                         no_field=True, what=f"17 deep ({kind}s)")
    # far deeper (json-c's own default limit is 32): still a plain 400, the worker lives
    very = '{"x":' + "[" * 5000 + "]" * 5000 + "}"
    expect_api_error(req("POST", "/v1/auth/signup", raw=very), 400, "invalid_request",
                     no_field=True, what="5001 deep")
    st, _, _, _ = req("GET", "/v1/health")
    expect_eq(st, 200, "health after the deep bodies")


@test
def numbers_beyond_int64_and_nan_are_refused_by_the_grammar():
    # As the value of an unknown member: a number the grammar accepts reaches the field
    # table (400 naming "x"); one it refuses is a 400 before any field is named.
    for good in ("9223372036854775807", "-9223372036854775808", "0", "1.5e3", "-0.25"):
        expect_api_error(req("POST", "/v1/auth/signup", raw='{"x":' + good + "}"), 400,
                         "invalid_request", field="x", what=f"x = {good}")
    for bad in ("9223372036854775808", "-9223372036854775809", "99999999999999999999999",
                "NaN", "-NaN", "Infinity", "-Infinity", "nan", "01", "+1", ".5", "1.",
                "0x10", "1e", "-"):
        expect_api_error(req("POST", "/v1/auth/signup", raw='{"x":' + bad + "}"), 400,
                         "invalid_request", no_field=True, what=f"x = {bad}")


@test
def malformed_json_is_400_and_writes_nothing():
    email = uniq_email("malformed")
    good = json.dumps(signup_body(email))
    cases = {
        "trailing garbage": good + "x",
        "a second object": good + "{}",
        "trailing comma": good[:-1] + ",}",
        "single quotes": good.replace('"', "'"),
        "unquoted name": good.replace('"name"', "name"),
        "a comment": good[:-1] + "/* c */}",
        "unterminated": good[:-1],
        "not an object": json.dumps([signup_body(email)]),
        "a bare string": json.dumps(email),
        "empty": "",
        "whitespace only": "  \n",
        "control character in a string": good.replace("Transport Test", "Trans\x01port"),
        "raw newline in a string": good.replace("Transport Test", "Trans\nport"),
        "bad escape": good.replace("Transport Test", "Trans\\xport"),
        "NUL escape": good.replace("Transport Test", "Trans\\u0000port"),
        "lone high surrogate": good.replace("Transport Test", "Trans\\ud800port"),
        "lone low surrogate": good.replace("Transport Test", "Trans\\udc00port"),
    }
    for what, text in cases.items():
        expect_api_error(req("POST", "/v1/auth/signup", raw=text), 400, "invalid_request",
                         what=what)
    expect_can_sign_up(email, "malformed JSON")


@test
def invalid_utf8_in_a_string_is_400_and_writes_nothing():
    email = uniq_email("utf8")
    good = json.dumps(signup_body(email)).encode()
    for what, bad in (("a lone 0xff", b"\xff"), ("a lone continuation byte", b"\x80"),
                      ("an overlong slash", b"\xc0\xaf"), ("a truncated sequence", b"\xe2\x82"),
                      ("an encoded surrogate", b"\xed\xa0\x80"),
                      ("beyond U+10FFFF", b"\xf4\x90\x80\x80")):
        raw = good.replace(b"Transport Test", b"Trans" + bad + b"port")
        expect_api_error(req("POST", "/v1/auth/signup", raw=raw), 400, "invalid_request",
                         what=what)
    # valid multi-byte UTF-8 in the same place is taken
    st, _, body, rawb = req("POST", "/v1/auth/signup",
                            raw=good.replace(b"Transport Test", "Zoë 🚀 Ünïcode".encode()))
    expect(st == 201, f"a valid UTF-8 name: {st} {rawb[:300]!r}")
    expect_eq(body["user"]["name"], "Zoë 🚀 Ünïcode", "the name as stored")
    expect_eq(body["user"]["email"], email, "email")


@test
def duplicate_names_are_400_and_write_nothing():
    email = uniq_email("dup")
    other = uniq_email("dup-other")
    pw = json.dumps(PASSWORD)
    for what, text in (
        ("email twice", f'{{"email":"{other}","email":"{email}","password":{pw},"name":"D"}}'),
        ("name twice, same value", f'{{"email":"{email}","password":{pw},"name":"D","name":"D"}}'),
        ("duplicate inside an escape", f'{{"email":"{email}","password":{pw},"name":"D","n\\u0061me":"E"}}'),
    ):
        expect_api_error(req("POST", "/v1/auth/signup", raw=text), 400, "invalid_request",
                         what=what)
    # duplicates nested in an unknown member are found as well (not only at the top)
    expect_api_error(req("POST", "/v1/auth/signup", raw='{"x":{"a":1,"a":2}}'), 400,
                     "invalid_request", no_field=True, what="a nested duplicate")
    expect_api_error(req("POST", "/v1/auth/signup", raw='{"x":{"a":1,"b":2}}'), 400,
                     "invalid_request", field="x", what="the same without the duplicate")
    expect_can_sign_up(email, "duplicates")
    expect_can_sign_up(other, "duplicates")


@test
def unknown_fields_and_wrong_types_name_the_field():
    email = uniq_email("fields")
    base = signup_body(email)
    expect_api_error(req("POST", "/v1/auth/signup", body=dict(base, admin=True)), 400,
                     "invalid_request", field="admin", what="an unknown field")
    expect_api_error(req("POST", "/v1/auth/signup", body=dict(base, Email=email)), 400,
                     "invalid_request", field="Email", what="a field in the wrong case")
    for name, value in (("email", 5), ("email", [email]), ("password", True),
                        ("password", {"p": PASSWORD}), ("name", 1.5), ("name", None)):
        expect_api_error(req("POST", "/v1/auth/signup", body=dict(base, **{name: value})), 400,
                         "invalid_request", field=name, what=f"{name} = {value!r}")
    missing = dict(base)
    del missing["password"]
    expect_api_error(req("POST", "/v1/auth/signup", body=missing), 400, "invalid_request",
                     field="password", what="password missing")
    expect_api_error(req("POST", "/v1/auth/signup", body=dict(base, password="short")), 400,
                     "invalid_request", field="password", what="password too short")
    expect_can_sign_up(email, "wrong fields")


# --- straight to the FastCGI socket ------------------------------------------------------------

def fcgi_signup_params(content_length):
    return {
        "REQUEST_METHOD": "POST", "REQUEST_URI": "/v1/auth/signup",
        "DOCUMENT_URI": "/v1/auth/signup", "SCRIPT_NAME": "/v1/auth/signup", "QUERY_STRING": "",
        "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(content_length),
        "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "40000", "SERVER_PROTOCOL": "HTTP/1.1",
        "SERVER_NAME": "localhost", "SERVER_PORT": "80", "GATEWAY_INTERFACE": "CGI/1.1",
        "HTTP_HOST": "localhost",
    }


def expect_fcgi_error(resp, want_status, want_code, field=None, no_field=False, what="answer"):
    status, headers, body, raw = resp
    expect(status is not None, f"{what}: no complete FastCGI answer within the bounded wait "
           f"(orgd waited for bytes that never come?): {raw[:200]!r}")
    check_error_body(status, headers, body, raw, want_status, want_code, field, no_field, what)


@test
def fcgi_body_shorter_than_content_length_is_refused_at_once():
    email = uniq_email("short")
    body = json.dumps(signup_body(email)).encode()
    # the whole (valid) body, then the end of the stream, but CONTENT_LENGTH says more
    # (fcgi_call gives up after 2 s: an orgd that waits for the missing bytes fails here)
    resp = fcgi_call("POST", "/v1/auth/signup", body=body,
                     params={"CONTENT_LENGTH": str(len(body) + 20)}, timeout=2.0)
    expect_fcgi_error(resp, 400, "invalid_request", what="a body 20 bytes short")
    # one byte short, too
    resp = fcgi_call("POST", "/v1/auth/signup", body=body,
                     params={"CONTENT_LENGTH": str(len(body) + 1)}, timeout=2.0)
    expect_fcgi_error(resp, 400, "invalid_request", what="a body 1 byte short")
    # an empty stream with a length announced
    resp = fcgi_call("POST", "/v1/auth/signup", body=b"", timeout=2.0,
                     params={"CONTENT_LENGTH": "100", "CONTENT_TYPE": "application/json"})
    expect_fcgi_error(resp, 400, "invalid_request", what="no body at all for 100 bytes")
    expect_can_sign_up(email, "short body")


@test
def fcgi_body_longer_than_content_length_is_400():
    email = uniq_email("long")
    body = json.dumps(signup_body(email)).encode()
    # CONTENT_LENGTH covers exactly a valid body; more bytes follow it in the stream
    for extra in (b" ", b"xxxxx", b'{"email":"evil@example.com"}'):
        resp = fcgi_call("POST", "/v1/auth/signup", body=body + extra,
                         params={"CONTENT_LENGTH": str(len(body))}, timeout=5.0)
        expect_fcgi_error(resp, 400, "invalid_request", what=f"{len(extra)} bytes past the end")
    expect_can_sign_up(email, "long body")
    # the matching length is taken (the helper is not what refuses)
    email2 = uniq_email("long-ok")
    body2 = json.dumps(signup_body(email2)).encode()
    st, _, got, raw = fcgi_call("POST", "/v1/auth/signup", body=body2, timeout=5.0)
    expect(st == 201, f"a body of exactly its CONTENT_LENGTH: {st} {raw[:300]!r}")
    expect_eq(got["user"]["email"], email2, "email")


@test
def fcgi_content_length_over_64k_is_413_without_reading():
    # BEGIN_REQUEST and PARAMS only: no STDIN byte is ever sent and the stream never ends,
    # so an answer proves orgd refused on the announced length alone
    for length in (64 * 1024 + 1, 10 * 1024 * 1024, 999999999999):
        data = fcgi_begin() + fcgi_params(fcgi_signup_params(length))
        records, timed_out = fcgi_exchange(data, timeout=2.0)
        expect(any(t == FCGI_END_REQUEST for t, _, _ in records),
               f"CONTENT_LENGTH {length}: no answer within 2 s (orgd waits for the body?)")
        out = b"".join(c for t, _, c in records if t == FCGI_STDOUT)
        status, headers, body, raw = parse_cgi_response(out)
        check_error_body(status, headers, body, raw, 413, "payload_too_large",
                         what=f"CONTENT_LENGTH {length}")
    # a malformed CONTENT_LENGTH is a 400, also without waiting
    for bad in ("-1", "12a", " 10", "1e3", "0x10", "9999999999999999999999"):
        data = fcgi_begin() + fcgi_params(fcgi_signup_params(0) | {"CONTENT_LENGTH": bad})
        records, _ = fcgi_exchange(data, timeout=2.0)
        expect(any(t == FCGI_END_REQUEST for t, _, _ in records),
               f"CONTENT_LENGTH {bad!r}: no answer within 2 s")
        out = b"".join(c for t, _, c in records if t == FCGI_STDOUT)
        status, headers, body, raw = parse_cgi_response(out)
        expect(status in (400, 413), f"CONTENT_LENGTH {bad!r}: status {status}: {raw[:200]!r}")
        check_error_body(status, headers, body, raw, status,
                         "invalid_request" if status == 400 else "payload_too_large",
                         what=f"CONTENT_LENGTH {bad!r}")
    # exactly 64 KiB is read and decoded (400 for the unknown member, not 413)
    pad = b'{"x":"' + b"p" * (64 * 1024 - 8) + b'"}'
    expect_eq(len(pad), 64 * 1024, "pad length")
    expect_fcgi_error(fcgi_call("POST", "/v1/auth/signup", body=pad, timeout=5.0), 400,
                      "invalid_request", field="x", what="a body of exactly 64 KiB")


# --- forged identity headers -------------------------------------------------------------------

FORGED = {"X-User-Id": None, "X-Org-Id": "org_forged", "X-Forwarded-For": "10.0.0.1",
          "X-Real-IP": "10.0.0.1", "X-Forwarded-User": None, "X-Remote-User": None,
          "Remote-User": None}


def forged_headers(user_id):
    return {k: (user_id if v is None else v) for k, v in FORGED.items()}


@test
def forged_identity_headers_change_nothing():
    victim, _ = sign_in("victim")
    me, token = sign_in("forger")
    hdrs = forged_headers(victim["id"])
    # without a token: still 401, through nginx and straight to the socket
    expect_api_error(req("GET", "/v1/me", headers=hdrs), 401, "unauthenticated",
                     what="GET /v1/me with forged headers, no token")
    expect_fcgi_error(fcgi_call("GET", "/v1/me", headers=hdrs,
                                params={"REMOTE_USER": victim["id"], "AUTH_TYPE": "Bearer"}),
                      401, "unauthenticated", what="forged headers and REMOTE_USER on the socket")
    # with the forger's own token: the forger, never the victim
    st, _, body, raw = req("GET", "/v1/me", headers=hdrs, token=token)
    expect(st == 200, f"GET /v1/me with a token and forged headers: {st} {raw[:300]!r}")
    expect_eq(body["user"]["id"], me["id"], "user of /v1/me")
    expect_eq(body["user"]["email"], me["email"], "email of /v1/me")
    expect_eq(body.get("active_org"), None, "active_org of /v1/me")
    expect_eq(body.get("organizations"), [], "organizations of /v1/me")
    st, _, body, raw = fcgi_call("GET", "/v1/me", headers=hdrs,
                                 params={"HTTP_AUTHORIZATION": f"Bearer {token}"})
    expect(st == 200, f"the same on the socket: {st} {raw[:300]!r}")
    expect_eq(body["user"]["id"], me["id"], "user of /v1/me on the socket")
    # an organization-scoped route with a forged org header and no active organization
    expect_api_error(req("GET", "/v1/org", headers=hdrs, token=token), 403, "forbidden",
                     what="GET /v1/org with X-Org-Id and no active organization")


if __name__ == "__main__":
    main()
