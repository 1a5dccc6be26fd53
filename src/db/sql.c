/*
 * sql: every SQL statement of orgd, indexed by enum stmt (db_stmts.h).
 * Parameters are always '?' placeholders bound by db_exec()/db_query();
 * nothing is ever formatted into SQL. Times leave the database as RFC 3339
 * UTC strings. Roles are stored as enum role's numbers (role.h): 1 member,
 * 2 admin, 3 owner.
 *
 * A page statement (db_page()) takes (owner, owner, after, after, limit) and
 * starts at the row its cursor names, inclusive, so that db_page() can tell
 * a cursor naming no row (nothing comes back) from the last page.
 *
 * One statement a row, laid out by hand to be read; clang-format keeps off.
 */
#include "sql.h"

#define RFC3339(col) "DATE_FORMAT(" col ", '%Y-%m-%dT%H:%i:%sZ')"

/* seq of the cursor row of table t (alias c) matching cond, or the start of the list */
#define FROM_CURSOR(t, cond)                                                                       \
	"COALESCE((SELECT c.seq FROM " t " c WHERE " cond "), CASE WHEN ? = '' THEN 0 END)"
#define DOWN_FROM_CURSOR(t, cond)                                                                  \
	"COALESCE((SELECT c.seq FROM " t " c WHERE " cond "), CASE WHEN ? = '' THEN ~0 END)"

#define PROJECT_COLS "id, name, description, " RFC3339("created_at")
#define ENV_COLS     "id, name, kind, region, status, " RFC3339("created_at")
/* clang-format off */
/* a purchase's columns (db_purchase_row()), of table alias t ("" or "p.") */
#define PURCHASE_COLS_OF(t) \
	t "id, " t "org_id, " t "kind, " t "plan_id, " t "status, " t "failure_code, " \
	t "provider_key, " t "intent_id, " RFC3339(t "created_at") ", " \
	RFC3339(t "settled_at") ", " t "credits, " t "amount_cents, " t "customer_id, " \
	t "pm_id, COALESCE(UNIX_TIMESTAMP(" t "period_from), 0)"
#define PURCHASE_COLS PURCHASE_COLS_OF("")
/* a JSON array of objects read as the table j (JSON_TABLE), its columns named after the
   objects' one-letter keys: a whole batch in one statement (db_cron.c, db_pay.c) */
#define JSON_ROWS(cols) " JSON_TABLE(?, '$[*]' COLUMNS (" cols ")) j"
/* the array first, then each row by its key: STRAIGHT_JOIN and FORCE INDEX, or on a small
   table the optimizer reads (and locks) it whole instead (test_explain) */
#define ASCII_COL(k, n) k " VARCHAR(" #n ") CHARACTER SET ascii COLLATE ascii_nopad_bin PATH '$." k "'"
#define INT_COL(k)      k " BIGINT PATH '$." k "'"
/* clang-format on */
#define MEMBER_COLS                                                                                \
	"m.user_id, m.email, u.name, m.role, m.status, " RFC3339(                                  \
		"m.added_at") ", m.invite_id, " RFC3339("m.expires_at")

/* clang-format off */
const char *const sql_text[STMT__MAX] = {
	[STMT_PING] = "SELECT 1",

	/* users, sessions, login_failures */
	[STMT_USER_INSERT] =
		"INSERT INTO users (id, email, email_verified, name, password_hash, created_at)"
		" VALUES (?, ?, 0, ?, ?, FROM_UNIXTIME(?))",
	[STMT_USER_BY_EMAIL] =
		"SELECT id, email, name, password_hash, email_verified FROM users WHERE email = ?",
	[STMT_USER_BY_ID] =
		"SELECT id, email, name, password_hash, email_verified FROM users WHERE id = ?",
	[STMT_USER_LOCK] =
		"SELECT id, email, name, password_hash, email_verified FROM users WHERE id = ?"
		" FOR UPDATE",
	[STMT_USER_VERIFIED] =
		"UPDATE users SET email_verified = 1 WHERE id = ?",
	[STMT_USER_SET_PASSWORD] =
		"UPDATE users SET password_hash = ? WHERE id = ?",
	/* every session but keep (which may be '') */
	[STMT_SESSIONS_REVOKE_ALL] =
		"UPDATE sessions SET revoked_at = FROM_UNIXTIME(?)"
		" WHERE user_id = ? AND id <> ? AND revoked_at IS NULL",
	[STMT_TOKEN_INSERT] =
		"INSERT INTO email_tokens (hash, user_id, kind, created_at, expires_at)"
		" VALUES (?, ?, ?, FROM_UNIXTIME(?), FROM_UNIXTIME(?))",
	[STMT_TOKEN_LOCK] =
		"SELECT user_id FROM email_tokens WHERE hash = ? AND kind = ? AND used_at IS NULL"
		" AND expires_at > FROM_UNIXTIME(?) FOR UPDATE",
	[STMT_TOKEN_USE] =
		"UPDATE email_tokens SET used_at = FROM_UNIXTIME(?) WHERE hash = ?",
	/* a user's tokens of a kind made since each of two times */
	[STMT_TOKENS_RECENT] =
		"SELECT COUNT(IF(created_at > FROM_UNIXTIME(?), 1, NULL)), COUNT(*) FROM email_tokens"
		" WHERE user_id = ? AND kind = ? AND created_at > FROM_UNIXTIME(?)",
	[STMT_RESET_INSERT] =
		"INSERT INTO reset_requests (email, at) VALUES (?, FROM_UNIXTIME(?))",
	[STMT_RESET_NEXT] =
		"SELECT id, email FROM reset_requests WHERE processed_at IS NULL ORDER BY id LIMIT 1"
		" FOR UPDATE SKIP LOCKED",
	[STMT_RESET_COUNT] =
		"SELECT COUNT(*) FROM reset_requests WHERE email = ? AND at > FROM_UNIXTIME(?)"
		" AND id <= ?",
	[STMT_RESET_DONE] =
		"UPDATE reset_requests SET processed_at = FROM_UNIXTIME(?) WHERE id = ?",
	[STMT_OUTBOX_INSERT] =
		"INSERT INTO outbox (message_id, to_email, subject, body, created_at, next_at)"
		" VALUES (?, ?, ?, ?, FROM_UNIXTIME(?), FROM_UNIXTIME(?))",
	[STMT_OUTBOX_DUE] =
		"SELECT id, message_id, to_email, subject, body, UNIX_TIMESTAMP(created_at), attempts"
		" FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL"
		" AND next_at <= FROM_UNIXTIME(?) ORDER BY next_at LIMIT ? FOR UPDATE SKIP LOCKED",
	/* a mailer's lease: the row is its own until then (another mailer may take it after) */
	[STMT_OUTBOX_LEASE] =
		"UPDATE outbox SET next_at = FROM_UNIXTIME(?), attempts = attempts + 1 WHERE id = ?",
	[STMT_OUTBOX_SENT] =
		"UPDATE outbox SET sent_at = FROM_UNIXTIME(?), body = '' WHERE id = ?",
	[STMT_OUTBOX_RETRY] =
		"UPDATE outbox SET next_at = FROM_UNIXTIME(?), failed_at = FROM_UNIXTIME(?) WHERE id = ?",
	[STMT_OUTBOX_BACKLOG] =
		"SELECT (SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL),"
		" (SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND failed_at IS NOT NULL)",
	[STMT_SESSION_INSERT] =
		"INSERT INTO sessions (id, user_id, created_at, expires_at)"
		" VALUES (?, ?, FROM_UNIXTIME(?), FROM_UNIXTIME(?))",
	[STMT_SESSION_MEMBER] =
		"SELECT m.role, u.email, u.name, u.email_verified FROM sessions s"
		" JOIN users u ON u.id = s.user_id"
		" LEFT JOIN memberships m ON m.org_id = ? AND m.user_id = s.user_id"
		"  AND m.status = 'active'"
		" WHERE s.id = ? AND s.user_id = ? AND s.revoked_at IS NULL",
	/* GET /v1/me in one round trip: the session and the user once per active membership,
	   in the order joined (read in memberships_user's order: no temporary table, no
	   filesort); no row for a user without any (STMT_SESSION_MEMBER then tells) */
	[STMT_SESSION_ORGS] =
		"SELECT u.email, u.name, u.email_verified, o.id, o.name, m.role FROM sessions s"
		" JOIN users u ON u.id = s.user_id"
		" JOIN memberships m ON m.user_id = s.user_id AND m.status = 'active'"
		" JOIN orgs o ON o.id = m.org_id"
		" WHERE s.id = ? AND s.user_id = ? AND s.revoked_at IS NULL ORDER BY m.seq LIMIT ?",
	[STMT_SESSION_REVOKE] =
		"UPDATE sessions SET revoked_at = FROM_UNIXTIME(?) WHERE id = ? AND revoked_at IS NULL",
	/* the attempts in the window: of this email from this address, of this email, of
	   this address (API.md: 5, 50 and 100 make it 429) */
	[STMT_LOGIN_FAILURES_COUNT] =
		"SELECT (SELECT COUNT(*) FROM login_failures WHERE email = ? AND addr = ?"
		"   AND at > FROM_UNIXTIME(?)),"
		" (SELECT COUNT(*) FROM login_failures WHERE email = ? AND at > FROM_UNIXTIME(?)),"
		" (SELECT COUNT(*) FROM login_failures WHERE addr = ? AND at > FROM_UNIXTIME(?))",
	[STMT_LOGIN_FAILURE_INSERT] =
		"INSERT INTO login_failures (email, addr, at) VALUES (?, ?, FROM_UNIXTIME(?))",
	[STMT_LOGIN_FAILURES_CLEAR] =
		"DELETE FROM login_failures WHERE email = ?",
	[STMT_LOGIN_FAILURE_DELETE] =
		"DELETE FROM login_failures WHERE id = ?",

	/* orgs, memberships */
	[STMT_ORG_MEMBERSHIP] =
		"SELECT o.id, o.name, m.role FROM memberships m JOIN orgs o ON o.id = m.org_id"
		" WHERE m.org_id = ? AND m.user_id = ? AND m.status = 'active'",
	[STMT_ORG_INSERT] =
		"INSERT INTO orgs (id, name, created_at) VALUES (?, ?, FROM_UNIXTIME(?))",
	[STMT_ORG_GET] =
		"SELECT o.id, o.name, " RFC3339("o.created_at") ", o.credit_balance, o.plan_id,"
		" " RFC3339("o.current_period_end") " FROM orgs o WHERE o.id = ?",
	[STMT_ORG_RENAME] =
		"UPDATE orgs SET name = ? WHERE id = ?",
	[STMT_ORG_LOCK] =
		"SELECT id FROM orgs WHERE id = ? FOR UPDATE",
	[STMT_ORGS_PAGE] =
		"SELECT o.id, o.name, m.role FROM memberships m JOIN orgs o ON o.id = m.org_id"
		" WHERE m.user_id = ? AND m.status = 'active' AND m.seq >= "
		FROM_CURSOR("memberships", "c.user_id = ? AND c.status = 'active' AND c.org_id = ?")
		" ORDER BY m.seq LIMIT ?",
	[STMT_OWNER_INSERT] =
		"INSERT INTO memberships (org_id, user_id, email, role, status, added_at)"
		" SELECT ?, id, email, 3, 'active', FROM_UNIXTIME(?) FROM users WHERE id = ?",
	[STMT_MEMBERS_PAGE] =
		"SELECT " MEMBER_COLS " FROM memberships m LEFT JOIN users u ON u.id = m.user_id"
		" WHERE m.org_id = ? AND m.seq >= "
		FROM_CURSOR("memberships", "c.org_id = ? AND ? IN (c.user_id, c.invite_id, c.email)")
		" ORDER BY m.seq LIMIT ?",
	[STMT_MEMBER_GET] =
		"SELECT " MEMBER_COLS " FROM memberships m LEFT JOIN users u ON u.id = m.user_id"
		" WHERE m.org_id = ? AND (m.user_id = ? OR m.invite_id = ?)",
	[STMT_MEMBER_BY_EMAIL_LOCK] =
		"SELECT status, expires_at > FROM_UNIXTIME(?) FROM memberships"
		" WHERE org_id = ? AND email = ? FOR UPDATE",
	[STMT_MEMBER_DELETE_EMAIL] =
		"DELETE FROM memberships WHERE org_id = ? AND email = ?",
	[STMT_INVITE_INSERT] =
		"INSERT INTO memberships (org_id, invite_id, email, role, status, added_at, expires_at,"
		"  invited_by) VALUES (?, ?, ?, ?, 'invited', FROM_UNIXTIME(?), FROM_UNIXTIME(?), ?)",
	/* the pending invitations of an email: GET /v1/invitations */
	[STMT_INVITES_PAGE] =
		"SELECT m.invite_id, o.id, o.name, m.role, COALESCE(u.name, ''), " RFC3339("m.expires_at")
		" FROM memberships m JOIN orgs o ON o.id = m.org_id"
		" LEFT JOIN users u ON u.id = m.invited_by"
		" WHERE m.email = ? AND m.status = 'invited' AND m.expires_at > FROM_UNIXTIME(?)"
		" AND m.seq >= " FROM_CURSOR("memberships", "c.email = ? AND c.invite_id = ?")
		" ORDER BY m.seq LIMIT ?",
	[STMT_INVITE_LOCK] =
		"SELECT m.org_id, o.name, m.role FROM memberships m JOIN orgs o ON o.id = m.org_id"
		" WHERE m.invite_id = ? AND m.email = ? AND m.status = 'invited'"
		" AND m.expires_at > FROM_UNIXTIME(?) FOR UPDATE",
	[STMT_INVITE_ACCEPT] =
		"UPDATE memberships SET user_id = ?, status = 'active', invite_id = NULL,"
		" expires_at = NULL, added_at = FROM_UNIXTIME(?) WHERE invite_id = ?",
	[STMT_OWNERS_LOCK] =
		"SELECT user_id FROM memberships"
		" WHERE org_id = ? AND role = 3 AND status = 'active' FOR UPDATE",
	/* a member by user id, or an invitation by its id */
	[STMT_MEMBER_LOCK] =
		"SELECT role, status FROM memberships WHERE org_id = ? AND (user_id = ? OR invite_id = ?)"
		" FOR UPDATE",
	[STMT_MEMBER_SET_ROLE] =
		"UPDATE memberships SET role = ? WHERE org_id = ? AND (user_id = ? OR invite_id = ?)",
	[STMT_MEMBER_DELETE] =
		"DELETE FROM memberships WHERE org_id = ? AND (user_id = ? OR invite_id = ?)",

	/* audit_log, newest first */
	[STMT_AUDIT_INSERT] =
		"INSERT INTO audit_log (id, org_id, at, actor_user_id, action, target, detail)"
		" VALUES (?, ?, FROM_UNIXTIME(?), ?, ?, ?, ?)",
	[STMT_AUDIT_PAGE] =
		"SELECT id, " RFC3339("at") ", actor_user_id, action, target, detail FROM audit_log"
		" WHERE org_id = ? AND seq <= "
		DOWN_FROM_CURSOR("audit_log", "c.org_id = ? AND c.id = ?")
		" ORDER BY seq DESC LIMIT ?",

	/* projects, environments */
	[STMT_PROJECTS_PAGE] =
		"SELECT " PROJECT_COLS " FROM projects WHERE org_id = ? AND seq >= "
		FROM_CURSOR("projects", "c.org_id = ? AND c.id = ?")
		" ORDER BY seq LIMIT ?",
	[STMT_PROJECT_GET] =
		"SELECT " PROJECT_COLS " FROM projects WHERE org_id = ? AND id = ?",
	[STMT_PROJECT_INSERT] =
		"INSERT INTO projects (id, org_id, name, description, created_at)"
		" VALUES (?, ?, ?, ?, FROM_UNIXTIME(?))",
	[STMT_PROJECT_UPDATE] =
		"UPDATE projects SET name = COALESCE(?, name), description = COALESCE(?, description)"
		" WHERE org_id = ? AND id = ?",
	[STMT_PROJECT_DELETE] =
		"DELETE FROM projects WHERE org_id = ? AND id = ?",
	[STMT_ENVS_PAGE] =
		"SELECT " ENV_COLS " FROM environments WHERE org_id = ? AND seq >= "
		FROM_CURSOR("environments", "c.org_id = ? AND c.id = ?")
		" ORDER BY seq LIMIT ?",
	[STMT_ENV_GET] =
		"SELECT " ENV_COLS " FROM environments WHERE org_id = ? AND id = ?",
	[STMT_ENV_INSERT] =
		"INSERT INTO environments (id, org_id, name, kind, region, status, created_at)"
		" VALUES (?, ?, ?, ?, ?, 'active', FROM_UNIXTIME(?))",
	[STMT_ENV_UPDATE] =
		"UPDATE environments SET name = COALESCE(?, name), kind = COALESCE(?, kind),"
		" region = COALESCE(?, region), status = COALESCE(?, status)"
		" WHERE org_id = ? AND id = ?",
	[STMT_ENV_DELETE] =
		"DELETE FROM environments WHERE org_id = ? AND id = ?",

	/* plans, usage, runs, ledger */
	[STMT_PLANS_ALL] =
		"SELECT id, name, monthly_run_limit, price_cents, overage_credits_per_run"
		" FROM plans ORDER BY position",
	[STMT_ORG_PLAN_LOCK] =
		"SELECT o.plan_id, b.pm_id FROM orgs o LEFT JOIN org_billing b ON b.org_id = o.id"
		" WHERE o.id = ? FOR UPDATE",
	[STMT_ORG_SET_PLAN] =
		"UPDATE orgs SET plan_id = ?, current_period_end = NULL WHERE id = ?",
	/* the organization's row first: every money or usage change of one organization
	   queues here, so the child rows' foreign-key locks never deadlock */
	[STMT_RUN_LOCK] =
		"SELECT o.credit_balance, o.plan_id, COALESCE(u.runs, 0) FROM orgs o"
		" LEFT JOIN usage_months u ON u.org_id = o.id AND u.period = ?"
		" WHERE o.id = ? FOR UPDATE",
	[STMT_RUN_INSERT] =
		"INSERT INTO runs (id, org_id, project_id, environment_id, period, counted_as,"
		"  credits_charged, created_at)"
		" SELECT ?, p.org_id, p.id, e.id, ?, ?, ?, FROM_UNIXTIME(?)"
		" FROM projects p JOIN environments e ON e.org_id = p.org_id"
		" WHERE p.org_id = ? AND p.id = ? AND e.id = ?",
	[STMT_RUN_TARGETS] =
		"SELECT (SELECT COUNT(*) FROM projects WHERE org_id = ? AND id = ?),"
		" (SELECT COUNT(*) FROM environments WHERE org_id = ? AND id = ?)",
	[STMT_USAGE_ADD] =
		"INSERT INTO usage_months (org_id, period, runs, overage_runs) VALUES (?, ?, 1, ?)"
		" ON DUPLICATE KEY UPDATE runs = runs + 1,"
		"  overage_runs = overage_runs + VALUES(overage_runs)",
	[STMT_BALANCE_TAKE] =
		"UPDATE orgs SET credit_balance = credit_balance - ?"
		" WHERE id = ? AND credit_balance >= ?",
	[STMT_LEDGER_INSERT] =
		"INSERT INTO ledger (id, org_id, at, delta, balance_after, reason, ref)"
		" VALUES (?, ?, FROM_UNIXTIME(?), ?, ?, ?, ?)",
	[STMT_USAGE_HISTORY] =
		"SELECT period, runs, overage_runs FROM usage_months WHERE org_id = ?"
		" ORDER BY period DESC LIMIT 13",
	[STMT_LEDGER_PAGE] =
		"SELECT id, " RFC3339("at") ", delta, balance_after, reason, ref FROM ledger"
		" WHERE org_id = ? AND seq <= "
		DOWN_FROM_CURSOR("ledger", "c.org_id = ? AND c.id = ?")
		" ORDER BY seq DESC LIMIT ?",
	/* the home view in one statement: the organization's row with its counts, usage and
	   billing, once per environment, its first 100 in order (the join read in the index's
	   order: no temporary table, no filesort); without any environment, no row at all, and
	   STMT_DASHBOARD_BARE then reads the rest alone */
#define DASHBOARD_COLS \
	"SELECT o.id, o.name, o.plan_id, o.credit_balance," \
	" (SELECT COUNT(*) FROM memberships m WHERE m.org_id = o.id AND m.status = 'active')," \
	" (SELECT COUNT(*) FROM memberships m WHERE m.org_id = o.id AND m.status = 'active'" \
	"   AND m.role = 3)," \
	" (SELECT COUNT(*) FROM memberships m WHERE m.org_id = o.id AND m.status = 'active'" \
	"   AND m.role = 2)," \
	" COALESCE((SELECT u.runs FROM usage_months u WHERE u.org_id = o.id AND u.period = ?), 0)," \
	" b.pm_brand, b.pm_last4, COALESCE(b.ar_enabled, 0), COALESCE(b.ar_threshold, 0)," \
	" COALESCE(b.ar_recharge, 0), COALESCE(b.ar_failures, 0),"
	[STMT_DASHBOARD] =
		DASHBOARD_COLS " e.id, e.name, e.kind, e.status"
		" FROM orgs o LEFT JOIN org_billing b ON b.org_id = o.id"
		" JOIN environments e ON e.org_id = o.id WHERE o.id = ? ORDER BY e.seq LIMIT 100",
	[STMT_DASHBOARD_BARE] =
		DASHBOARD_COLS " NULL, NULL, NULL, NULL"
		" FROM orgs o LEFT JOIN org_billing b ON b.org_id = o.id WHERE o.id = ?",

	/* idempotency_keys */
	[STMT_IDEM_INSERT] =
		"INSERT INTO idempotency_keys (org_id, idem_key, request_hash, status, response,"
		"  created_at) VALUES (?, ?, ?, 0, '', FROM_UNIXTIME(?))",
	[STMT_IDEM_GET] =
		"SELECT request_hash, status, response, created_at > FROM_UNIXTIME(?)"
		" FROM idempotency_keys WHERE org_id = ? AND idem_key = ?",
	[STMT_IDEM_DELETE] =
		"DELETE FROM idempotency_keys WHERE org_id = ? AND idem_key = ?",
	[STMT_IDEM_STORE] =
		"UPDATE idempotency_keys SET status = ?, response = ?"
		" WHERE org_id = ? AND idem_key = ? AND status = 0",
	[STMT_IDEM_ANSWER] =
		"SELECT status, response FROM idempotency_keys WHERE org_id = ? AND idem_key = ?",

	/* billing: the organization's row, and its billing row when there is one */
	[STMT_BILLING_GET] =
		"SELECT o.credit_balance, b.customer_id, b.pm_id, b.pm_brand, b.pm_last4,"
		" COALESCE(b.ar_enabled, 0), COALESCE(b.ar_threshold, 0), COALESCE(b.ar_recharge, 0),"
		" COALESCE(b.ar_failures, 0), o.plan_id, " RFC3339("o.current_period_end") ","
		" COALESCE(b.renewal_failures, 0)"
		" FROM orgs o LEFT JOIN org_billing b ON b.org_id = o.id WHERE o.id = ?",
	/* the lock every money change of one organization takes first (as STMT_RUN_LOCK) */
	[STMT_BILLING_LOCK] =
		"SELECT o.credit_balance, o.plan_id, b.customer_id, b.pm_id,"
		" COALESCE(b.ar_failures, 0), COALESCE(b.renewal_failures, 0) FROM orgs o"
		" LEFT JOIN org_billing b ON b.org_id = o.id WHERE o.id = ? FOR UPDATE",
	/* a settlement's lock in one round trip: the organization's row, its billing row and
	   the purchase's (no row if the purchase is not that organization's); STMT_BILLING_LOCK's
	   columns, then the purchase's */
	[STMT_SETTLE_LOCK] =
		"SELECT o.credit_balance, o.plan_id, b.customer_id, b.pm_id,"
		" COALESCE(b.ar_failures, 0), COALESCE(b.renewal_failures, 0), "
		PURCHASE_COLS_OF("p.") " FROM orgs o"
		" LEFT JOIN org_billing b ON b.org_id = o.id"
		" JOIN purchases p ON p.id = ? AND p.org_id = o.id WHERE o.id = ? FOR UPDATE",
	/* a chunk of the sweeps' settlements (db_purchases_settle()): every one's rows locked in
	   one statement, in the array's order (sorted by organization: two chunks never wait
	   for each other in a circle), each row as STMT_SETTLE_LOCK's after its index n */
	[STMT_SETTLE_LOCK_MANY] =
		"SELECT STRAIGHT_JOIN j.n, o.credit_balance, o.plan_id, b.customer_id, b.pm_id,"
		" COALESCE(b.ar_failures, 0), COALESCE(b.renewal_failures, 0), "
		PURCHASE_COLS_OF("p.") " FROM"
		JSON_ROWS("n FOR ORDINALITY, " ASCII_COL("i", 32) ", " ASCII_COL("o", 32))
		" JOIN orgs o FORCE INDEX (PRIMARY) ON o.id = j.o"
		" LEFT JOIN org_billing b FORCE INDEX (PRIMARY) ON b.org_id = o.id"
		" JOIN purchases p FORCE INDEX (purchases_id) ON p.id = j.i AND p.org_id = o.id"
		" FOR UPDATE",
	/* then its credit purchases that succeeded, each of an organization of its own: the
	   purchases (i, intent n), the balances (o, credits c; an auto-recharge's, a = 1, also
	   clears its failures and starts a new dip), the ledger rows (id l, balance after b,
	   reason r) and the audit rows (id d) */
	[STMT_SETTLE_MANY] =
		"UPDATE" JSON_ROWS(ASCII_COL("i", 32) ", " ASCII_COL("n", 64))
		" STRAIGHT_JOIN purchases p FORCE INDEX (purchases_id) ON p.id = j.i SET p.status = 'succeeded', p.failure_code = NULL,"
		" p.intent_id = COALESCE(j.n, p.intent_id), p.settled_at = FROM_UNIXTIME(?)"
		" WHERE p.status = 'pending'",
	[STMT_CREDIT_MANY] =
		"UPDATE" JSON_ROWS(ASCII_COL("o", 32) ", " INT_COL("c") ", " INT_COL("a"))
		" STRAIGHT_JOIN orgs o FORCE INDEX (PRIMARY) ON o.id = j.o"
		" LEFT JOIN org_billing b FORCE INDEX (PRIMARY) ON b.org_id = o.id AND j.a = 1"
		" SET o.credit_balance = o.credit_balance + j.c, b.ar_failures = 0,"
		" b.ar_dip = b.ar_dip + 1",
	[STMT_LEDGER_MANY] =
		"INSERT INTO ledger (id, org_id, at, delta, balance_after, reason, ref)"
		" SELECT j.l, j.o, FROM_UNIXTIME(?), j.c, j.b, j.r, j.i FROM"
		JSON_ROWS(ASCII_COL("l", 32) ", " ASCII_COL("o", 32) ", " INT_COL("c") ", "
			  INT_COL("b") ", " ASCII_COL("r", 16) ", " ASCII_COL("i", 32)),
	[STMT_AUDIT_MANY] =
		"INSERT INTO audit_log (id, org_id, at, actor_user_id, action, target, detail)"
		" SELECT j.d, j.o, FROM_UNIXTIME(?), NULL, ?, j.i, '' FROM"
		JSON_ROWS(ASCII_COL("d", 32) ", " ASCII_COL("o", 32) ", " ASCII_COL("i", 32)),
	[STMT_BILLING_ENSURE] =
		"INSERT IGNORE INTO org_billing (org_id) VALUES (?)",
	[STMT_CUSTOMER_SET] =
		"UPDATE org_billing SET customer_id = COALESCE(customer_id, ?) WHERE org_id = ?",
	[STMT_PM_SET] =
		"UPDATE org_billing SET pm_id = ?, pm_brand = ?, pm_last4 = ? WHERE org_id = ?",
	[STMT_PM_DELETE] =
		"UPDATE org_billing SET pm_id = NULL, pm_brand = NULL, pm_last4 = NULL,"
		" ar_enabled = 0 WHERE org_id = ?",
	[STMT_PURCHASE_INSERT] =
		"INSERT INTO purchases (id, org_id, kind, credits, amount_cents, plan_id, status,"
		"  provider_key, idem_key, customer_id, pm_id, period_from, created_at)"
		" VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, FROM_UNIXTIME(?), FROM_UNIXTIME(?))",
	[STMT_PURCHASE_BY_IDEM] =
		"SELECT " PURCHASE_COLS " FROM purchases WHERE org_id = ? AND idem_key = ?",
	[STMT_PURCHASE_GET] =
		"SELECT " PURCHASE_COLS " FROM purchases WHERE id = ?",
	[STMT_PURCHASE_LOCK] =
		"SELECT " PURCHASE_COLS " FROM purchases WHERE id = ? FOR UPDATE",
	[STMT_PURCHASE_SETTLE] =
		"UPDATE purchases SET status = ?, failure_code = ?, intent_id = COALESCE(?, intent_id),"
		" settled_at = FROM_UNIXTIME(?) WHERE id = ? AND status = 'pending'",
	[STMT_PURCHASE_INTENT] =
		"UPDATE purchases SET intent_id = ? WHERE id = ? AND intent_id IS NULL",
	[STMT_PLAN_PENDING] =
		"SELECT " PURCHASE_COLS " FROM purchases"
		" WHERE org_id = ? AND kind = 'plan' AND plan_id = ? AND status = 'pending'"
		" ORDER BY seq DESC LIMIT 1",
	[STMT_PLAN_ATTEMPTS] =
		"SELECT COUNT(*) FROM purchases WHERE org_id = ? AND kind = 'plan' AND plan_id = ?",
	[STMT_PURCHASES_PAGE] =
		"SELECT " PURCHASE_COLS " FROM purchases WHERE org_id = ? AND seq <= "
		DOWN_FROM_CURSOR("purchases", "c.org_id = ? AND c.id = ?")
		" ORDER BY seq DESC LIMIT ?",
	[STMT_BALANCE_ADD] =
		"UPDATE orgs SET credit_balance = credit_balance + ? WHERE id = ?",
	[STMT_ORG_PLAN_PERIOD] =
		"UPDATE orgs SET plan_id = ?, current_period_end = FROM_UNIXTIME(?) WHERE id = ?",
	/* an auto-recharge's end: (failures, enabled, dips to add); a success starts a new dip */
	[STMT_AR_RESULT] =
		"UPDATE org_billing SET ar_failures = ?, ar_enabled = ar_enabled AND ?,"
		" ar_dip = ar_dip + ? WHERE org_id = ?",
	/* an auto-recharge's success: (credits, organization); its failures clear, and the
	   next dip below the threshold is a new one */
	[STMT_AR_CREDIT] =
		"UPDATE orgs o LEFT JOIN org_billing b ON b.org_id = o.id"
		" SET o.credit_balance = o.credit_balance + ?, b.ar_failures = 0,"
		"  b.ar_dip = b.ar_dip + 1 WHERE o.id = ?",
	/* a renewal's end: (failures, next try) */
	[STMT_RENEWAL_RESULT] =
		"UPDATE org_billing SET renewal_failures = ?, renewal_next_at = FROM_UNIXTIME(?)"
		" WHERE org_id = ?",
	[STMT_AR_SET] =
		"UPDATE org_billing SET ar_enabled = ?, ar_threshold = ?, ar_recharge = ?,"
		" ar_failures = IF(?, 0, ar_failures) WHERE org_id = ?",

	/* the sweeps: each claims its batch with SKIP LOCKED, so concurrent sweeps split the work */
#define AR_ELIGIBLE \
	" FROM org_billing b JOIN orgs o ON o.id = b.org_id" \
	" WHERE b.ar_enabled = 1 AND b.pm_id IS NOT NULL AND b.customer_id IS NOT NULL" \
	"  AND o.credit_balance < b.ar_threshold" \
	"  AND (b.ar_last_at IS NULL OR b.ar_last_at < FROM_UNIXTIME(?))" \
	"  AND NOT EXISTS (SELECT 1 FROM purchases p WHERE p.org_id = b.org_id" \
	"   AND p.kind = 'auto_recharge' AND p.status = 'pending')"
	[STMT_AR_CANDIDATES] =
		"SELECT b.org_id, b.ar_recharge, b.ar_dip, b.ar_failures, b.customer_id, b.pm_id"
		AR_ELIGIBLE " ORDER BY b.ar_last_at LIMIT ? FOR UPDATE SKIP LOCKED",
	/* counted up to 1,000: an exact count of 100,000 eligible organizations after every
	   call of a sweep was half of its time, and one up to 10,000 still half of MariaDB's
	   row reads (scripts/bench-cron) */
	[STMT_AR_REMAINING] =
		"SELECT COUNT(*) FROM (SELECT 1" AR_ELIGIBLE " LIMIT 1000) e",
	/* a claim's batch in two statements, whatever its size: a JSON array of its
	   organizations (o), their purchases' ids (i), credits (c), provider keys (k),
	   customers (u) and payment methods (p) read as a table, joined by primary key */
	[STMT_AR_CLAIM_ATTEMPTS] =
		"UPDATE" JSON_ROWS(ASCII_COL("o", 32))
		" STRAIGHT_JOIN org_billing b FORCE INDEX (PRIMARY) ON b.org_id = j.o"
		" SET b.ar_last_at = FROM_UNIXTIME(?)",
	[STMT_AR_CLAIM_PURCHASES] =
		"INSERT INTO purchases (id, org_id, kind, credits, amount_cents, status,"
		"  provider_key, customer_id, pm_id, created_at)"
		" SELECT j.i, j.o, 'auto_recharge', j.c, j.c, 'pending', j.k, j.u, j.p,"
		"  FROM_UNIXTIME(?) FROM" JSON_ROWS(ASCII_COL("i", 32) ", " ASCII_COL("o", 32) ", "
		INT_COL("c") ", " ASCII_COL("k", 160) ", " ASCII_COL("u", 64) ", " ASCII_COL("p", 64)),
/* only a paid plan has a period (a plan without a price has current_period_end NULL); the
   plans table is not joined, so that the claim's row locks are the organizations' alone
   and two sweeps at once split them instead of skipping each other's plan rows */
#define RENEWAL_DUE \
	" FROM orgs o LEFT JOIN org_billing b ON b.org_id = o.id" \
	" WHERE o.current_period_end <= FROM_UNIXTIME(?)" \
	"  AND (b.renewal_next_at IS NULL OR b.renewal_next_at <= FROM_UNIXTIME(?))" \
	"  AND NOT EXISTS (SELECT 1 FROM purchases p WHERE p.org_id = o.id" \
	"   AND p.kind = 'plan' AND p.status = 'pending')"
	[STMT_RENEWAL_CANDIDATES] =
		"SELECT o.id, o.plan_id, UNIX_TIMESTAMP(o.current_period_end), 0,"
		" COALESCE(b.renewal_failures, 0), b.customer_id, b.pm_id"
		RENEWAL_DUE " ORDER BY o.current_period_end LIMIT ? FOR UPDATE SKIP LOCKED",
	[STMT_RENEWAL_REMAINING] =
		"SELECT COUNT(*)" RENEWAL_DUE,
#define RECONCILE_DUE \
	" FROM purchases WHERE status = 'pending' AND created_at < FROM_UNIXTIME(?)" \
	"  AND (checked_at IS NULL OR checked_at < FROM_UNIXTIME(?))"
	[STMT_RECONCILE_CANDIDATES] =
		"SELECT " PURCHASE_COLS RECONCILE_DUE
		" ORDER BY created_at LIMIT ? FOR UPDATE SKIP LOCKED",
	[STMT_RECONCILE_REMAINING] =
		"SELECT COUNT(*)" RECONCILE_DUE,
	[STMT_RECONCILE_CHECKED] =
		"UPDATE purchases SET checked_at = FROM_UNIXTIME(?) WHERE id = ?",
	[STMT_WEBHOOK_INSERT] =
		"INSERT INTO webhook_events (id, type, purchase_id, outcome, received_at)"
		" VALUES (?, ?, ?, ?, FROM_UNIXTIME(?))",
	[STMT_NAMED_LOCK] =
		"SELECT GET_LOCK(?, ?)",
	[STMT_NAMED_UNLOCK] =
		"SELECT RELEASE_LOCK(?)",

	/* housekeeping: each sweep deletes a bounded batch, a long backlog drains over
	   several minutes */
	[STMT_SWEEP_IDEM] =
		"DELETE FROM idempotency_keys WHERE created_at < FROM_UNIXTIME(?) LIMIT 1000",
	[STMT_SWEEP_SESSIONS] =
		"DELETE FROM sessions WHERE expires_at < FROM_UNIXTIME(?) LIMIT 1000",
	[STMT_SWEEP_LOGIN_FAILURES] =
		"DELETE FROM login_failures WHERE at < FROM_UNIXTIME(?) LIMIT 1000",
};
/* clang-format on */
