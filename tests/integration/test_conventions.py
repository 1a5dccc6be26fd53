"""test_conventions: API.md "Conventions", the list and HTTP rules, on every list.

- Lists: ?limit=1 walks each list (/v1/orgs, /v1/org/members, /v1/org/projects,
  /v1/org/environments, /v1/org/audit, /v1/org/billing/ledger, /v1/plans, and
  /v1/org/billing/purchases, /v1/invitations) to the end with
  ?after=<last id>, ending with has_more false; an `after` that names no row of the list
  (deleted since, another organization's, never issued, non-ASCII, over-long, empty) is
  400 field "after"; a bad ?limit= is 400 field "limit".
- HTTP: a 405 carries Allow with the methods of the path; a 401 carries
  WWW-Authenticate: Bearer; HEAD is GET without the body; two Idempotency-Key headers are
  400 field "Idempotency-Key" and change nothing, on any route.
- Ids that are no id of ours (non-ASCII, over-long), in a body or in a path: 404 or 400,
  never 500, and nothing reaches the orgd log at level=error.

The list cases share one fixture (World: organizations A, B and C with members, invitations,
projects, environments, audit entries, purchases and ledger rows), made once through the
API (members join by invitation, verified email and accept; the verification link is read
from the stack's mail sink); every other case makes its own users and organizations.
Emails carry a random suffix, so runs never collide."""

import email
import email.policy
import http.client
import itertools
import json
import os
import re
import secrets
import socket
import subprocess
import time
import urllib.parse

from orgdtest import (REPO, URL, VAR, Failure, expect, expect_eq, main, req, stack_paths,
                      test)

PASSWORD = "correct horse battery staple"
RUN = secrets.token_hex(4)
_seq = itertools.count()
_url = urllib.parse.urlsplit(URL)
HOST, PORT = _url.hostname or "127.0.0.1", _url.port or 80
B32 = "abcdefghijklmnopqrstuvwxyz234567"


def uniq(tag):
    return f"{tag}-{RUN}-{next(_seq)}"


def new_email(tag="user"):
    return f"{uniq(tag)}@example.test"


def fake_id(prefix, n=20):
    """An id of our shape that was never issued."""
    return prefix + "_" + "".join(secrets.choice(B32) for _ in range(n))


def enc(v):
    return urllib.parse.quote(v, safe="")


def call(method, path, token=None, body=None, want=None, what=None, headers=None):
    """One request; with want, fails unless the status is want. Returns (status, JSON, raw)."""
    st, _h, b, raw = req(method, path, body=body, token=token, headers=headers)
    if want is not None:
        expect(st == want, f"{what or method + ' ' + path}: status {st}, want {want}: {raw[:300]!r}")
    return st, b, raw


def expect_field_error(resp, status, field, what):
    """resp is (status, JSON, raw): an API error of that status naming field."""
    st, b, raw = resp
    codes = {400: "invalid_request", 404: "not_found", 405: "method_not_allowed",
             401: "unauthenticated"}
    expect(st == status, f"{what}: status {st}, want {status}: {raw[:300]!r}")
    err = b.get("error") if isinstance(b, dict) else None
    expect(isinstance(err, dict), f"{what}: no error object: {raw[:300]!r}")
    expect_eq(err.get("code"), codes[status], f"{what}: error code")
    expect_eq(err.get("field"), field, f"{what}: error field")


class User:
    def __init__(self, tag="user"):
        self.email = new_email(tag)
        _, b, _ = call("POST", "/v1/auth/signup", body={
            "email": self.email, "password": PASSWORD, "name": f"{tag} {RUN}"}, want=201,
            what=f"signup {self.email}")
        self.id = b["user"]["id"]
        self._session = None

    def session(self):
        if self._session is None:
            _, b, _ = call("POST", "/v1/auth/login",
                           body={"email": self.email, "password": PASSWORD}, want=200,
                           what=f"login {self.email}")
            self._session = b["token"]
        return self._session

    def token_for(self, org_id):
        _, b, _ = call("POST", "/v1/auth/switch", token=self.session(), body={"org_id": org_id},
                       want=200, what=f"switch {self.email} to {org_id}")
        return b["token"]

    def verify(self):
        """Verifies the email address with the token of the verification email."""
        if getattr(self, "_verified", False):
            return
        link = wait_for_link(self.email, "/verify-email?token=")
        token = urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)["token"][0]
        call("POST", "/v1/auth/verify-email", body={"token": token}, want=200,
             what=f"verify {self.email}")
        self._verified = True

    def accept(self, org):
        """Accepts the pending invitation to org; returns a token scoped to it."""
        self.verify()
        _, b, _ = call("GET", "/v1/invitations?limit=100", token=self.session(), want=200,
                       what=f"invitations of {self.email}")
        ids = [i["id"] for i in b["data"] if i["org"]["id"] == org.id]
        expect(len(ids) == 1, f"{self.email}: invitations to {org.id}: {b['data']!r}")
        _, b, _ = call("POST", f"/v1/invitations/{ids[0]}/accept", token=self.session(),
                       want=200, what=f"{self.email} accepts {ids[0]}")
        return b["token"]


_mail_dir = None


def wait_for_link(to, marker, timeout=20.0):
    """The link holding marker, on a line of its own, of a message to `to` in the stack's
    mail sink (a Maildir: MAIL_DIR of scripts/stack paths)."""
    global _mail_dir
    if _mail_dir is None:
        _mail_dir = stack_paths().get("MAIL_DIR") or os.path.join(VAR, "mail")
    deadline = time.monotonic() + timeout
    while True:
        for sub in ("new", "cur"):
            d = os.path.join(_mail_dir, sub)
            for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
                try:
                    with open(os.path.join(d, name), "rb") as f:
                        msg = email.message_from_binary_file(f, policy=email.policy.default)
                except OSError:
                    continue
                if str(msg.get("To", "")).strip().lower() != to.lower():
                    continue
                body = msg.get_body(preferencelist=("plain",))
                text = body.get_content() if body else ""
                for line in text.splitlines():
                    if marker in line and re.match(r"^\S+$", line.strip()):
                        return line.strip()
        expect(time.monotonic() < deadline, f"no message to {to} with {marker} in {_mail_dir}")
        time.sleep(0.1)


class Org:
    def __init__(self, tag="org", owner=None):
        self.owner = owner or User("owner")
        self.name = uniq(tag)
        _, b, _ = call("POST", "/v1/orgs", token=self.owner.session(), body={"name": self.name},
                       want=201, what="POST /v1/orgs")
        self.id = b["org"]["id"]
        self.token = b["token"]

    def add(self, email, role="member"):
        _, b, _ = call("POST", "/v1/org/members", token=self.token,
                       body={"email": email, "role": role}, want=201, what=f"add {email}")
        return b

    def join(self, user, role="member"):
        """user becomes a member: invited, verified, accepted. Returns their token here."""
        self.add(user.email, role)
        return user.accept(self)

    def project(self):
        _, b, _ = call("POST", "/v1/org/projects", token=self.token,
                       body={"name": uniq("project"), "description": "d"}, want=201)
        return b["id"]

    def env(self):
        _, b, _ = call("POST", "/v1/org/environments", token=self.token,
                       body={"name": uniq("env"), "kind": "staging", "region": "eu-west-1"},
                       want=201)
        return b["id"]

    def ledger_rows(self, n):
        """n credit purchases through the API, each a row of the ledger."""
        call("PUT", "/v1/org/billing/payment-method", token=self.token,
             body={"payment_method": "pm_card_visa"}, want=200, what="save a payment method")
        for _ in range(n):
            call("POST", "/v1/org/billing/credits", token=self.token, body={"credits": 500},
                 headers={"Idempotency-Key": uniq("buy")}, want=201, what="buy 500 credits")

    def usage_runs(self):
        _, b, _ = call("GET", "/v1/org/usage", token=self.token, want=200)
        return b["runs"]


def member_cursor(m):
    """The cursor of a member row: the user's id, or the email while invited."""
    return m.get("user_id") or m.get("email")


def get_all(path, token, key):
    _, b, _ = call("GET", f"{path}?limit=100", token=token, want=200)
    expect_eq(b.get("has_more"), False, f"{path}?limit=100 has_more")
    return [key(x) for x in b["data"]]


def walk_by_one(path, token, key):
    """?limit=1, then ?after=<last> until has_more is false; returns the cursors seen.
    Fails unless every page holds exactly one item."""
    seen, after = [], None
    while True:
        q = f"{path}?limit=1" + (f"&after={enc(after)}" if after is not None else "")
        _, b, _ = call("GET", q, token=token, want=200)
        expect_eq(sorted(b), ["data", "has_more"], f"keys of {q}")
        expect(isinstance(b["has_more"], bool), f"{q}: has_more {b['has_more']!r}")
        expect_eq(len(b["data"]), 1, f"items on the page {q} (has_more was true before)")
        after = key(b["data"][0])
        seen.append(after)
        expect(len(seen) <= 200, f"{path}: the walk does not end")
        if not b["has_more"]:
            return seen


class World:
    """Org A with members (active and invited), projects, environments, audit entries and
    ledger rows; org B alike, for foreign ids; a user in three organizations."""

    def __init__(self):
        self.a = Org("conv-a")
        self.b = Org("conv-b")
        self.m1, self.m2 = User("m1"), User("m2")
        for u in (self.m1, self.m2):
            self.a.join(u)
        self.invited = [new_email("invitee"), new_email("invitee")]
        for e in self.invited:
            self.a.add(e)
        self.projects = [self.a.project() for _ in range(3)]
        self.envs = [self.a.env() for _ in range(3)]
        # org B: its own rows of every kind
        self.b_member = User("b-member")
        self.b.join(self.b_member)
        self.b.add(new_email("b-invitee"))
        self.b_project = self.b.project()
        self.b_env = self.b.env()
        # a user in three organizations (owner of two, member of org B)
        self.multi = User("multi")
        for _ in range(2):
            call("POST", "/v1/orgs", token=self.multi.session(), body={"name": uniq("multi")},
                 want=201)
        self.b.join(self.multi)
        # a verified user invited to three organizations, for /v1/invitations
        self.inv_user = User("inv")
        self.inv_user.verify()
        self.c = Org("conv-c")
        for o in (self.a, self.b, self.c):
            o.add(self.inv_user.email, "admin")
        # ledger rows and purchases: three in org A, one in org B; if buying credits fails,
        # only the billing lists fail, with this reason
        self.billing_error = None
        try:
            self.a.ledger_rows(3)
            self.b.ledger_rows(1)
        except Failure as e:
            self.billing_error = f"setup (buying credits) failed: {e}"


BILLING_LISTS = ("/v1/org/billing/ledger", "/v1/org/billing/purchases")


def per_list(w, items, fn):
    """Runs fn(*item) for each item (its [0] a list's path), collecting the failures of each
    list instead of stopping at the first; fails at the end with all of them."""
    wrong = []
    for item in items:
        path = item[0]
        if path in BILLING_LISTS and w.billing_error:
            wrong.append(f"{path}: {w.billing_error}")
            continue
        try:
            fn(*item)
        except Failure as e:
            wrong.append(str(e))
    expect(not wrong, "; ".join(wrong))


_world = None


def world():
    """The shared fixture, made once; a failure to make it fails every case that uses it
    with the same reason."""
    global _world
    if _world is None:
        try:
            _world = World()
        except Failure as e:
            _world = Failure(f"setup of the shared fixture failed: {e}")
    if isinstance(_world, Failure):
        raise _world
    return _world


def lists(w):
    """(path, token, cursor of an item) of every list of API.md."""
    return (
        ("/v1/orgs", w.multi.session(), lambda x: x["id"]),
        ("/v1/org/members", w.a.token, member_cursor),
        ("/v1/org/projects", w.a.token, lambda x: x["id"]),
        ("/v1/org/environments", w.a.token, lambda x: x["id"]),
        ("/v1/org/audit", w.a.token, lambda x: x["id"]),
        ("/v1/org/billing/ledger", w.a.token, lambda x: x["id"]),
        ("/v1/org/billing/purchases", w.a.token, lambda x: x["id"]),
        ("/v1/plans", None, lambda x: x["id"]),
        ("/v1/invitations", w.inv_user.session(), lambda x: x["id"]),
    )


# --- lists -------------------------------------------------------------------------------

@test
def every_list_walks_one_by_one_to_has_more_false():
    w = world()
    per_list(w, lists(w), walk_one_list)


def walk_one_list(path, token, key):
    full = get_all(path, token, key)
    expect(len(full) >= 3, f"{path}: only {len(full)} items to page through")
    expect_eq(len(set(full)), len(full), f"{path}: duplicate cursors")
    expect_eq(walk_by_one(path, token, key), full, f"{path}: the pages of 1 put together")
    # after the very last row: an empty last page, not an error
    st, b, raw = call("GET", f"{path}?after={enc(full[-1])}", token=token, want=200,
                      what=f"{path} after its last row")
    expect_eq((b["data"], b["has_more"]), ([], False), f"{path} after its last row")
    # the default limit is 20, and limit=100 is accepted (checked above)
    _, b, _ = call("GET", path, token=token, want=200)
    expect_eq([key(x) for x in b["data"]], full[:20], f"{path} without ?limit=")


@test
def the_lists_hold_what_was_made():
    w = world()
    members = get_all("/v1/org/members", w.a.token, member_cursor)
    for u in (w.a.owner, w.m1, w.m2):
        expect(u.id in members or u.email in members, f"members: {u.email} missing")
    for e in w.invited:
        expect(e in members, f"members: the invitation of {e} missing: {members}")
    expect_eq(get_all("/v1/org/projects", w.a.token, lambda x: x["id"]), w.projects, "projects")
    expect_eq(get_all("/v1/org/environments", w.a.token, lambda x: x["id"]), w.envs,
              "environments")
    expect_eq(get_all("/v1/plans", None, lambda x: x["id"]), ["free", "pro", "enterprise"],
              "plans")
    expect_eq(len(get_all("/v1/orgs", w.multi.session(), lambda x: x["id"])), 3,
              "organizations of the multi user")
    invs = get_all("/v1/invitations", w.inv_user.session(), lambda x: x["org"]["id"])
    expect_eq(sorted(invs), sorted([w.a.id, w.b.id, w.c.id]), "invitations of the invited user")
    expect(not w.billing_error, w.billing_error)
    expect_eq(len(ledger_ids(w.a)), 3, "ledger rows of org A")
    expect_eq(len(get_all("/v1/org/billing/purchases", w.a.token, lambda x: x["id"])), 3,
              "purchases of org A")


@test
def members_page_after_an_invitation_by_its_email():
    w = world()
    all_m = get_all("/v1/org/members", w.a.token, member_cursor)
    i = all_m.index(w.invited[0])
    _, b, _ = call("GET", f"/v1/org/members?limit=100&after={enc(w.invited[0])}",
                   token=w.a.token, want=200)
    expect_eq([member_cursor(x) for x in b["data"]], all_m[i + 1:], "members after an invitation")
    expect(all(x["status"] == "invited" and x["user_id"] is None
               for x in b["data"] if x["email"] in w.invited), "invitations: status, user_id")


@test
def members_walk_by_their_id_too():
    """API.md: ?after= takes the last id of the previous page; a member row's id is the
    user's id, an invitation's the inv_ id."""
    w = world()
    _, b, _ = call("GET", "/v1/org/members?limit=100", token=w.a.token, want=200)
    rows = b["data"]
    expect(all("id" in x for x in rows), f"members without an id: {rows!r}")
    for x in rows:
        if x["status"] == "active":
            expect_eq(x["id"], x["user_id"], f"id of the member {x['email']}")
        else:
            expect(str(x["id"]).startswith("inv_"), f"id of the invitation {x['email']}: {x['id']!r}")
    ids = [x["id"] for x in rows]
    expect_eq(walk_by_one("/v1/org/members", w.a.token, lambda x: x["id"]), ids,
              "members walked one by one by id")


def bad_afters(w):
    """(path, token, [(what, after value, already encoded)]) for every list."""
    long_id = lambda p: fake_id(p, 40)  # noqa: E731
    common = [("non-ASCII", "%C3%A9", True), ("empty", "", True)]
    # given twice: the first is a row of the list (below, per list)
    return (
        ("/v1/orgs", w.multi.session(),
         [("another's organization", w.a.id, False), ("never issued", fake_id("org"), False),
          ("non-ASCII id", "org_%C3%A9", True), ("over-long", long_id("org"), False)] + common),
        ("/v1/org/members", w.a.token,
         [("another organization's member", w.b_member.id, False),
          ("another organization's member's email", w.b_member.email, False),
          ("never issued", fake_id("usr"), False),
          ("never invited", new_email("nobody"), False),
          ("non-ASCII email", "%C3%A9@example.test", True),
          ("over-long", "a" * 300 + "@example.test", False)] + common),
        ("/v1/org/projects", w.a.token,
         [("another organization's", w.b_project, False),
          ("never issued", fake_id("prj"), False), ("an environment's id", w.envs[0], False),
          ("non-ASCII id", "prj_%C3%A9", True), ("over-long", long_id("prj"), False)] + common),
        ("/v1/org/environments", w.a.token,
         [("another organization's", w.b_env, False), ("never issued", fake_id("env"), False),
          ("a project's id", w.projects[0], False),
          ("non-ASCII id", "env_%C3%A9", True), ("over-long", long_id("env"), False)] + common),
        ("/v1/org/audit", w.a.token,
         [("another organization's", audit_ids(w.b)[0], False),
          ("never issued", fake_id("aud"), False),
          ("non-ASCII id", "aud_%C3%A9", True), ("over-long", long_id("aud"), False)] + common),
        ("/v1/org/billing/ledger", w.a.token,
         [("another organization's", lambda: ledger_ids(w.b)[0], False),
          ("never issued", fake_id("led"), False),
          ("non-ASCII id", "led_%C3%A9", True), ("over-long", long_id("led"), False)] + common),
        ("/v1/org/billing/purchases", w.a.token,
         [("another organization's", lambda: get_all("/v1/org/billing/purchases", w.b.token,
                                                     lambda x: x["id"])[0], False),
          ("never issued", fake_id("pur"), False),
          ("a ledger row's id", lambda: ledger_ids(w.a)[0], False),
          ("non-ASCII id", "pur_%C3%A9", True), ("over-long", long_id("pur"), False)] + common),
        ("/v1/invitations", w.inv_user.session(),
         [("another's invitation", [x["id"] for x in members_of(w.a)
                                    if x["email"] == w.invited[0]][0], False),
          ("a membership's id", w.m1.id, False), ("an organization's id", w.a.id, False),
          ("never issued", fake_id("inv"), False),
          ("non-ASCII id", "inv_%C3%A9", True), ("over-long", long_id("inv"), False)] + common),
        ("/v1/plans", None,
         [("never issued", "platinum", False), ("a case variant", "Free", False),
          ("with a space", "free%20", True), ("over-long", "p" * 300, False)] + common),
    )


def members_of(org):
    _, b, _ = call("GET", "/v1/org/members?limit=100", token=org.token, want=200)
    return b["data"]


def audit_ids(org):
    return get_all("/v1/org/audit", org.token, lambda x: x["id"])


def ledger_ids(org):
    return get_all("/v1/org/billing/ledger", org.token, lambda x: x["id"])


@test
def after_naming_no_row_of_the_list_is_400_after():
    w = world()

    def one_list(path, token, cases):
        wrong = []
        for what, value, encoded in cases:
            value = value() if callable(value) else value
            q = f"{path}?limit=2&after={value if encoded else enc(value)}"
            st, b, raw = call("GET", q, token=token)
            field = (b.get("error") or {}).get("field") if isinstance(b, dict) else None
            if st != 400 or field != "after":
                wrong.append(f"{path} after {what}: {st} field {field!r}, want 400 'after'"
                             f" ({raw[:120]!r})")
        expect(not wrong, "; ".join(wrong))

    def twice(path, token, key):
        # an after given twice (both rows of the list) names no one row
        full = get_all(path, token, key)
        q = f"{path}?limit=1&after={enc(full[0])}&after={enc(full[1])}"
        st, b, raw = call("GET", q, token=token)
        field = (b.get("error") or {}).get("field") if isinstance(b, dict) else None
        expect(st == 400 and field == "after",
               f"{path} with two afters: {st} field {field!r}, want 400 'after'")

    per_list(w, bad_afters(w), one_list)
    per_list(w, lists(w), twice)


@test
def after_a_row_deleted_since_is_400_after():
    org = Org("conv-del")
    projects = [org.project() for _ in range(3)]
    envs = [org.env() for _ in range(3)]
    gone = User("gone")
    org.join(gone)
    org.add(new_email("stays"))
    # a first page, then its last row is deleted, then the next page is asked for
    _, p1, _ = call("GET", "/v1/org/projects?limit=2", token=org.token, want=200)
    expect_eq([x["id"] for x in p1["data"]], projects[:2], "projects, first page")
    call("DELETE", f"/v1/org/projects/{projects[1]}", token=org.token, want=204)
    expect_field_error(call("GET", f"/v1/org/projects?limit=2&after={projects[1]}",
                            token=org.token), 400, "after", "projects after a deleted one")
    call("DELETE", f"/v1/org/environments/{envs[1]}", token=org.token, want=204)
    expect_field_error(call("GET", f"/v1/org/environments?limit=2&after={envs[1]}",
                            token=org.token), 400, "after", "environments after a deleted one")
    call("DELETE", f"/v1/org/members/{gone.id}", token=org.token, want=204)
    expect_field_error(call("GET", f"/v1/org/members?limit=2&after={gone.id}", token=org.token),
                       400, "after", "members after a removed one")
    expect_field_error(call("GET", f"/v1/org/members?limit=2&after={enc(gone.email)}",
                            token=org.token),
                       400, "after", "members after a removed one's email")
    # the rows still there still page
    _, b, _ = call("GET", f"/v1/org/projects?after={projects[0]}", token=org.token, want=200)
    expect_eq([x["id"] for x in b["data"]], [projects[2]], "projects after the first")
    # an organization the user has left is no row of their /v1/orgs
    leaver = User("leaver")
    own = Org("conv-leaver-own", owner=leaver)
    ltoken = org.join(leaver)
    call("DELETE", f"/v1/org/members/{leaver.id}", token=ltoken, want=204, what="leave")
    mine = get_all("/v1/orgs", leaver.session(), lambda x: x["id"])
    expect_eq(mine, [own.id], "organizations after leaving one")
    expect_field_error(call("GET", f"/v1/orgs?after={org.id}", token=leaver.session()),
                       400, "after", "/v1/orgs after an organization left")
    # an invitation declined since is no row of /v1/invitations
    invitee = User("decliner")
    invitee.verify()
    others = [Org("conv-inviter") for _ in range(2)]
    for o in (org, *others):
        o.add(invitee.email)
    _, b, _ = call("GET", "/v1/invitations?limit=1", token=invitee.session(), want=200)
    expect_eq(b["has_more"], True, "/v1/invitations?limit=1 has_more")
    first = b["data"][0]["id"]
    call("POST", f"/v1/invitations/{first}/decline", token=invitee.session(), want=204)
    expect_field_error(call("GET", f"/v1/invitations?limit=1&after={first}",
                            token=invitee.session()),
                       400, "after", "/v1/invitations after a declined one")


@test
def ledger_pages_past_an_operator_adjustment():
    """scripts/ledger-adjust writes ledger rows too; their ids must page like any other."""
    org = Org("conv-adjust")
    org.ledger_rows(1)
    p = subprocess.run([os.path.join(REPO, "scripts", "ledger-adjust"), org.id, "5", "conv-test"],
                       env=dict(os.environ, ORGD_VAR=VAR), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=60)
    expect(p.returncode == 0, f"ledger-adjust exited {p.returncode}: {p.stderr.strip()}")
    org.ledger_rows(1)
    full = ledger_ids(org)
    expect_eq(len(full), 3, "ledger rows")
    _, b, _ = call("GET", "/v1/org/billing/ledger?limit=100", token=org.token, want=200)
    expect_eq([x["reason"] for x in b["data"]], ["purchase", "adjustment", "purchase"],
              "ledger reasons, newest first")
    adj = b["data"][1]["id"]
    st, page, raw = call("GET", f"/v1/org/billing/ledger?limit=1&after={enc(adj)}",
                         token=org.token)
    expect(st == 200, f"after the adjustment row {adj!r} (the last id of the page before): "
                      f"{st} {raw[:200]!r}")
    expect_eq([x["id"] for x in page["data"]], full[2:], "the page after the adjustment")
    expect_eq(walk_by_one("/v1/org/billing/ledger", org.token, lambda x: x["id"]), full,
              "the ledger walked one by one")


@test
def bad_limit_is_400_limit():
    w = world()

    def one_list(path, token, _key):
        wrong = []
        for bad in ("limit=0", "limit=101", "limit=abc", "limit=1.5", "limit=1&limit=2",
                    "limit=2&limit=2", "limit=-1", "limit=", "limit=1e1", "limit=%20"):
            st, b, raw = call("GET", f"{path}?{bad}", token=token)
            field = (b.get("error") or {}).get("field") if isinstance(b, dict) else None
            code = (b.get("error") or {}).get("code") if isinstance(b, dict) else None
            if (st, code, field) != (400, "invalid_request", "limit"):
                wrong.append(f"{path}?{bad}: {st} {code} field {field!r}")
        for good in ("limit=1", "limit=100", "limit=20"):
            if call("GET", f"{path}?{good}", token=token)[0] != 200:
                wrong.append(f"{path}?{good}: not 200")
        expect(not wrong, "; ".join(wrong))

    per_list(w, lists(w), one_list)


# --- HTTP ----------------------------------------------------------------------------------

def raw_http(method, path, headers=(), body=None, timeout=30):
    """One request on a fresh socket, headers a list of (name, value) (names may repeat),
    read until the server closes. Returns (status, [(name, value)], body bytes)."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{PORT}", "Connection: close"]
    data = body if isinstance(body, bytes) else (body or "").encode()
    for k, v in headers:
        lines.append(f"{k}: {v}")
    if body is not None:
        lines.append(f"Content-Length: {len(data)}")
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape") + data
    s = socket.create_connection((HOST, PORT), timeout=timeout)
    buf = b""
    try:
        s.sendall(raw)
        while True:
            got = s.recv(65536)
            if not got:
                break
            buf += got
    finally:
        s.close()
    head, _, rest = buf.partition(b"\r\n\r\n")
    hl = head.decode("latin-1").split("\r\n")
    status = int(hl[0].split()[1])
    hdrs = []
    for line in hl[1:]:
        k, _, v = line.partition(":")
        hdrs.append((k.strip(), v.strip()))
    return status, hdrs, rest


def header(hdrs, name):
    vals = [v for k, v in hdrs if k.lower() == name.lower()]
    return vals[0] if len(vals) == 1 else (None if not vals else vals)


def methods_of(allow):
    return sorted(m.strip() for m in (allow or "").split(",") if m.strip())


@test
def method_not_allowed_carries_allow_with_the_paths_methods():
    org = Org("conv-405")
    prj = org.project()
    env = org.env()
    cases = (
        ("DELETE", "/v1/health", None, ["GET", "HEAD"]),
        ("POST", "/v1/health", None, ["GET", "HEAD"]),
        ("PUT", "/v1/org/projects", org.token, ["GET", "HEAD", "POST"]),
        ("DELETE", "/v1/org/projects", org.token, ["GET", "HEAD", "POST"]),
        ("PUT", f"/v1/org/projects/{prj}", org.token, ["DELETE", "GET", "HEAD", "PATCH"]),
        ("POST", f"/v1/org/environments/{env}", org.token, ["DELETE", "GET", "HEAD", "PATCH"]),
        ("POST", "/v1/plans", None, ["GET", "HEAD"]),
        ("GET", "/v1/org/runs", org.token, ["POST"]),
        ("DELETE", "/v1/org", org.token, ["GET", "HEAD", "PATCH"]),
        ("GET", "/v1/auth/login", None, ["POST"]),
    )
    wrong = []
    for method, path, token, want in cases:
        st, h, b, raw = req(method, path, token=token)
        code = (b.get("error") or {}).get("code") if isinstance(b, dict) else None
        allow = h.get_all("Allow") or []
        if st != 405 or code != "method_not_allowed":
            wrong.append(f"{method} {path}: {st} {code}, want 405 method_not_allowed")
        elif len(allow) != 1 or methods_of(allow[0]) != want:
            wrong.append(f"{method} {path}: Allow {allow!r}, want {', '.join(want)}")
    expect(not wrong, "; ".join(wrong))


@test
def unauthenticated_carries_www_authenticate_bearer():
    cases = (("GET", "/v1/me", None), ("GET", "/v1/org", None), ("GET", "/v1/orgs", "garbage"),
             ("POST", "/v1/org/runs", "a.b.c"), ("GET", "/v1/org/projects", ""),
             ("POST", "/v1/auth/logout", None))
    wrong = []
    for method, path, token in cases:
        st, h, b, raw = req(method, path, token=token,
                            body={} if method == "POST" else None)
        code = (b.get("error") or {}).get("code") if isinstance(b, dict) else None
        www = h.get_all("WWW-Authenticate") or []
        if st != 401 or code != "unauthenticated":
            wrong.append(f"{method} {path}: {st} {code}, want 401 unauthenticated")
        elif len(www) != 1 or www[0].split()[0].lower() != "bearer":
            wrong.append(f"{method} {path}: WWW-Authenticate {www!r}, want Bearer")
    # a wrong password at sign-in is a 401 as well
    u = User("www")
    st, h, b, raw = req("POST", "/v1/auth/login", body={"email": u.email, "password": "wrong " * 3})
    www = h.get_all("WWW-Authenticate") or []
    if st != 401 or len(www) != 1 or www[0].split()[0].lower() != "bearer":
        wrong.append(f"login with a wrong password: {st}, WWW-Authenticate {www!r}")
    expect(not wrong, "; ".join(wrong))


HOP = {"date", "connection", "keep-alive", "transfer-encoding"}


@test
def head_is_get_without_the_body():
    org = Org("conv-head")
    cases = (("/v1/health", None), ("/v1/plans", None), ("/v1/plans?limit=1", None),
             ("/v1/org", org.token), ("/v1/me", None), ("/v1/nothing-here", None))
    wrong = []
    for path, token in cases:
        hd = [("Authorization", f"Bearer {token}")] if token else []
        gs, gh, gbody = raw_http("GET", path, hd)
        hs, hh, hbody = raw_http("HEAD", path, hd)
        if gs != hs:
            wrong.append(f"HEAD {path}: {hs}, GET {gs}")
        if hbody != b"":
            wrong.append(f"HEAD {path}: a body of {len(hbody)} bytes: {hbody[:80]!r}")
        if not gbody:
            wrong.append(f"GET {path}: no body to compare with")
        g = sorted((k.lower(), v) for k, v in gh if k.lower() not in HOP)
        h = sorted((k.lower(), v) for k, v in hh if k.lower() not in HOP)
        if g != h:
            wrong.append(f"{path}: GET headers {g!r} but HEAD headers {h!r}")
    expect(not wrong, "; ".join(wrong))


def two_keys(method, path, token, body, keys):
    """The request with one Idempotency-Key header per element of keys (http.client,
    putheader once per key)."""
    data = json_bytes(body)
    conn = http.client.HTTPConnection(HOST, PORT, timeout=30)
    try:
        conn.putrequest(method, path)
        conn.putheader("Authorization", f"Bearer {token}")
        if data is not None:
            conn.putheader("Content-Type", "application/json")
            conn.putheader("Content-Length", str(len(data)))
        for k in keys:
            conn.putheader("Idempotency-Key", k)
        conn.endheaders(data)
        resp = conn.getresponse()
        raw = resp.read()
        try:
            b = json.loads(raw) if raw else None
        except ValueError:
            b = None
        return resp.status, b, raw
    finally:
        conn.close()


def json_bytes(body):
    return None if body is None else json.dumps(body).encode()


@test
def two_idempotency_keys_on_runs_are_400_and_count_nothing():
    org = Org("conv-idem")
    run = {"project_id": org.project(), "environment_id": org.env()}
    call("POST", "/v1/org/runs", token=org.token, body=run, want=201, what="a first run")
    before = org.usage_runs()
    expect_eq(before, 1, "runs after the first")
    k1, k2 = uniq("k1"), uniq("k2")
    for keys in ((k1, k2), (k1, k1), (k1, k2, uniq("k3"))):
        expect_field_error(two_keys("POST", "/v1/org/runs", org.token, run, keys), 400,
                           "Idempotency-Key", f"POST /v1/org/runs with {len(keys)} keys")
        expect_eq(org.usage_runs(), before, f"runs after a request with {len(keys)} keys")
    # the header's name in another case is the same header
    st, hdrs, raw = raw_http("POST", "/v1/org/runs",
                             [("Authorization", f"Bearer {org.token}"),
                              ("Content-Type", "application/json"),
                              ("Idempotency-Key", k1), ("idempotency-key", k2)],
                             body=json_bytes(run))
    expect_field_error((st, json.loads(raw) if raw else None, raw), 400, "Idempotency-Key",
                       "POST /v1/org/runs with Idempotency-Key and idempotency-key")
    expect_eq(org.usage_runs(), before, "runs after keys in two cases")
    # nothing was kept under either key: each one alone now counts a run, once
    for i, k in enumerate((k1, k2)):
        st, b, raw = call("POST", "/v1/org/runs", token=org.token, body=run,
                          headers={"Idempotency-Key": k})
        expect(st == 201, f"one key {k} after the refused pair: {st} {raw[:200]!r}")
        expect_eq(org.usage_runs(), before + i + 1, f"runs after key {k} alone")


@test
def two_idempotency_keys_on_a_route_without_keys_are_400():
    org = Org("conv-idem-none")
    name = uniq("two-keys")
    expect_field_error(two_keys("POST", "/v1/org/projects", org.token,
                                {"name": name, "description": "x"}, ("a", "b")),
                       400, "Idempotency-Key", "POST /v1/org/projects with two keys")
    expect_eq(get_all("/v1/org/projects", org.token, lambda x: x["name"]), [],
              "projects after a refused create")
    expect_field_error(two_keys("GET", "/v1/org", org.token, None, ("a", "b")),
                       400, "Idempotency-Key", "GET /v1/org with two keys")
    expect_field_error(two_keys("PATCH", "/v1/org", org.token, {"name": uniq("renamed")},
                                ("a", "a")),
                       400, "Idempotency-Key", "PATCH /v1/org with two keys")
    _, b, _ = call("GET", "/v1/org", token=org.token, want=200)
    expect_eq(b["name"], org.name, "the organization's name after a refused rename")
    # the same requests with one key (or none) go through
    call("POST", "/v1/org/projects", token=org.token, body={"name": name, "description": "x"},
         headers={"Idempotency-Key": "a"}, want=201, what="POST /v1/org/projects with one key")


@test
def two_idempotency_keys_on_a_credit_purchase_are_400_and_charge_nothing():
    org = Org("conv-idem-credits")
    call("PUT", "/v1/org/billing/payment-method", token=org.token,
         body={"payment_method": "pm_card_visa"}, want=200, what="save a payment method")
    _, bill, _ = call("GET", "/v1/org/billing", token=org.token, want=200)
    purchases = get_all("/v1/org/billing/purchases", org.token, lambda x: x["id"])
    for keys in ((uniq("c1"), uniq("c2")), ("same", "same")):
        expect_field_error(two_keys("POST", "/v1/org/billing/credits", org.token,
                                    {"credits": 500}, keys),
                           400, "Idempotency-Key", f"POST /v1/org/billing/credits, keys {keys}")
    _, after, _ = call("GET", "/v1/org/billing", token=org.token, want=200)
    expect_eq(after["credit_balance"], bill["credit_balance"], "balance after the refused buys")
    expect_eq(get_all("/v1/org/billing/purchases", org.token, lambda x: x["id"]), purchases,
              "purchases after the refused buys")


def log_tail_since(path, offset):
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


@test
def foreign_shaped_ids_are_404_or_400_never_500_nor_a_logged_error():
    org = Org("conv-ids")
    prj, env = org.project(), org.env()
    user = org.owner
    log = os.path.join(stack_paths()["LOG_DIR"], "orgd.log")
    expect(os.path.exists(log), f"no orgd log at {log}")
    start = os.path.getsize(log)
    runs_before = org.usage_runs()
    long_tail = "a" * 300
    body_cases = [
        ("POST", "/v1/auth/switch", user.session(), {"org_id": "org_\u00e9"}),
        ("POST", "/v1/auth/switch", user.session(), {"org_id": "\u00e9" * 40}),
        ("POST", "/v1/auth/switch", user.session(), {"org_id": "org_" + long_tail}),
        ("POST", "/v1/auth/switch", user.session(), {"org_id": "org_\U0001F600"}),
        ("POST", "/v1/auth/switch", user.session(), {"org_id": org.id.upper()}),
        ("POST", "/v1/org/runs", org.token, {"project_id": "prj_\u00e9", "environment_id": env}),
        ("POST", "/v1/org/runs", org.token, {"project_id": "prj_" + long_tail,
                                             "environment_id": env}),
        ("POST", "/v1/org/runs", org.token, {"project_id": prj, "environment_id": "env_\u00e9"}),
        ("POST", "/v1/org/runs", org.token, {"project_id": prj,
                                             "environment_id": "env_" + long_tail}),
        ("POST", "/v1/org/runs", org.token, {"project_id": "\u00e9" * 200,
                                             "environment_id": "\u00e9" * 200}),
    ]
    path_cases = [
        ("GET", "/v1/org/projects/prj_%C3%A9", org.token, None),
        ("PATCH", "/v1/org/projects/prj_%C3%A9", org.token, {"description": "x"}),
        ("DELETE", "/v1/org/projects/prj_%C3%A9", org.token, None),
        ("GET", f"/v1/org/projects/prj_{long_tail}", org.token, None),
        ("GET", f"/v1/org/projects/{'%C3%A9' * 100}", org.token, None),
        ("GET", "/v1/org/environments/env_%C3%A9", org.token, None),
        ("DELETE", f"/v1/org/environments/env_{long_tail}", org.token, None),
        ("PATCH", "/v1/org/members/usr_%C3%A9", org.token, {"role": "admin"}),
        ("DELETE", "/v1/org/members/usr_%C3%A9", org.token, None),
        ("DELETE", f"/v1/org/members/usr_{long_tail}", org.token, None),
        ("GET", "/v1/org/projects/prj_%20", org.token, None),
        ("GET", "/v1/org/projects/prj_%00", org.token, None),
        ("GET", "/v1/org/projects/prj_%zz", org.token, None),
    ]
    wrong = []
    for method, path, token, body in body_cases + path_cases:
        st, b, raw = call(method, path, token=token, body=body)
        code = (b.get("error") or {}).get("code") if isinstance(b, dict) else None
        if st not in (400, 404) or code not in ("invalid_request", "not_found"):
            wrong.append(f"{method} {path} {body!r}: {st} {code} {raw[:120]!r}")
    # raw UTF-8 bytes in the path, not percent-encoded
    for method in ("GET", "DELETE"):
        st, hdrs, raw = raw_http(method, "/v1/org/projects/prj_\udcc3\udca9",
                                 [("Authorization", f"Bearer {org.token}")])
        if st not in (400, 404):
            wrong.append(f"{method} /v1/org/projects/prj_<raw C3 A9>: {st} {raw[:120]!r}")
    expect_eq(org.usage_runs(), runs_before, "runs after runs naming no project")
    time.sleep(0.5)  # the workers' log lines are written as the answers go
    errors = [ln for ln in log_tail_since(log, start).splitlines() if "level=error" in ln]
    if errors:
        wrong.append(f"orgd logged {len(errors)} error line(s): {errors[:3]!r}")
    expect(not wrong, "; ".join(wrong))


if __name__ == "__main__":
    main()
