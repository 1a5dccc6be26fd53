"""test_orgs: organizations, members, projects and environments (issue 4; API.md
"Organizations and members", "Projects and environments"; SECURITY.md "Authorization").

The authorization matrix (every /v1/org... route of src/http/routes.c and /v1/orgs x
every kind of caller), invitations, the one-organization auto-select of login and
/v1/auth/switch, tokens issued before a demotion or a removal, the owner rules (also
under two owners demoting each other at once), tenant isolation of every id-taking
endpoint, pagination and the audit log.

Every test makes its own users and organizations (emails carry a random suffix), so the
tests are independent of each other and of the order they run in."""

import itertools
import os
import re
import secrets
import urllib.parse

from orgdtest import (REPO, accept_invitation, concurrently, expect, expect_eq, main, req,
                      test)

PASSWORD = "correct horse battery staple"
RUN = secrets.token_hex(4)
_seq = itertools.count()
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
CODES = {400: "invalid_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
         405: "method_not_allowed", 409: "conflict"}


def uniq(tag):
    return f"{tag}-{RUN}-{next(_seq)}"


def new_email(tag="user"):
    return f"{uniq(tag)}@example.test"


def call(method, path, token=None, body=None, want=None, what=None):
    """One request; with want, fails unless the status is want (and, for an error status,
    the error code is the one API.md gives it). Returns (status, JSON body, raw body)."""
    st, _headers, b, raw = req(method, path, body=body, token=token)
    if want is not None:
        label = what or f"{method} {path}"
        expect(st == want, f"{label}: status {st}, want {want}: {raw[:300]!r}")
        if want in CODES:
            code = b.get("error", {}).get("code") if isinstance(b, dict) else None
            expect(code == CODES[want], f"{label}: error code {code!r}, want {CODES[want]!r}")
    return st, b, raw


def enc(id_):
    """An id as one path segment, percent-encoded properly (every reserved byte)."""
    return urllib.parse.quote(id_, safe="")


class User:
    """A signed-up user; session() is a token from logging in (whatever it is scoped to)."""

    def __init__(self, tag="user"):
        self.email = new_email(tag)
        self.name = f"{tag} {RUN}"
        _, b, _ = call("POST", "/v1/auth/signup", body={
            "email": self.email, "password": PASSWORD, "name": self.name}, want=201,
            what=f"signup {self.email}")
        self.id = b["user"]["id"]
        self._session = None

    def login(self):
        _, b, _ = call("POST", "/v1/auth/login", body={"email": self.email, "password": PASSWORD},
                       want=200, what=f"login {self.email}")
        return b

    def session(self):
        if self._session is None:
            self._session = self.login()["token"]
        return self._session

    def token_for(self, org_id):
        _, b, _ = call("POST", "/v1/auth/switch", token=self.session(), body={"org_id": org_id},
                       want=200, what=f"switch {self.email} to {org_id}")
        return b["token"]


class Org:
    """A fresh organization made by a fresh owner through POST /v1/orgs."""

    def __init__(self, tag="org"):
        self.owner = User("owner")
        self.name = uniq(tag)
        _, b, _ = call("POST", "/v1/orgs", token=self.owner.session(), body={"name": self.name},
                       want=201, what="POST /v1/orgs")
        self.id = b["org"]["id"]
        self.token = b["token"]  # the owner's, scoped to this organization

    def add(self, user_or_email, role, token=None):
        """Invite an email; a User then accepts (verifying their email first): nobody
        becomes a member without saying yes (API.md)."""
        email = user_or_email if isinstance(user_or_email, str) else user_or_email.email
        _, b, _ = call("POST", "/v1/org/members", token=token or self.token,
                       body={"email": email, "role": role}, want=201,
                       what=f"add {email} as {role}")
        if not isinstance(user_or_email, str):
            accept_invitation(user_or_email.session(), self.id, email)
        return b

    def new_member(self, role, tag=None):
        """A fresh user added with role; returns (user, token scoped here)."""
        u = User(tag or role)
        self.add(u, role)
        return u, u.token_for(self.id)

    def project(self, token=None, name=None):
        _, b, _ = call("POST", "/v1/org/projects", token=token or self.token,
                       body={"name": name or uniq("project"), "description": "kept as is"},
                       want=201)
        return b["id"]

    def env(self, token=None, name=None, kind="staging"):
        _, b, _ = call("POST", "/v1/org/environments", token=token or self.token,
                       body={"name": name or uniq("env"), "kind": kind, "region": "eu-west-1"},
                       want=201)
        return b["id"]

    def members(self, token=None):
        _, b, _ = call("GET", "/v1/org/members?limit=100", token=token or self.token, want=200)
        return {(m["user_id"] or m["email"]): m for m in b["data"]}

    def role_of(self, user):
        m = self.members().get(user.id)
        return m and m["role"]


# --- 1. the authorization matrix ---------------------------------------------------------

CALLERS = ("none", "noorg", "member", "admin", "owner", "other_member", "other_owner")


def row(*statuses):
    assert len(statuses) == len(CALLERS)
    return dict(zip(CALLERS, statuses))


# The expected status of every endpoint for every kind of caller, from API.md:
#   none          no Authorization header: 401 on every row (none of them is public)
#   noorg         a valid token with no active organization (the user is even an admin of
#                 the target organization, but belongs to two and has not switched): 403
#                 on /v1/org/...
#   member/admin/owner  a token scoped to the target organization with that role
#   other_member/other_owner  a member / the owner of ANOTHER organization, their own token
#                 (scoped to their own organization): /v1/org/... acts on their
#                 organization, so the target's ids are 404 where their role may act at all
#                 (403 first where it may not: "the role may not do this at all").
# {member} is a member of the target (PATCH gives {"role":"admin"}), {member_del} another
# one; {project}/{env} exist in the target, {project_del}/{env_del} too (deleted by the
# callers allowed to); {self} is the caller's own user id (leaving; the owner is the only
# owner: 409). Rows run in this order, so the deletes come last and leaving is the end.
EXPECTED = {
    #                                          none noorg member admin owner o_mem o_own
    "GET /v1/orgs":                         row(401, 200, 200, 200, 200, 200, 200),
    "POST /v1/orgs":                        row(401, 201, 201, 201, 201, 201, 201),
    "GET /v1/org":                          row(401, 403, 200, 200, 200, 200, 200),
    "PATCH /v1/org":                        row(401, 403, 403, 200, 200, 403, 200),
    "GET /v1/org/members":                  row(401, 403, 200, 200, 200, 200, 200),
    "POST /v1/org/members":                 row(401, 403, 403, 201, 201, 403, 201),
    "PATCH /v1/org/members/{member}":       row(401, 403, 403, 200, 200, 403, 404),
    "GET /v1/org/audit":                    row(401, 403, 403, 200, 200, 403, 200),
    "GET /v1/org/projects":                 row(401, 403, 200, 200, 200, 200, 200),
    "POST /v1/org/projects":                row(401, 403, 201, 201, 201, 201, 201),
    "GET /v1/org/projects/{project}":       row(401, 403, 200, 200, 200, 404, 404),
    "PATCH /v1/org/projects/{project}":     row(401, 403, 200, 200, 200, 404, 404),
    "GET /v1/org/environments":             row(401, 403, 200, 200, 200, 200, 200),
    "GET /v1/org/environments/{env}":       row(401, 403, 200, 200, 200, 404, 404),
    "POST /v1/org/runs":                    row(401, 403, 201, 201, 201, 404, 404),
    "POST /v1/org/environments":            row(401, 403, 403, 201, 201, 403, 201),
    "PATCH /v1/org/environments/{env}":     row(401, 403, 403, 200, 200, 403, 404),
    "GET /v1/org/usage":                    row(401, 403, 200, 200, 200, 200, 200),
    "GET /v1/org/dashboard":                row(401, 403, 200, 200, 200, 200, 200),
    "PUT /v1/org/plan":                     row(401, 403, 403, 200, 200, 403, 200),
    "GET /v1/org/billing/ledger":           row(401, 403, 403, 200, 200, 403, 200),
    "GET /v1/org/billing":                  row(401, 403, 403, 200, 200, 403, 200),
    "GET /v1/org/billing/purchases":        row(401, 403, 403, 200, 200, 403, 200),
    "PUT /v1/org/billing/payment-method":   row(401, 403, 403, 200, 200, 403, 200),
    # the matrix sends no Idempotency-Key: whoever passes the gate gets the 400 for it
    "POST /v1/org/billing/credits":         row(401, 403, 403, 400, 400, 403, 400),
    "PUT /v1/org/billing/auto-recharge":    row(401, 403, 403, 200, 200, 403, 200),
    "DELETE /v1/org/billing/payment-method": row(401, 403, 403, 204, 204, 403, 204),
    "DELETE /v1/org/projects/{project_del}":    row(401, 403, 204, 204, 204, 404, 404),
    "DELETE /v1/org/environments/{env_del}":    row(401, 403, 403, 204, 204, 403, 404),
    "DELETE /v1/org/members/{member_del}":      row(401, 403, 403, 204, 204, 403, 404),
    "DELETE /v1/org/members/{self}":            row(401, 403, 204, 204, 409, 204, 409),
}


def matrix_body(key, ids):
    """A valid body for each row that takes one (so no 400 can hide a 403)."""
    if key == "POST /v1/orgs":
        return {"name": uniq("matrix-new")}
    if key == "PATCH /v1/org":
        return {"name": uniq("matrix-renamed")}
    if key == "POST /v1/org/members":
        return {"email": new_email("invitee"), "role": "member"}
    if key == "PATCH /v1/org/members/{member}":
        return {"role": "admin"}
    if key == "POST /v1/org/projects":
        return {"name": uniq("matrix-project"), "description": "made by the matrix"}
    if key == "PATCH /v1/org/projects/{project}":
        return {"description": uniq("changed")}
    if key == "POST /v1/org/runs":
        return {"project_id": ids["project"], "environment_id": ids["env"]}
    if key == "POST /v1/org/environments":
        return {"name": uniq("matrix-env"), "kind": "development", "region": "us-east-1"}
    if key == "PATCH /v1/org/environments/{env}":
        return {"status": "paused"}
    if key == "PUT /v1/org/plan":
        return {"plan": "free"}
    if key == "PUT /v1/org/billing/payment-method":
        return {"payment_method": "pm_card_visa"}
    if key == "POST /v1/org/billing/credits":
        return {"credits": 500}
    if key == "PUT /v1/org/billing/auto-recharge":
        return {"enabled": False, "threshold_credits": 100, "recharge_credits": 500}
    return None


def routes_c_org_routes():
    """(method, pattern) of every /v1/org and /v1/orgs route of src/http/routes.c."""
    with open(os.path.join(REPO, "src", "http", "routes.c")) as f:
        text = f.read()
    found = re.findall(r'\{\s*M_(GET|POST|PUT|PATCH|DELETE)\s*,\s*"(/v1/orgs?(?:/[^"]*)?)"', text)
    return {(m, p) for m, p in found}


def key_route(key):
    method, path = key.split(" ", 1)
    return method, re.sub(r"\{[a-z_]+\}", "{id}", path)


@test
def matrix_covers_every_org_route_of_routes_c():
    """The table below has a row for every /v1/org... route orgd serves, and no other."""
    routes = routes_c_org_routes()
    expect(len(routes) >= 20, f"found only {len(routes)} /v1/org routes in routes.c")
    rows = {key_route(k) for k in EXPECTED}
    missing = sorted(routes - rows)
    extra = sorted(rows - routes)
    expect(not missing, f"routes of routes.c with no row in EXPECTED: {missing}")
    expect(not extra, f"rows of EXPECTED that routes.c does not serve: {extra}")


def matrix_target():
    """A fresh target organization: owner, admin, member and two more members; two projects
    and two environments. Returns (org, {role: (user, token)}, ids)."""
    org = Org("matrix")
    people = {"owner": (org.owner, org.token)}
    for role in ("admin", "member"):
        people[role] = org.new_member(role)
    t1, t2 = User("target"), User("target")
    org.add(t1, "member")
    org.add(t2, "member")
    ids = {"member": t1.id, "member_del": t2.id,
           "project": org.project(), "project_del": org.project(),
           "env": org.env(), "env_del": org.env()}
    return org, people, ids


def matrix_caller(kind):
    """(target org, target ids, token, caller's user id, caller's own org or None)."""
    org, people, ids = matrix_target()
    if kind == "none":
        return org, ids, None, ids["member"], None
    if kind == "noorg":
        u = User("noorg")
        org.add(u, "admin")
        call("POST", "/v1/orgs", token=u.session(), body={"name": uniq("noorg-own")}, want=201)
        login = u.login()
        expect(login["active_org"] is None, f"two organizations, active_org {login['active_org']!r}")
        return org, ids, login["token"], u.id, None
    if kind in ("member", "admin", "owner"):
        user, token = people[kind]
        return org, ids, token, user.id, None
    own = Org("matrix-other")
    if kind == "other_member":
        u, token = own.new_member("member")
        return org, ids, token, u.id, own
    return org, ids, own.token, own.owner.id, own  # other_owner


@test
def authorization_matrix_every_org_endpoint_by_every_kind_of_caller():
    wrong = []
    for kind in CALLERS:
        org, ids, token, self_id, own = matrix_caller(kind)
        before = {"project": call("GET", f"/v1/org/projects/{ids['project_del']}", token=org.token,
                                  want=200)[1],
                  "members": org.members()}
        for key, want_by_caller in EXPECTED.items():
            want = want_by_caller[kind]
            method, template = key.split(" ", 1)
            path = template.replace("{self}", enc(self_id))
            for name, value in ids.items():
                path = path.replace("{" + name + "}", enc(value))
            st, b, raw = call(method, path, token=token, body=matrix_body(key, ids))
            code = b.get("error", {}).get("code") if isinstance(b, dict) and st >= 400 else None
            if st != want:
                wrong.append(f"{key} as {kind}: got {st} {code or ''}, want {want}")
            elif st in CODES and code != CODES[st]:
                wrong.append(f"{key} as {kind}: {st} with code {code!r}, want {CODES[st]!r}")
            elif key == "GET /v1/org" and own is not None and st == 200 and b.get("id") != own.id:
                wrong.append(f"GET /v1/org as {kind} answered org {b.get('id')!r}, "
                             f"not the caller's own {own.id!r}")
        if kind not in ("member", "admin", "owner"):
            # callers who may not touch the target changed nothing there
            got = call("GET", f"/v1/org/projects/{ids['project_del']}", token=org.token)[1]
            if got != before["project"]:
                wrong.append(f"as {kind}: the target's project changed: {got!r}")
            after = org.members()
            if {k: v["role"] for k, v in after.items() if v["status"] == "active"} != \
                    {k: v["role"] for k, v in before["members"].items() if v["status"] == "active"}:
                wrong.append(f"as {kind}: the target's members changed")
            st = call("GET", f"/v1/org/environments/{ids['env_del']}", token=org.token)[0]
            if st != 200:
                wrong.append(f"as {kind}: the target's environment is gone ({st})")
    expect(not wrong, f"{len(wrong)} cells differ from API.md: " + "; ".join(wrong))


# --- 2. invitations, login's auto-select, switch, POST /v1/orgs ----------------------------

@test
def invitation_of_unknown_email_becomes_a_membership_only_once_accepted():
    org = Org("invite")
    _, admin_token = org.new_member("admin")
    email = new_email("invitee")
    _, m, _ = call("POST", "/v1/org/members", token=admin_token,
                   body={"email": email, "role": "member"}, want=201, what="invite")
    expect_eq(m.get("status"), "invited", "invitation status")
    expect(m.get("user_id", "absent") is None, f"invitation user_id {m.get('user_id', 'absent')!r}")
    expect(m.get("name", "absent") is None, f"invitation name {m.get('name', 'absent')!r}")
    expect(str(m.get("id", "")).startswith("inv_"), f"invitation id {m.get('id')!r}")
    expect_eq(m.get("email"), email, "invitation email")
    expect_eq(m.get("role"), "member", "invitation role")
    expect(isinstance(m.get("added_at"), str) and RFC3339.match(m["added_at"]),
           f"added_at {m.get('added_at')!r}")
    expect(isinstance(m.get("expires_at"), str) and RFC3339.match(m["expires_at"]),
           f"expires_at {m.get('expires_at')!r}")
    listed = org.members().get(email)
    expect(listed is not None, "the invitation is not in the members list")
    expect_eq((listed["status"], listed["user_id"], listed["name"]), ("invited", None, None),
              "listed invitation (status, user_id, name)")

    # signing up with the address makes nobody a member (API.md: only an accept does)
    _, b, _ = call("POST", "/v1/auth/signup", body={"email": email, "password": PASSWORD,
                                                    "name": "Invited Person"}, want=201)
    uid = b["user"]["id"]
    members = org.members()
    expect(members.get(email, {}).get("status") == "invited",
           "the invitation is no longer listed as invited after sign-up")
    expect(uid not in members, f"the new user {uid} is a member without accepting: {members!r}")
    login = call("POST", "/v1/auth/login", body={"email": email, "password": PASSWORD},
                 want=200)[1]
    expect_eq(login["organizations"], [], "organizations at login before accepting")
    call("GET", "/v1/invitations", token=login["token"], want=403,
         what="an unverified user's invitations")

    accepted = accept_invitation(login["token"], org.id, email)
    expect_eq(accepted["org"], {"id": org.id, "name": org.name, "role": "member"},
              "the accepted invitation's organization")
    members = org.members()
    expect(email not in members, "the invitation is still listed as such after accepting")
    now = members.get(uid)
    expect(now is not None, f"the new user {uid} is not a member after accepting: {members!r}")
    expect_eq((now["status"], now["email"], now["name"], now["role"]),
              ("active", email, "Invited Person", "member"), "member after accepting")

    login = call("POST", "/v1/auth/login", body={"email": email, "password": PASSWORD},
                 want=200)[1]
    expect_eq(login["organizations"], [{"id": org.id, "name": org.name, "role": "member"}],
              "organizations at login")
    expect_eq(login["active_org"], {"id": org.id, "name": org.name, "role": "member"},
              "active_org with exactly one organization")
    _, o, _ = call("GET", "/v1/org", token=login["token"], want=200,
                   what="GET /v1/org with the login token")
    expect_eq((o["id"], o["role"]), (org.id, "member"), "the login token's organization")


@test
def post_orgs_returns_org_and_token_scoped_to_it():
    u = User("creator")
    token = u.session()  # no organization yet: unscoped
    call("GET", "/v1/org", token=token, want=403, what="GET /v1/org before any organization")
    name = uniq("New Org")
    _, b, _ = call("POST", "/v1/orgs", token=token, body={"name": name}, want=201)
    expect_eq(sorted(b), ["org", "token"], "keys of the answer")
    o = b["org"]
    expect_eq(sorted(o), ["created_at", "id", "name", "plan", "role"], "keys of org")
    expect_eq((o["name"], o["role"]), (name, "owner"), "org name and role")
    expect(isinstance(o["id"], str) and o["id"], f"org id {o['id']!r}")
    expect(RFC3339.match(o["created_at"] or ""), f"created_at {o['created_at']!r}")
    expect_eq(o["plan"].get("id"), "free", "plan id")
    expect_eq(sorted(o["plan"]), ["id", "monthly_run_limit", "name", "overage_credits_per_run",
                                  "price_cents"], "keys of plan")
    _, got, _ = call("GET", "/v1/org", token=b["token"], want=200, what="GET /v1/org with its token")
    expect_eq((got["id"], got["name"], got["role"]), (o["id"], name, "owner"), "scoped organization")
    expect_eq(got["plan"]["id"], "free", "plan of the new organization")
    _, dash, _ = call("GET", "/v1/org/dashboard", token=b["token"], want=200)
    expect_eq(dash.get("credit_balance"), 0, "credit balance of a new organization")
    _, lst, _ = call("GET", "/v1/orgs", token=token, want=200)
    expect_eq(lst["data"], [{"id": o["id"], "name": name, "role": "owner"}], "GET /v1/orgs")


@test
def login_with_two_orgs_has_no_active_org_and_switch_scopes_either():
    a = Org("two-a")
    u = User("two")
    a.add(u, "member")
    first = u.login()
    expect_eq(first["active_org"], {"id": a.id, "name": a.name, "role": "member"},
              "active_org with one organization")
    b_name = uniq("two-b")
    _, made, _ = call("POST", "/v1/orgs", token=first["token"], body={"name": b_name}, want=201)
    b_id = made["org"]["id"]

    login = u.login()
    expect(login["active_org"] is None, f"active_org with two organizations: {login['active_org']!r}")
    got = sorted((o["id"], o["name"], o["role"]) for o in login["organizations"])
    expect_eq(got, sorted([(a.id, a.name, "member"), (b_id, b_name, "owner")]), "organizations")
    call("GET", "/v1/org", token=login["token"], want=403, what="GET /v1/org unscoped")
    call("GET", "/v1/org/projects", token=login["token"], want=403, what="projects unscoped")
    _, me, _ = call("GET", "/v1/me", token=login["token"], want=200)
    expect(me.get("active_org", "absent") is None, f"/v1/me active_org {me.get('active_org')!r}")

    for org_id, role in ((a.id, "member"), (b_id, "owner"), (a.id, "member")):
        _, sw, _ = call("POST", "/v1/auth/switch", token=login["token"], body={"org_id": org_id},
                        want=200, what=f"switch to {org_id}")
        _, o, _ = call("GET", "/v1/org", token=sw["token"], want=200)
        expect_eq((o["id"], o["role"]), (org_id, role), "switched organization and role")

    foreign = Org("two-foreign")
    call("POST", "/v1/auth/switch", token=login["token"], body={"org_id": foreign.id}, want=404,
         what="switch to an organization the user is not in")
    call("POST", "/v1/auth/switch", token=login["token"], body={"org_id": "org_doesnotexist0000"},
         want=404, what="switch to a nonexistent organization")


# --- 3. tokens issued before a change of membership ----------------------------------------

@test
def demoted_admin_loses_admin_access_at_once_with_the_same_token():
    org = Org("demote")
    admin, token = org.new_member("admin")
    call("POST", "/v1/org/members", token=token, body={"email": new_email("x"), "role": "member"},
         want=201, what="admin adds a member before the demotion")
    call("GET", "/v1/org/audit", token=token, want=200, what="admin reads audit before")
    call("PATCH", f"/v1/org/members/{admin.id}", token=org.token, body={"role": "member"},
         want=200, what="owner demotes the admin")
    call("POST", "/v1/org/members", token=token, body={"email": new_email("y"), "role": "member"},
         want=403, what="the demoted admin's old token adds a member")
    call("GET", "/v1/org/audit", token=token, want=403, what="the demoted admin's old token, audit")
    call("PATCH", "/v1/org", token=token, body={"name": "hijack"}, want=403,
         what="the demoted admin's old token renames the org")
    _, o, _ = call("GET", "/v1/org", token=token, want=200, what="still a member")
    expect_eq(o["role"], "member", "role reported for the old token")
    expect_eq(o["name"], org.name, "organization name")


@test
def promoted_member_gains_admin_access_at_once_with_the_same_token():
    org = Org("promote")
    m, token = org.new_member("member")
    call("GET", "/v1/org/audit", token=token, want=403, what="member reads audit")
    call("PATCH", f"/v1/org/members/{m.id}", token=org.token, body={"role": "admin"}, want=200)
    call("GET", "/v1/org/audit", token=token, want=200, what="promoted member's old token, audit")


@test
def removed_member_old_token_gets_403_on_org():
    org = Org("remove")
    m, token = org.new_member("member")
    call("GET", "/v1/org", token=token, want=200, what="member before removal")
    call("DELETE", f"/v1/org/members/{m.id}", token=org.token, want=204, what="owner removes")
    for method, path in (("GET", "/v1/org"), ("GET", "/v1/org/projects"),
                         ("GET", "/v1/org/members"), ("GET", "/v1/org/dashboard")):
        call(method, path, token=token, want=403, what=f"removed member's old token: {method} {path}")
    call("POST", "/v1/org/projects", token=token, body={"name": uniq("p")}, want=403,
         what="removed member's old token creates a project")
    call("POST", "/v1/auth/switch", token=token, body={"org_id": org.id}, want=404,
         what="removed member switches back")
    expect(m.id not in org.members(), "the removed member is still listed")


# --- 4. owner rules --------------------------------------------------------------------------

@test
def admin_cannot_make_change_or_remove_an_owner():
    org = Org("owner-rules")
    admin, atok = org.new_member("admin")
    m, _ = org.new_member("member")
    outsider = User("outsider")
    call("POST", "/v1/org/members", token=atok, body={"email": outsider.email, "role": "owner"},
         want=403, what="admin adds a known user as owner")
    unknown = new_email("unknown")
    call("POST", "/v1/org/members", token=atok, body={"email": unknown, "role": "owner"},
         want=403, what="admin invites an unknown email as owner")
    call("POST", "/v1/org/members", token=atok, body={"email": m.email, "role": "owner"},
         want=403, what="admin re-adds a member as owner (403 before 409)")
    call("PATCH", f"/v1/org/members/{m.id}", token=atok, body={"role": "owner"}, want=403,
         what="admin makes a member owner")
    call("PATCH", f"/v1/org/members/{org.owner.id}", token=atok, body={"role": "admin"}, want=403,
         what="admin demotes the (only) owner (403 before 409)")
    call("PATCH", f"/v1/org/members/{org.owner.id}", token=atok, body={"role": "member"}, want=403,
         what="admin demotes the owner to member")
    call("DELETE", f"/v1/org/members/{org.owner.id}", token=atok, want=403,
         what="admin removes the owner")
    members = org.members()
    expect_eq({k: v["role"] for k, v in members.items()},
              {org.owner.id: "owner", admin.id: "admin", m.id: "member"},
              "roles after the refused changes")
    expect(outsider.id not in members and unknown not in members, "a refused owner was added")
    # an admin may still manage non-owners
    call("PATCH", f"/v1/org/members/{m.id}", token=atok, body={"role": "admin"}, want=200,
         what="admin promotes a member to admin")
    call("PATCH", f"/v1/org/members/{m.id}", token=atok, body={"role": "superuser"}, want=400,
         what="an unknown role")
    # the role rule comes before the body's validity (403 before 400)
    call("PATCH", f"/v1/org/members/{org.owner.id}", token=atok, body={"role": "superuser"},
         want=403, what="admin changes the owner to an unknown role")
    call("PATCH", f"/v1/org/members/{org.owner.id}", token=atok, body={"role": 5}, want=403,
         what="admin changes the owner with a role of the wrong type")


@test
def admin_cannot_promote_themself_to_owner():
    org = Org("self-promote")
    admin, atok = org.new_member("admin")
    call("PATCH", f"/v1/org/members/{admin.id}", token=atok, body={"role": "owner"}, want=403,
         what="admin makes themself owner")
    expect_eq(org.role_of(admin), "admin", "the admin's role afterwards")
    call("PATCH", f"/v1/org/members/{org.owner.id}", token=atok, body={"role": "admin"},
         want=403, what="the admin then demotes the original owner")
    expect_eq(org.role_of(org.owner), "owner", "the original owner's role afterwards")


@test
def last_owner_cannot_demote_or_leave_but_one_of_two_owners_can():
    org = Org("last-owner")
    me = org.owner
    call("PATCH", f"/v1/org/members/{me.id}", token=org.token, body={"role": "admin"}, want=409,
         what="last owner demotes themself")
    call("PATCH", f"/v1/org/members/{me.id}", token=org.token, body={"role": "member"}, want=409,
         what="last owner demotes themself to member")
    call("DELETE", f"/v1/org/members/{me.id}", token=org.token, want=409,
         what="last owner leaves")
    expect_eq(org.role_of(me), "owner", "the last owner's role after the refusals")

    second, stok = org.new_member("owner", "second-owner")
    expect_eq(org.role_of(second), "owner", "an owner may add an owner")
    call("DELETE", f"/v1/org/members/{me.id}", token=org.token, want=204,
         what="one of two owners leaves")
    call("GET", "/v1/org", token=org.token, want=403, what="the owner who left")
    expect_eq({k: v["role"] for k, v in org.members(stok).items()}, {second.id: "owner"},
              "members after the first owner left")
    call("DELETE", f"/v1/org/members/{second.id}", token=stok, want=409,
         what="the now last owner leaves")
    call("PATCH", f"/v1/org/members/{second.id}", token=stok, body={"role": "admin"}, want=409,
         what="the now last owner demotes themself")
    # with two owners again, one may demote the other
    third = User("third")
    org.add(third, "member", token=stok)
    call("PATCH", f"/v1/org/members/{third.id}", token=stok, body={"role": "owner"}, want=200,
         what="owner promotes a member to owner")
    call("PATCH", f"/v1/org/members/{second.id}", token=stok, body={"role": "admin"}, want=200,
         what="one of two owners demotes themself")
    expect_eq({k: v["role"] for k, v in org.members(stok).items()},
              {second.id: "admin", third.id: "owner"}, "roles at the end")


@test
def adding_an_existing_member_or_invitation_again_is_409():
    org = Org("again")
    m, _ = org.new_member("member")
    for email, role in ((m.email, "member"), (m.email, "admin"), (m.email.upper(), "member"),
                        (org.owner.email, "member")):
        call("POST", "/v1/org/members", token=org.token, body={"email": email, "role": role},
             want=409, what=f"add {email} again as {role}")
    invited = new_email("pending")
    org.add(invited, "member")
    call("POST", "/v1/org/members", token=org.token, body={"email": invited, "role": "admin"},
         want=409, what="invite the same email again")
    members = org.members()
    expect_eq(members[m.id]["role"], "member", "role of the member added twice")
    expect_eq(len(members), 3, "number of members and invitations")


# --- 5. two owners demoting each other at once ---------------------------------------------

@test
def two_owners_demoting_each_other_at_once_leave_exactly_one_owner_20_times():
    """Whichever demotion is decided first wins (200). The other is decided after it, when
    its caller is an admin and its target is an owner: "an admin changing an owner" is 403,
    and 403 comes before 409. A 409 ("last owner") would contradict itself: the target is
    the last owner only if the caller is no longer an owner, and then the caller may not
    change an owner at all. So: exactly one 200 and one 403, and one owner left, the winner."""
    a, b = User("owner-a"), User("owner-b")
    problems, losers = [], []
    for rnd in range(20):
        _, made, _ = call("POST", "/v1/orgs", token=a.session(), body={"name": uniq("race")},
                          want=201)
        org_id, atok = made["org"]["id"], made["token"]
        call("POST", "/v1/org/members", token=atok, body={"email": b.email, "role": "owner"},
             want=201)
        accept_invitation(b.session(), org_id, b.email)
        btok = b.token_for(org_id)
        plays = ((atok, b), (btok, a))  # (caller's token, whom they demote)

        def demote(i):
            tok, target = plays[i]
            return req("PATCH", f"/v1/org/members/{target.id}", body={"role": "admin"}, token=tok)

        results = concurrently(2, demote)
        for r in results:
            if isinstance(r, Exception):
                raise r
        statuses = [r[0] for r in results]
        codes = [(r[2] or {}).get("error", {}).get("code") if isinstance(r[2], dict) else None
                 for r in results]
        _, lst, _ = call("GET", "/v1/org/members", token=atok, want=200)
        owners = [m["user_id"] for m in lst["data"] if m["role"] == "owner"]
        if len(owners) != 1:
            problems.append(f"round {rnd}: owners {owners} (statuses {statuses})")
            continue
        if statuses.count(200) != 1:
            problems.append(f"round {rnd}: statuses {statuses} codes {codes}, want one 200")
            continue
        losers.append(f"{statuses[1 - statuses.index(200)]} {codes[1 - statuses.index(200)]}")
        if sorted(statuses) != [200, 403]:
            problems.append(f"round {rnd}: statuses {statuses} codes {codes}, want one 200 and "
                            f"one 403 forbidden")
            continue
        winner = (a, b)[statuses.index(200)]
        if owners != [winner.id]:
            problems.append(f"round {rnd}: the owner left is {owners[0]}, not the caller whose "
                            f"demotion succeeded ({winner.id})")
        if codes[statuses.index(403)] != "forbidden":
            problems.append(f"round {rnd}: 403 with code {codes[statuses.index(403)]!r}")
    tally = ", ".join(f"{k} x{losers.count(k)}" for k in sorted(set(losers)))
    expect(not problems, f"{len(problems)} of 20 rounds wrong (the losing request answered: "
           f"{tally}): " + "; ".join(problems))


# --- 6. tenant isolation and pagination ------------------------------------------------------

SQLISH = ("1' OR '1'='1", "x%27%20OR%201=1--", "../members", "..", "%", "*", "' OR 1=1 #",
          "prj_\\' OR \\'\\'=\\'", "a\" OR \"\"=\"")


@test
def every_id_endpoint_is_404_for_foreign_nonexistent_and_sql_like_ids():
    ours, theirs = Org("iso-ours"), Org("iso-theirs")
    our_member, _ = ours.new_member("member")
    our_project, our_env = ours.project(), ours.env()
    their_member, _ = theirs.new_member("member")
    their_project, their_env = theirs.project(), theirs.env()

    def snapshot():
        return (call("GET", f"/v1/org/projects/{their_project}", token=theirs.token, want=200)[1],
                call("GET", f"/v1/org/environments/{their_env}", token=theirs.token, want=200)[1],
                theirs.members(),
                call("GET", f"/v1/org/projects/{our_project}", token=ours.token, want=200)[1],
                call("GET", f"/v1/org/environments/{our_env}", token=ours.token, want=200)[1],
                ours.members())

    before = snapshot()
    endpoints = (
        ("GET", "/v1/org/projects/", None, their_project),
        ("PATCH", "/v1/org/projects/", {"description": "hijacked"}, their_project),
        ("DELETE", "/v1/org/projects/", None, their_project),
        ("GET", "/v1/org/environments/", None, their_env),
        ("PATCH", "/v1/org/environments/", {"status": "paused"}, their_env),
        ("DELETE", "/v1/org/environments/", None, their_env),
        ("PATCH", "/v1/org/members/", {"role": "admin"}, their_member.id),
        ("DELETE", "/v1/org/members/", None, their_member.id),
    )
    wrong = []
    for method, base, body, foreign in endpoints:
        answers = {}
        ids = [("foreign", foreign), ("foreign owner", theirs.owner.id), ("foreign org", theirs.id),
               ("nonexistent", foreign[:4] + "doesnotexist00000")]
        ids += [(f"sql-like {s!r}", s) for s in SQLISH]
        paths = [(what, base + enc(i)) for what, i in ids]
        # sent as they are: nginx decodes them once, orgd sees the SQL quote characters
        paths += [("raw x%27%20OR%201=1--", base + "x%27%20OR%201=1--"),
                  ("raw 1' OR '1'='1", base + "1%27%20OR%20%271%27=%271")]
        for what, path in paths:
            st, b, raw = call(method, path, token=ours.token, body=body)
            code = b.get("error", {}).get("code") if isinstance(b, dict) else None
            if st != 404 or code != "not_found":
                wrong.append(f"{method} {path} ({what}): {st} {code}: {raw[:120]!r}")
            answers[what] = raw
            for secret in (foreign, theirs.id, theirs.name):
                if secret.encode() in raw and what != "foreign" and what != "foreign org":
                    wrong.append(f"{method} {path}: the answer names {secret}")
        if answers.get("foreign") != answers.get("nonexistent"):
            wrong.append(f"{method} {base}{{id}}: another organization's id answers "
                         f"{answers.get('foreign')!r}, a nonexistent one "
                         f"{answers.get('nonexistent')!r}")
    after = snapshot()
    names = ("their project", "their environment", "their members", "our project",
             "our environment", "our members")
    for name, x, y in zip(names, before, after):
        if x != y:
            wrong.append(f"{name} changed: {x!r} -> {y!r}")
    expect(not wrong, f"{len(wrong)} wrong: " + "; ".join(wrong))
    # the member ids of our own organization are still reachable (the 404s were not blanket)
    call("PATCH", f"/v1/org/members/{our_member.id}", token=ours.token, body={"role": "admin"},
         want=200, what="PATCH our own member")


@test
def ids_match_exactly_no_trailing_space_or_case_variant():
    """An id is an opaque string: a near miss of an existing id (trailing space, another
    case) names nothing (404) and changes nothing."""
    org = Org("exact")
    m, _ = org.new_member("member")
    project, env = org.project(), org.env()
    before = (call("GET", f"/v1/org/projects/{project}", token=org.token, want=200)[1],
              call("GET", f"/v1/org/environments/{env}", token=org.token, want=200)[1],
              org.members())
    wrong = []
    for variant in (lambda i: i + " ", lambda i: i + "  ", lambda i: i.upper()):
        for method, base, body, id_ in (
                ("GET", "/v1/org/projects/", None, project),
                ("PATCH", "/v1/org/projects/", {"description": "near miss"}, project),
                ("GET", "/v1/org/environments/", None, env),
                ("PATCH", "/v1/org/environments/", {"status": "paused"}, env),
                ("PATCH", "/v1/org/members/", {"role": "admin"}, m.id)):
            path = base + enc(variant(id_))
            st = call(method, path, token=org.token, body=body)[0]
            if st != 404:
                wrong.append(f"{method} {path}: {st}, want 404")
    after = (call("GET", f"/v1/org/projects/{project}", token=org.token, want=200)[1],
             call("GET", f"/v1/org/environments/{env}", token=org.token, want=200)[1],
             org.members())
    if before != after:
        wrong.append(f"rows changed through a near-miss id: {before!r} -> {after!r}")
    expect(not wrong, "; ".join(wrong))


def walk(path, token, key, limit=2):
    """Follows ?limit=&after= to the end; returns (items, number of pages). Fails unless
    every page but the last is full with has_more true and the last has has_more false."""
    items, after, pages = [], None, 0
    while True:
        sep = "&" if "?" in path else "?"
        q = f"{path}{sep}limit={limit}" + (f"&after={enc(after)}" if after else "")
        _, b, _ = call("GET", q, token=token, want=200)
        expect_eq(sorted(b), ["data", "has_more"], f"keys of {q}")
        pages += 1
        expect(pages <= 50, f"{path}: more than 50 pages")
        items.extend(b["data"])
        if not b["has_more"]:
            expect(len(b["data"]) <= limit, f"{q}: {len(b['data'])} items")
            return items, pages
        expect_eq(len(b["data"]), limit, f"items on a page with has_more ({q})")
        after = b["data"][-1][key]


@test
def lists_paginate_with_limit_and_after_without_overlap():
    org = Org("pages")
    for _ in range(4):
        org.new_member("member", "pager")
    projects = [org.project() for _ in range(5)]
    envs = [org.env() for _ in range(5)]
    multi = User("multi")
    for _ in range(3):
        call("POST", "/v1/orgs", token=multi.session(), body={"name": uniq("multi")}, want=201)
    lists = (("/v1/org/projects", org.token, "id", projects),
             ("/v1/org/environments", org.token, "id", envs),
             ("/v1/org/members", org.token, "user_id", None),
             ("/v1/org/audit", org.token, "id", None),
             ("/v1/orgs", multi.session(), "id", None))
    for path, token, key, made in lists:
        for bad in ("0", "101", "-1", "abc", ""):
            call("GET", f"{path}?limit={bad}", token=token, want=400, what=f"{path}?limit={bad}")
        _, full, _ = call("GET", f"{path}?limit=100", token=token, want=200)
        expect_eq(full["has_more"], False, f"{path}?limit=100 has_more")
        all_ids = [x[key] for x in full["data"]]
        expect(len(all_ids) >= 3, f"{path}: only {len(all_ids)} items")
        expect_eq(len(set(all_ids)), len(all_ids), f"{path}: duplicate ids")
        items, pages = walk(path, token, key)
        ids = [x[key] for x in items]
        expect_eq(ids, all_ids, f"{path}: the pages of 2 put together")
        expect(pages >= 2, f"{path}: {pages} page(s)")
        if made is not None:
            expect_eq(ids, made, f"{path}: items in creation order")
        _, first, _ = call("GET", f"{path}?limit=2", token=token, want=200)
        expect_eq(first["has_more"], True, f"{path}?limit=2 has_more")
        expect_eq([x[key] for x in first["data"]], all_ids[:2], f"{path}?limit=2")
        _, nxt, _ = call("GET", f"{path}?limit=2&after={enc(all_ids[1])}", token=token, want=200)
        expect_eq([x[key] for x in nxt["data"]], all_ids[2:4], f"{path} after {all_ids[1]}")
    expect_eq(len(call("GET", "/v1/orgs?limit=100", token=multi.session(), want=200)[1]["data"]),
              3, "organizations of the multi user")


# --- 7. the audit log --------------------------------------------------------------------------

@test
def audit_log_lists_role_change_invitation_and_environment_newest_first():
    org = Org("audit")
    admin, atok = org.new_member("admin")
    m, _ = org.new_member("member")
    other = Org("audit-other")
    other.env()
    call("PATCH", f"/v1/org/members/{m.id}", token=org.token, body={"role": "admin"}, want=200)
    invited = new_email("audit-invitee")
    call("POST", "/v1/org/members", token=atok, body={"email": invited, "role": "member"},
         want=201)
    env_id = org.env(token=atok, name=uniq("audit-env"))
    _, log, _ = call("GET", "/v1/org/audit", token=atok, want=200, what="admin reads the audit")
    call("GET", "/v1/org/audit", token=org.token, want=200, what="owner reads the audit")
    entries = log["data"]
    expect(len(entries) >= 3, f"only {len(entries)} audit entries")
    for e in entries:
        expect_eq(sorted(e), ["action", "actor_user_id", "at", "detail", "id", "target"],
                  "keys of an audit entry")
        expect(RFC3339.match(e["at"] or ""), f"at {e['at']!r}")
    ats = [e["at"] for e in entries]
    expect_eq(ats, sorted(ats, reverse=True), "audit times newest first")
    env_e, inv_e, role_e = entries[0], entries[1], entries[2]
    expect_eq((env_e["actor_user_id"], env_e["target"]), (admin.id, env_id), "newest: environment")
    expect("environment" in env_e["action"], f"action {env_e['action']!r}")
    expect_eq((inv_e["actor_user_id"], inv_e["target"]), (admin.id, invited), "then: invitation")
    expect("invite" in inv_e["action"], f"action {inv_e['action']!r}")
    expect_eq((role_e["actor_user_id"], role_e["target"]), (org.owner.id, m.id), "then: role")
    expect("role" in role_e["action"], f"action {role_e['action']!r}")
    expect("admin" in role_e["detail"], f"role change detail {role_e['detail']!r}")
    # membership additions of the fixture are there too, older; nothing of the other org
    targets = [e["target"] for e in entries]
    expect(admin.email in targets or admin.id in targets, f"adding the admin is not audited: {targets}")
    expect(all(other.id != t and other.owner.id != e["actor_user_id"]
               for t, e in zip(targets, entries)), "another organization's entries are listed")


if __name__ == "__main__":
    main()
