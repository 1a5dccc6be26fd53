"""test_explain: the hot statements of src/db/sql.c (issue 12), as the hot paths send them,
read with EXPLAIN FORMAT=JSON on the stack's database: every table by an index (const,
eq_ref, ref or range; never a full scan of a table or of an index), no filesort, no
temporary table; a settlement's rows locked organization first. The statements' texts come
from sql.c itself (tests/bench/stmts.py), the values from an organization this test makes
through the API (an owner, a project, an environment, a settled purchase written by SQL),
so that the plans are those of real rows.
ANALYZE TABLE first: the plans are those of fresh statistics."""

import json
import os
import sys
import time

from orgdtest import REPO, VAR, db_query, expect, expect_status, main, req, rnd, test

sys.path.insert(0, os.path.join(REPO, "tests", "bench"))
import stmts  # noqa: E402  (tests/bench/stmts.py)

PASSWORD = "correct horse battery"
GOOD_ACCESS = {"system", "const", "eq_ref", "ref", "range"}


def q(v):
    """An SQL literal of v (the test's own values: ids, digits, a period)."""
    return str(v) if isinstance(v, int) else "'" + str(v).replace("'", "''") + "'"


def workspace():
    """An owner with one organization holding a project, two environments, a member and a
    settled purchase."""
    email = f"explain-{rnd()}@example.test"
    user_id = expect_status(req("POST", "/v1/auth/signup",
                     body={"email": email, "password": PASSWORD, "name": "explain"}), 201,
                 "signup")["user"]["id"]
    token = expect_status(req("POST", "/v1/auth/login", body={"email": email, "password": PASSWORD}), 200,
               "login")["token"]
    created = expect_status(req("POST", "/v1/orgs", body={"name": f"explain {rnd(6)}"}, token=token), 201,
                 "create org")
    token, org_id = created["token"], created["org"]["id"]
    project = expect_status(req("POST", "/v1/org/projects", body={"name": f"p-{rnd(6)}"}, token=token),
                 201, "create project")["id"]
    envs = [expect_status(req("POST", "/v1/org/environments",
                   body={"name": f"e-{rnd(6)}", "kind": "production", "region": "eu-west-1"},
                   token=token), 201, "create environment")["id"] for _ in range(2)]
    sid = db_query(f"SELECT id FROM sessions WHERE user_id = {q(user_id)}"
                   " ORDER BY created_at DESC LIMIT 1")[0][0]
    purchase = "pur_explain" + rnd(12)
    db_query("INSERT INTO purchases (id, org_id, kind, credits, amount_cents, status,"
             " provider_key, customer_id, pm_id, created_at, settled_at) VALUES"
             f" ({q(purchase)}, {q(org_id)}, 'credits', 500, 500, 'failed',"
             f" {q('explain:' + purchase)}, 'cus_explain', 'pm_card_visa', UTC_TIMESTAMP(),"
             " UTC_TIMESTAMP())")
    db_query("ANALYZE TABLE sessions, users, memberships, orgs, org_billing, environments,"
             " projects, usage_months, purchases, runs, idempotency_keys, ledger")
    return {"user": user_id, "sid": sid, "org": org_id, "project": project, "env": envs[0],
            "purchase": purchase}


def problems(plan, path="query_block"):
    """What in an EXPLAIN FORMAT=JSON plan is not index access: ["<where>: <what>", ...]."""
    out = []
    if isinstance(plan, dict):
        if "table_name" in plan and "access_type" in plan:
            a = plan["access_type"]
            if a not in GOOD_ACCESS and "table_function" not in plan:  # JSON_TABLE's rows
                out.append(f"{path}: table {plan['table_name']} read by {a}"
                           f" (key {plan.get('key')})")
        for k, v in plan.items():
            if k in ("filesort", "read_sorted_file") or (k == "using_filesort" and v):
                out.append(f"{path}: a filesort")
            if k == "temporary_table" or (k == "using_temporary_table" and v):
                out.append(f"{path}: a temporary table")
            out += problems(v, f"{path}.{k}" if k != "query_block" else path)
    elif isinstance(plan, list):
        for i, v in enumerate(plan):
            out += problems(v, f"{path}[{i}]")
    return out


def tables(plan):
    """The plan's tables in the order it reads them."""
    out = []
    if isinstance(plan, dict):
        if "table_name" in plan:
            out.append(plan["table_name"])
        for v in plan.values():
            out += tables(v)
    elif isinstance(plan, list):
        for v in plan:
            out += tables(v)
    return out


def explain(texts, name, args):
    """The plan of statement name with args (None is NULL)."""
    text = texts.get(name)
    expect(text, f"{name} is not in src/db/sql.c")
    rows = db_query("EXPLAIN FORMAT=JSON " +
                    stmts.bind(text, ["NULL" if a is None else q(a) for a in args]))
    return json.loads(rows[0][0].replace("\\n", "\n"))


@test
def hot_statements_read_by_index_without_filesort_or_temporary_table():
    texts = stmts.statements(os.path.join(VAR, "tmp"))
    w = workspace()
    period = time.strftime("%Y-%m", time.gmtime())
    now = int(time.time())
    cases = [
        # every signed-in request: the session, the user, the membership
        ("STMT_SESSION_MEMBER", [w["org"], w["sid"], w["user"]]),
        # GET /v1/me
        ("STMT_SESSION_ORGS", [w["sid"], w["user"], 1000]),
        # GET /v1/org/dashboard, with environments and (the second statement) without
        ("STMT_DASHBOARD", [period, w["org"]]),
        ("STMT_DASHBOARD_BARE", [period, w["org"]]),
        # POST /v1/org/runs
        ("STMT_RUN_LOCK", [period, w["org"]]),
        ("STMT_RUN_INSERT", ["run_explain" + rnd(12), period, "included", 0, now, w["org"],
                             w["project"], w["env"]]),
        ("STMT_IDEM_GET", [now - 86400, w["org"], "k-" + rnd()]),
        ("STMT_IDEM_STORE", [201, "{}", w["org"], "k-" + rnd()]),
        # a settlement: the webhook, the answer of a charge, the sweeps
        ("STMT_SETTLE_LOCK", [w["purchase"], w["org"]]),
        ("STMT_PURCHASE_SETTLE", ["succeeded", None, None, now, w["purchase"]]),
        ("STMT_AR_CREDIT", [0, w["org"]]),
        ("STMT_BALANCE_ADD", [0, w["org"]]),
        # a sweep's chunk and claim: a JSON array read as a table, each row then by its key
        # (on tables this small the optimizer reads them whole unless told)
        ("STMT_SETTLE_LOCK_MANY", [json.dumps([{"i": w["purchase"], "o": w["org"]}])]),
        ("STMT_SETTLE_MANY", [json.dumps([{"i": w["purchase"], "n": None}]), now]),
        ("STMT_CREDIT_MANY", [json.dumps([{"o": w["org"], "c": 0, "a": 1}])]),
        ("STMT_AR_CLAIM_ATTEMPTS", [json.dumps([{"o": w["org"]}]), now]),
    ]
    # the rows of one organization's money are locked organization first, purchase after,
    # by one purchase's settlement and by a chunk's alike: the two never wait in a circle
    order = {"STMT_SETTLE_LOCK": ["o", "p"], "STMT_SETTLE_LOCK_MANY": ["j", "o", "p"]}
    bad = []
    for name, args in cases:
        plan = explain(texts, name, args)
        found = problems(plan)
        if name in order:
            got = [t for t in tables(plan) if t in order[name]]
            if got != order[name]:
                found.append(f"tables read in the order {got}, want {order[name]}")
        if found:
            bad.append(f"{name}: " + "; ".join(found))
    expect(not bad, " | ".join(bad))
    db_query(f"DELETE FROM purchases WHERE id = {q(w['purchase'])}")


if __name__ == "__main__":
    main()
