"""test_sessions: sign-up, sign-in, /v1/me, sign-out, the login throttle and the JWK Set
through nginx (issue 3, acceptance 3); session tokens checked against an independent
implementation, OpenSSL's command line, in both directions (acceptance 2); and key
rotation with SIGHUP (acceptance 3). The rotation case restores the key directory to what
it was (one key) before it returns, so later test files see a normal stack."""

import base64
import glob
import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time

from orgdtest import (concurrently, db_query, expect, expect_eq, expect_error, main, orgd_master_pid,
                      orgd_worker_pids, alive, req, stack_paths, test, wait_until)

AUD = "rule-engine"
ISS = "orgd"
ED25519_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")
TTL = int(os.environ.get("ORGD_SESSION_TTL", "43200"))


# --- helpers ------------------------------------------------------------------------------

def uniq():
    return secrets.token_hex(6)


def new_email(tag="u"):
    return f"{tag}-{uniq()}@example.com"


def b64u(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_dec(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def cjson(obj):
    return json.dumps(obj, separators=(",", ":"))


def signup(email, password="correct horse battery", name="Test User"):
    return req("POST", "/v1/auth/signup", body={"email": email, "password": password, "name": name})


def login(email, password="correct horse battery"):
    return req("POST", "/v1/auth/login", body={"email": email, "password": password})


def new_user(tag="u", password="correct horse battery"):
    """Signs up and logs in a fresh user; returns (email, signup user, login body)."""
    email = new_email(tag)
    st, _, body, raw = signup(email, password)
    expect_eq(st, 201, f"signup status ({raw[:200]!r})")
    st, _, lbody, raw = login(email, password)
    expect_eq(st, 200, f"login status ({raw[:200]!r})")
    return email, body["user"], lbody


def me(token):
    return req("GET", "/v1/me", token=token)


def expect_me_ok(token, user_id, what="/v1/me"):
    st, _, body, raw = me(token)
    expect_eq(st, 200, f"{what} status ({raw[:200]!r})")
    expect_eq(body["user"]["id"], user_id, f"{what} user id")


def expect_me_401(token, what="/v1/me"):
    resp = me(token)
    expect(resp[0] == 401, f"{what}: status {resp[0]}, want 401: {resp[3][:200]!r}")
    expect_error(resp, 401, "unauthenticated")


def split_token(tok):
    parts = tok.split(".")
    expect_eq(len(parts), 3, "token segments")
    return parts


def token_header(tok):
    return json.loads(b64u_dec(split_token(tok)[0]))


def token_claims(tok):
    return json.loads(b64u_dec(split_token(tok)[1]))


def jwks():
    st, headers, body, raw = req("GET", "/v1/auth/jwks.json")
    expect_eq(st, 200, f"jwks status ({raw[:200]!r})")
    expect(headers.get("Content-Type", "").startswith("application/json"),
           f"jwks Content-Type {headers.get('Content-Type')!r}")
    expect(isinstance(body, dict) and isinstance(body.get("keys"), list), f"jwks body {raw[:300]!r}")
    return body["keys"]


def thumbprint(x):
    """RFC 7638 JWK thumbprint of an Ed25519 OKP key with public x (base64url)."""
    canon = '{"crv":"Ed25519","kty":"OKP","x":"' + x + '"}'
    return b64u(hashlib.sha256(canon.encode()).digest())


def run(*args, input_bytes=None):
    return subprocess.run(list(args), input=input_bytes, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=30)


def pub_x_of_file(path):
    """The raw Ed25519 public key (base64url) of a PEM key file, via openssl."""
    pub = "-pubin" if "PUBLIC KEY" in open(path).read() else None
    args = ["openssl", "pkey", "-in", path, "-pubout", "-outform", "DER"]
    if pub:
        args.insert(2, pub)
    p = run(*args)
    expect(p.returncode == 0, f"openssl pkey {path}: {p.stderr.decode()[:300]}")
    expect(p.stdout.startswith(ED25519_SPKI_PREFIX) and len(p.stdout) == 44,
           f"{path} is not an Ed25519 key")
    return b64u(p.stdout[12:])


def pem_from_x(x):
    raw = b64u_dec(x)
    expect_eq(len(raw), 32, "length of the JWK x")
    der = ED25519_SPKI_PREFIX + raw
    return ("-----BEGIN PUBLIC KEY-----\n" + base64.b64encode(der).decode()
            + "\n-----END PUBLIC KEY-----\n")


def openssl_verify(x, signing_input, sig):
    """Verifies sig over signing_input with the public key x using the openssl CLI only.
    Returns (verified, output)."""
    with tempfile.TemporaryDirectory() as d:
        pub, inp, sigf = (os.path.join(d, n) for n in ("pub.pem", "input", "sig.bin"))
        with open(pub, "w") as f:
            f.write(pem_from_x(x))
        with open(inp, "wb") as f:
            f.write(signing_input)
        with open(sigf, "wb") as f:
            f.write(sig)
        p = run("openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin",
                "-in", inp, "-sigfile", sigf)
        out = (p.stdout + p.stderr).decode(errors="replace")
        return p.returncode == 0 and "Signature Verified Successfully" in out, out


def openssl_sign(keyfile, data):
    """Ed25519 signature of data by the private key in keyfile, made by the openssl CLI."""
    with tempfile.TemporaryDirectory() as d:
        inp, sigf = os.path.join(d, "input"), os.path.join(d, "sig")
        with open(inp, "wb") as f:
            f.write(data)
        p = run("openssl", "pkeyutl", "-sign", "-inkey", keyfile, "-rawin", "-in", inp,
                "-out", sigf)
        expect(p.returncode == 0, f"openssl pkeyutl -sign: {p.stderr.decode()[:300]}")
        with open(sigf, "rb") as f:
            sig = f.read()
    expect_eq(len(sig), 64, "length of openssl's Ed25519 signature")
    return sig


def make_token(keyfile, header, claims):
    """A compact JWS signed outside orgd: header and claims are dicts (or raw strings)."""
    h = header if isinstance(header, str) else cjson(header)
    c = claims if isinstance(claims, str) else cjson(claims)
    signing_input = (b64u(h) + "." + b64u(c)).encode()
    return signing_input.decode() + "." + b64u(openssl_sign(keyfile, signing_input))


_key_dir = None


def key_dir():
    global _key_dir
    if _key_dir is None:
        _key_dir = os.environ.get("ORGD_KEY_DIR") or stack_paths()["KEY_DIR"]
    return _key_dir


def private_key_files():
    out = []
    for f in sorted(glob.glob(os.path.join(key_dir(), "*.pem"))):
        with open(f) as fh:
            if "PRIVATE KEY" in fh.read():
                out.append(f)
    return out


def signer_key(kid):
    """The private key file in the key directory whose thumbprint is kid."""
    for f in private_key_files():
        if thumbprint(pub_x_of_file(f)) == kid:
            return f
    raise AssertionError(f"no private key in {key_dir()} has kid {kid}")


def session_of(tag="ext"):
    """A fresh logged-in user: (user id, claims of their orgd token, token, signer key file)."""
    _, user, lbody = new_user(tag)
    tok = lbody["token"]
    kid = token_header(tok)["kid"]
    return user["id"], token_claims(tok), tok, signer_key(kid)


def outside_claims(c, **over):
    now = int(time.time())
    claims = {"iss": ISS, "aud": AUD, "sub": c["sub"], "sid": c["sid"], "iat": now, "exp": now + 600}
    claims.update(over)
    return claims


def header_for(keyfile, **over):
    h = {"alg": "EdDSA", "typ": "JWT", "kid": thumbprint(pub_x_of_file(keyfile))}
    h.update(over)
    return h


# --- sign-up, sign-in, sign-out -------------------------------------------------------------

@test
def signup_answers_201_user_with_normalised_email():
    local = f"Alice-{uniq()}"
    given = f"  {local}@Example.COM "
    want = f"{local.lower()}@example.com"
    st, headers, body, raw = signup(given, name="Alice A.")
    expect_eq(st, 201, f"status ({raw[:300]!r})")
    expect(headers.get("Content-Type", "").startswith("application/json"), "Content-Type")
    expect_eq(set(body), {"user"}, "top-level keys")
    u = body["user"]
    expect_eq(set(u), {"id", "email", "name", "email_verified"}, "user keys")
    expect(u["email_verified"] is False, f"email_verified at sign-up {u['email_verified']!r}")
    expect(isinstance(u["id"], str) and u["id"], f"user id {u['id']!r}")
    expect_eq(u["email"], want, "email in the answer")
    expect_eq(u["name"], "Alice A.", "name")
    rows = db_query(f"SELECT email, name FROM users WHERE id='{u['id']}'")
    expect_eq(rows, [[want, "Alice A."]], "stored user row")
    # the normalised address logs in, whatever case and spacing it is typed with
    for typed in (want, given, want.upper()):
        st, _, lbody, raw = login(typed)
        expect_eq(st, 200, f"login as {typed!r} ({raw[:200]!r})")
        expect_eq(lbody["user"]["id"], u["id"], f"user of login as {typed!r}")


@test
def login_answers_token_user_and_null_active_org_without_organizations():
    email = new_email("login")
    _, _, sbody, _ = signup(email, name="Login Tester")
    st, headers, body, raw = login(email)
    expect_eq(st, 200, f"status ({raw[:300]!r})")
    expect_eq(set(body), {"token", "user", "organizations", "active_org"}, "keys")
    expect_eq(body["user"], {"id": sbody["user"]["id"], "email": email, "name": "Login Tester",
                             "email_verified": False}, "user")
    expect_eq(body["organizations"], [], "organizations")
    expect(body["active_org"] is None, f"active_org {body['active_org']!r}, want null")
    expect(isinstance(body["token"], str) and body["token"].count(".") == 2,
           f"token {body['token']!r}")
    c = token_claims(body["token"])
    expect("org" not in c and "role" not in c, f"org/role claims without an organization: {c}")
    expect(b"scrypt" not in raw and b"$" not in raw, f"hash material in the answer: {raw[:300]!r}")


@test
def me_answers_the_tokens_user():
    email, user, lbody = new_user("me")
    st, _, body, raw = me(lbody["token"])
    expect_eq(st, 200, f"status ({raw[:300]!r})")
    expect_eq(body, {"user": {"id": user["id"], "email": email, "name": "Test User",
                              "email_verified": False},
                     "organizations": [], "active_org": None}, "/v1/me body")
    expect_error(req("GET", "/v1/me"), 401, "unauthenticated")
    expect_error(req("GET", "/v1/me", headers={"Authorization": "Basic Zm9vOmJhcg=="}), 401,
                 "unauthenticated")
    expect_me_401(lbody["token"] + "x", "a token with a byte appended")


@test
def logout_is_204_and_the_token_is_refused_after():
    email, user, lbody = new_user("logout")
    tok = lbody["token"]
    st, _, body2, _ = login(email)
    expect_eq(st, 200, "second login")
    other = body2["token"]
    expect_me_ok(tok, user["id"], "before logout")
    st, _, _, raw = req("POST", "/v1/auth/logout", token=tok)
    expect_eq(st, 204, f"logout status ({raw[:200]!r})")
    expect_eq(raw, b"", "logout body")
    for i in range(6):  # several requests: every worker refuses it, cached or not
        expect_me_401(tok, f"/v1/me after logout (try {i})")
    expect_error(req("POST", "/v1/auth/logout", token=tok), 401, "unauthenticated")
    # only that session is revoked: the user's other session lives on
    expect_me_ok(other, user["id"], "the user's other session")


@test
def duplicate_email_is_409_also_differing_in_case_or_white_space():
    local = f"dup-{uniq()}"
    email = f"{local}@example.com"
    expect_eq(signup(email)[0], 201, "first signup")
    for again in (email, f"{local.upper()}@EXAMPLE.com", f"  {email}\t", f"{local}@Example.Com "):
        resp = signup(again, password="another password 1")
        expect_error(resp, 409, "conflict")
    rows = db_query(f"SELECT COUNT(*) FROM users WHERE email='{email}'")
    expect_eq(rows, [["1"]], "users with that email")
    # the first account's password still logs in; the duplicate's does not
    expect_eq(login(email)[0], 200, "login with the first password")
    expect_eq(login(email, "another password 1")[0], 401, "login with the duplicate's password")


@test
def password_must_be_10_to_128_characters():
    for pw in ("a" * 9, "é" * 9, "", "b" * 129, "é" * 129):
        resp = signup(new_email("pw"), password=pw)
        expect_error(resp, 400, "invalid_request")
        expect_eq(resp[2]["error"].get("field"), "password", f"field for a {len(pw)}-char password")
    for pw in ("a" * 10, "c" * 128, "é" * 10, "é" * 128):
        email = new_email("pw")
        st, _, _, raw = signup(email, password=pw)
        expect_eq(st, 201, f"signup with a {len(pw)}-character password ({raw[:200]!r})")
        expect_eq(login(email, pw)[0], 200, f"login with the {len(pw)}-character password")


@test
def bad_email_is_400_with_field_email():
    for bad in ("not-an-email", "", "   ", "@example.com", f"u{uniq()}@", "a@@example.com",
                f"a{uniq()}@b@example.com", f"sp ace{uniq()}@example.com", f"u{uniq()}@example",
                f"u{uniq()}@.example.com", f"u{uniq()}@example..com", f"u{uniq()}@exa mple.com",
                f"<u{uniq()}@example.com>", f"u{uniq()}@exam_ple.com"):
        resp = signup(bad)
        expect_error(resp, 400, "invalid_request")
        expect_eq(resp[2]["error"].get("field"), "email", f"field for {bad!r}")
        st = db_query("SELECT COUNT(*) FROM users WHERE email=" + _sql_str(bad.strip().lower()))
        expect_eq(st, [["0"]], f"users stored for {bad!r}")
    # a NUL inside the address is refused too (orgd refuses NUL in any body string, so
    # no field is required here), and nothing is stored
    nul = f"u{uniq()}@example.com"
    expect_error(signup(nul + "\u0000x"), 400, "invalid_request")
    expect_eq(db_query(f"SELECT COUNT(*) FROM users WHERE email LIKE '{nul}%'"), [["0"]],
              "users stored for an address with a NUL")


def _sql_str(s):
    return "'" + s.replace("\\", "\\\\").replace("'", "''").replace("\0", "\\0") + "'"


@test
def wrong_password_and_unknown_email_get_the_same_401():
    email, _, _ = new_user("same401")
    wrong = login(email, "wrong password!!")
    unknown = login(new_email("nobody"), "wrong password!!")
    expect_error(wrong, 401, "unauthenticated")
    expect_error(unknown, 401, "unauthenticated")
    expect_eq(wrong[3], unknown[3], "401 body for a wrong password vs an unknown email")
    expect_eq(wrong[1].get("Content-Type"), unknown[1].get("Content-Type"), "Content-Type")
    expect("token" not in wrong[3].decode(), "a token in a refused login")


@test
def sixth_failed_login_is_429_even_with_the_right_password():
    email, _, _ = new_user("throttle")
    bystander, _, _ = new_user("bystander")
    for i in range(5):
        resp = login(email, f"wrong password {i}")
        expect_error(resp, 401, "unauthenticated")
    resp = login(email, "wrong password 5")
    expect_error(resp, 429, "rate_limited")
    resp = login(email)  # the right password is refused too while the window lasts
    expect_error(resp, 429, "rate_limited")
    expect("token" not in resp[3].decode(), "a token in a throttled login")
    # the throttle is per email, also as the user types it
    expect_error(login(f"  {email.upper()} "), 429, "rate_limited")
    st, _, body, raw = login(bystander)
    expect_eq(st, 200, f"another email's login ({raw[:200]!r})")
    expect_me_ok(body["token"], body["user"]["id"], "the other email's token")


@test
def parallel_wrong_passwords_cannot_slip_past_the_throttle():
    """24 wrong passwords for one email at the same moment: each attempt is recorded before
    its password is checked, so at most 5 are checked (401) and the rest are 429, or 503
    where the host's bound on hashes at once was full (API.md); then even the right
    password is 429."""
    email, _, _ = new_user("parallel")
    answers = concurrently(24, lambda i: login(email, f"wrong password {i}")[0])
    failed = [a for a in answers if a == 401]
    expect(set(answers) <= {401, 429, 503}, f"answers {sorted(set(answers))}")
    expect(1 <= len(failed) <= 5, f"{len(failed)} passwords were checked, want at most 5")
    expect_error(login(email), 429, "rate_limited")


@test
def a_successful_sign_in_does_not_count_as_a_failure():
    email, _, _ = new_user("success")
    for i in range(10):  # ten good sign-ins in a row stay under the limit of five failures
        st, _, _, raw = login(email)
        expect(st == 200, f"sign-in #{i}: {st} {raw[:200]!r}")
    for i in range(4):
        expect_error(login(email, f"wrong {i}"), 401, "unauthenticated")
    st, _, _, raw = login(email)
    expect(st == 200, f"after 4 failures the right password: {st} {raw[:200]!r}")


@test
def jwks_lists_ed25519_public_keys_without_private_material():
    keys = jwks()
    expect(len(keys) >= 1, "no key in the JWK Set")
    for k in keys:
        expect_eq(set(k), {"kty", "crv", "x", "kid", "alg", "use"}, "JWK members")
        expect_eq((k["kty"], k["crv"], k["alg"], k["use"]), ("OKP", "Ed25519", "EdDSA", "sig"),
                  "kty, crv, alg, use")
        expect("d" not in k, "private key material (d) in the JWK Set")
        expect_eq(len(b64u_dec(k["x"])), 32, "length of x")
        expect_eq(b64u(b64u_dec(k["x"])), k["x"], "x is canonical unpadded base64url")
        expect_eq(k["kid"], thumbprint(k["x"]), "kid is the RFC 7638 thumbprint")
    # the listed key is the one in the key directory
    on_disk = {pub_x_of_file(f) for f in glob.glob(os.path.join(key_dir(), "*.pem"))}
    expect_eq({k["x"] for k in keys}, on_disk, "public keys listed vs keys on disk")
    st, _, _, raw = req("GET", "/v1/auth/jwks.json")
    expect(b'"d"' not in raw and b"PRIVATE" not in raw, f"private material in {raw[:300]!r}")


# --- interoperability: orgd's tokens and OpenSSL's ----------------------------------------------

@test
def orgd_token_has_the_standard_header_and_claims():
    _, user, lbody = new_user("hdr")
    tok = lbody["token"]
    h64, c64, s64 = split_token(tok)
    for seg in (h64, c64, s64):
        expect("=" not in seg and "+" not in seg and "/" not in seg, f"not base64url: {seg!r}")
    keys = {k["kid"]: k for k in jwks()}
    header = json.loads(b64u_dec(h64))
    expect(header.get("kid") in keys, f"kid {header.get('kid')!r} not in the JWK Set {list(keys)}")
    expect_eq(header, {"alg": "EdDSA", "typ": "JWT", "kid": header["kid"]}, "header")
    expect_eq(header["kid"], thumbprint(keys[header["kid"]]["x"]), "kid is the RFC 7638 thumbprint")
    c = json.loads(b64u_dec(c64))
    expect_eq(set(c), {"iss", "aud", "sub", "sid", "iat", "exp"}, "claims without an organization")
    expect_eq((c["iss"], c["aud"], c["sub"]), (ISS, AUD, user["id"]), "iss, aud, sub")
    expect(isinstance(c["sid"], str) and c["sid"], f"sid {c['sid']!r}")
    expect(type(c["iat"]) is int and type(c["exp"]) is int, f"iat/exp types {c}")
    expect(abs(c["iat"] - time.time()) < 120, f"iat {c['iat']} vs now {int(time.time())}")
    expect_eq(c["exp"] - c["iat"], TTL, "lifetime (exp - iat)")
    expect_eq(len(b64u_dec(s64)), 64, "signature length")


@test
def orgd_token_verifies_with_openssl_and_the_jwks_key():
    _, _, lbody = new_user("interop")
    tok = lbody["token"]
    h64, c64, s64 = split_token(tok)
    kid = token_header(tok)["kid"]
    key = {k["kid"]: k for k in jwks()}[kid]
    signing_input = (h64 + "." + c64).encode("ascii")
    ok, out = openssl_verify(key["x"], signing_input, b64u_dec(s64))
    expect(ok, f"openssl did not verify orgd's token: {out.strip()[:300]}")
    # the independent verifier is not a rubber stamp: one changed byte fails
    bad = signing_input[:-1] + (b"A" if signing_input[-1:] != b"A" else b"B")
    ok, out = openssl_verify(key["x"], bad, b64u_dec(s64))
    expect(not ok, f"openssl verified a changed input: {out.strip()[:300]}")


@test
def token_signed_outside_orgd_is_accepted():
    uid, c, _, keyfile = session_of("outside")
    tok = make_token(keyfile, header_for(keyfile), outside_claims(c))
    for i in range(3):
        expect_me_ok(tok, uid, f"/v1/me with an openssl-signed token (try {i})")
    # the same claims in another member order and key order still verify (any valid JSON)
    now = int(time.time())
    raw_claims = ('{"exp":%d,"sid":"%s","aud":"%s","iat":%d,"sub":"%s","iss":"%s"}'
                  % (now + 300, c["sid"], AUD, now, c["sub"], ISS))
    raw_header = '{"kid":"%s","typ":"JWT","alg":"EdDSA"}' % header_for(keyfile)["kid"]
    expect_me_ok(make_token(keyfile, raw_header, raw_claims), uid, "reordered members")
    # within the 60 s leeway an expired token is still accepted
    expect_me_ok(make_token(keyfile, header_for(keyfile),
                            outside_claims(c, iat=now - 700, exp=now - 20)), uid,
                 "exp 20 s ago (within the leeway)")


@test
def claim_changed_after_signing_is_401():
    uid, c, _, keyfile = session_of("tamper")
    other_uid, c2, _, _ = session_of("tamper2")
    tok = make_token(keyfile, header_for(keyfile), outside_claims(c))
    expect_me_ok(tok, uid, "the untouched token")
    h64, c64, s64 = split_token(tok)
    claims = json.loads(b64u_dec(c64))
    for name, value in (("exp", claims["exp"] + 1), ("sub", c2["sub"]), ("sid", c2["sid"]),
                        ("iat", claims["iat"] - 1)):
        changed = dict(claims, **{name: value})
        forged = h64 + "." + b64u(cjson(changed)) + "." + s64
        expect_me_401(forged, f"token with {name} changed after signing")
    # the header is signed too
    forged = b64u(cjson(dict(header_for(keyfile), typ="JWS"))) + "." + c64 + "." + s64
    expect_me_401(forged, "token with the header changed after signing")
    # a valid signature over a sub that does not own the sid
    swapped = make_token(keyfile, header_for(keyfile), outside_claims(c, sub=other_uid))
    expect_me_401(swapped, "sid of one user with sub of another")


@test
def outside_token_for_a_logged_out_session_is_401():
    uid, c, orgd_tok, keyfile = session_of("revoked")
    tok = make_token(keyfile, header_for(keyfile), outside_claims(c))
    expect_me_ok(tok, uid, "before logout")
    expect_eq(req("POST", "/v1/auth/logout", token=orgd_tok)[0], 204, "logout")
    expect_me_401(tok, "an openssl-signed token for the logged-out sid")
    fresh = make_token(keyfile, header_for(keyfile),
                       outside_claims(c, iat=int(time.time()) + 1))
    expect_me_401(fresh, "a never-seen token for the logged-out sid")
    expect_me_401(make_token(keyfile, header_for(keyfile), outside_claims(c, sid="ses_" + uniq())),
                  "a sid no session has")


@test
def token_expired_beyond_the_leeway_is_401():
    uid, c, _, keyfile = session_of("expired")
    now = int(time.time())
    expect_me_ok(make_token(keyfile, header_for(keyfile), outside_claims(c)), uid, "control")
    expect_me_401(make_token(keyfile, header_for(keyfile),
                             outside_claims(c, iat=now - 1000, exp=now - 120)),
                  "exp 120 s ago")
    expect_me_401(make_token(keyfile, header_for(keyfile),
                             outside_claims(c, iat=now - 90000, exp=now - 86400)),
                  "exp a day ago")
    expect_me_401(make_token(keyfile, header_for(keyfile),
                             outside_claims(c, iat=now + 600, exp=now + 1200)),
                  "iat 10 minutes in the future")


@test
def alg_none_with_an_empty_signature_is_401():
    uid, c, orgd_tok, keyfile = session_of("none")
    h64, c64, _ = split_token(orgd_tok)
    kid = token_header(orgd_tok)["kid"]
    claims64 = b64u(cjson(outside_claims(c)))
    for header in ({"alg": "none", "typ": "JWT"}, {"alg": "none", "typ": "JWT", "kid": kid},
                   {"alg": "None", "typ": "JWT", "kid": kid}):
        expect_me_401(b64u(cjson(header)) + "." + claims64 + ".", f"header {header}")
    expect_me_401(h64 + "." + c64 + ".", "orgd's own header and claims with no signature")
    # an EdDSA signature made with the key, under an alg that is not EdDSA
    for alg in ("none", "HS256", "EdDSA ", "ES256"):
        tok = make_token(keyfile, header_for(keyfile, alg=alg), outside_claims(c))
        expect_me_401(tok, f"a valid signature under alg {alg!r}")
    expect_me_ok(orgd_tok, uid, "orgd's own token still works")


@test
def aud_array_holding_ours_is_accepted_others_refused():
    uid, c, _, keyfile = session_of("aud")
    h = header_for(keyfile)
    for aud in (["rule-engine"], ["billing", "rule-engine"], ["rule-engine", "other"]):
        expect_me_ok(make_token(keyfile, h, outside_claims(c, aud=aud)), uid, f"aud {aud}")
    for aud in (["rule-engine-x"], ["rule-engine-x", "x-rule-engine"], "rule-engine-x",
                "rule-engin", ["Rule-Engine"], [], "", ["rule-engine\u0000"]):
        expect_me_401(make_token(keyfile, h, outside_claims(c, aud=aud)), f"aud {aud!r}")
    for iss in ("orgd-x", "org", "ORGD", ""):
        expect_me_401(make_token(keyfile, h, outside_claims(c, iss=iss)), f"iss {iss!r}")


@test
def token_signed_by_a_key_not_in_the_ring_is_401():
    uid, c, _, keyfile = session_of("foreign")
    with tempfile.TemporaryDirectory() as d:
        foreign = os.path.join(d, "foreign.pem")
        p = run("openssl", "genpkey", "-algorithm", "ed25519", "-out", foreign)
        expect(p.returncode == 0, f"openssl genpkey: {p.stderr.decode()[:200]}")
        claims = outside_claims(c)
        # its own kid: unknown to orgd
        expect_me_401(make_token(foreign, header_for(foreign), claims), "a foreign key's own kid")
        # orgd's kid: the signature does not verify with orgd's key
        expect_me_401(make_token(foreign, header_for(keyfile), claims),
                      "a foreign key's signature under orgd's kid")
    expect_me_ok(make_token(keyfile, header_for(keyfile), claims), uid, "control with orgd's key")


@test
def deleted_users_token_is_401():
    _, user, lbody = new_user("deleted")
    tok = lbody["token"]
    expect_me_ok(tok, user["id"], "before the delete")
    db_query(f"DELETE FROM users WHERE id='{user['id']}'")
    for i in range(4):
        expect_me_401(tok, f"/v1/me of a deleted user (try {i})")
    expect_error(req("POST", "/v1/auth/logout", token=tok), 401, "unauthenticated")


# --- rotation ----------------------------------------------------------------------------

def reload_orgd(want_kids, timeout=20.0):
    """SIGHUPs the orgd master and waits until every old worker is gone and the JWK Set
    (asked several times, so several workers answer) lists exactly want_kids."""
    master = orgd_master_pid()
    expect(master is not None, "no orgd master pid")
    before = set(orgd_worker_pids())
    os.kill(master, signal.SIGHUP)

    def settled():
        if any(alive(p) for p in before):
            return False
        if not orgd_worker_pids():
            return False
        for _ in range(8):
            try:
                if {k["kid"] for k in jwks()} != set(want_kids):
                    return False
            except Exception:  # noqa: BLE001 - a worker may be starting
                return False
        return True

    if not wait_until(settled, timeout, 0.1):
        got = None
        try:
            got = [k["kid"] for k in jwks()]
        except Exception:  # noqa: BLE001
            pass
        raise AssertionError(f"after SIGHUP the JWK Set is {got}, want {sorted(want_kids)} "
                             f"(old workers alive: {[p for p in before if alive(p)]})")


def newer_name(existing):
    """A UTC-timestamp file stem that sorts after every existing stem."""
    stem = time.strftime("%Y%m%d%H%M%S", time.gmtime())
    stems = [os.path.basename(f).split(".")[0] for f in existing]
    top = max(stems) if stems else ""
    if stem <= top:
        stem = str(int(top) + 1) if top.isdigit() else top + "z"
    return stem


@test
def rotation_keeps_old_tokens_and_new_tokens_carry_the_new_kid():
    kdir = key_dir()
    original = sorted(glob.glob(os.path.join(kdir, "*.pem")))
    expect_eq(len(original), 1, f"keys in {kdir} at the start")
    backup = tempfile.mkdtemp(prefix="orgd-keys-")
    for f in original:
        shutil.copy2(f, backup)
    old_file = original[0]
    old_kid = thumbprint(pub_x_of_file(old_file))
    try:
        expect_eq([k["kid"] for k in jwks()], [old_kid], "JWK Set before the rotation")
        _, user, lbody = new_user("rot-old")
        old_tok = lbody["token"]
        expect_eq(token_header(old_tok)["kid"], old_kid, "kid of a token before the rotation")
        _, c_old, _, _ = session_of("rot-old2")
        expect_me_ok(old_tok, user["id"], "old token before the rotation")

        # 1. add a newer key and reload
        new_file = os.path.join(kdir, newer_name(original) + ".pem")
        p = run("openssl", "genpkey", "-algorithm", "ed25519", "-out", new_file)
        expect(p.returncode == 0, f"openssl genpkey: {p.stderr.decode()[:200]}")
        os.chmod(new_file, 0o600)
        new_kid = thumbprint(pub_x_of_file(new_file))
        reload_orgd({old_kid, new_kid})
        keys = {k["kid"]: k for k in jwks()}
        expect_eq(keys[new_kid]["x"], pub_x_of_file(new_file), "the new key's x in the JWK Set")
        for i in range(6):
            expect_me_ok(old_tok, user["id"], f"old token after adding a key (try {i})")
        _, user2, lbody2 = new_user("rot-new")
        new_tok = lbody2["token"]
        expect_eq(token_header(new_tok)["kid"], new_kid, "kid of a token after adding a key")
        h64, c64, s64 = split_token(new_tok)
        ok, out = openssl_verify(keys[new_kid]["x"], (h64 + "." + c64).encode(), b64u_dec(s64))
        expect(ok, f"openssl did not verify the new key's token: {out.strip()[:200]}")
        ok, _ = openssl_verify(keys[old_kid]["x"], (h64 + "." + c64).encode(), b64u_dec(s64))
        expect(not ok, "the new token verified with the old key")
        expect_me_ok(new_tok, user2["id"], "new token")

        # 2. retire the old key: only its public half stays
        pub_file = os.path.join(kdir, os.path.basename(old_file)[:-4] + ".pub.pem")
        p = run("openssl", "pkey", "-in", old_file, "-pubout", "-out", pub_file)
        expect(p.returncode == 0, f"openssl pkey -pubout: {p.stderr.decode()[:200]}")
        os.remove(old_file)
        reload_orgd({old_kid, new_kid})
        for i in range(6):
            expect_me_ok(old_tok, user["id"], f"old token after retiring its key (try {i})")
            expect_me_ok(new_tok, user2["id"], f"new token after retiring the old key (try {i})")
        # a token the old key signed, never seen by these workers, still verifies
        late = make_token(os.path.join(backup, os.path.basename(old_file)),
                          {"alg": "EdDSA", "typ": "JWT", "kid": old_kid}, outside_claims(c_old))
        expect_me_ok(late, c_old["sub"], "an old-key token first seen after retirement")
        _, user3, lbody3 = new_user("rot-after")
        expect_eq(token_header(lbody3["token"])["kid"], new_kid,
                  "kid of a token after retiring the old key")
        expect_me_ok(lbody3["token"], user3["id"], "token after retiring the old key")
        # the new key is the only signer now
        expect_eq([os.path.basename(f) for f in private_key_files()], [os.path.basename(new_file)],
                  "private keys on disk")
    finally:
        for f in glob.glob(os.path.join(kdir, "*.pem")):
            os.remove(f)
        for f in original:
            shutil.copy2(os.path.join(backup, os.path.basename(f)), f)
            os.chmod(f, 0o600)
        shutil.rmtree(backup, ignore_errors=True)
        reload_orgd({old_kid})
    _, user4, lbody4 = new_user("rot-restored")
    expect_eq(token_header(lbody4["token"])["kid"], old_kid, "kid after restoring the key directory")
    expect_me_ok(lbody4["token"], user4["id"], "token after restoring the key directory")


if __name__ == "__main__":
    main()
