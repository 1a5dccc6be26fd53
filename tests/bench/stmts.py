"""tests/bench/stmts.py: orgd's statements by name, for EXPLAIN (make bench-cron's
tests/bench/cron.py, and tests/integration/test_explain.py).

statements(tmp_dir) builds tests/bench/sql_text.c with src/db/sql.c into a tiny program in
tmp_dir, runs it, and names each text after its enum stmt in src/db/db_stmts.h:
{"STMT_SESSION_ORGS": "SELECT ...", ...}. bind(text, values) puts SQL literals in place of
its ? placeholders, in order (EXPLAIN takes no placeholders; the values are the caller's
own, never a user's)."""
import os
import re
import subprocess

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def statements(tmp_dir):
    """{STMT_NAME: sql text}; raises RuntimeError (with the compiler's words) if it cannot
    build the table."""
    exe = os.path.join(tmp_dir, "sql-text")
    os.makedirs(tmp_dir, exist_ok=True)
    p = subprocess.run(["cc", "-I" + os.path.join(REPO, "src", "db"), "-o", exe,
                        os.path.join(REPO, "tests", "bench", "sql_text.c"),
                        os.path.join(REPO, "src", "db", "sql.c")], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("cannot build the statement table: " + p.stderr[-500:])
    with open(os.path.join(REPO, "src", "db", "db_stmts.h")) as f:
        h = f.read()
    body = h[h.index("enum stmt"):]
    body = body[body.index("{") + 1:body.index("};")]
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
    names = re.findall(r"\b(STMT_\w+)\b", body)
    out = subprocess.run([exe], capture_output=True, text=True, check=True).stdout
    texts = {}
    for line in out.splitlines():
        i, _, t = line.partition("\t")
        if int(i) < len(names):
            texts[names[int(i)]] = t
    return texts


def bind(text, values):
    """text with its ? placeholders replaced by values (SQL literals), in order."""
    it = iter(values)
    return re.sub(r"\?", lambda m: str(next(it)), text)
