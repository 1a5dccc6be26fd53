/*
 * sql: every SQL statement of orgd, indexed by enum stmt. Parameters are
 * always '?' placeholders bound by db_exec()/db_query(); nothing is ever
 * formatted into SQL. Times leave the database as RFC 3339 UTC strings.
 */
#include "sql.h"

#define RFC3339(col) "DATE_FORMAT(" col ", '%Y-%m-%dT%H:%i:%sZ')"

const char *const sql_text[STMT__MAX] = {
	[STMT_PING] = "SELECT 1",

	[STMT_USER_INSERT] =
		"INSERT INTO users (id, email, name, password_hash, created_at)"
		" VALUES (?, ?, ?, ?, FROM_UNIXTIME(?))",
	[STMT_INVITES_ACCEPT] =
		"UPDATE memberships SET user_id = ?, status = 'active'"
		" WHERE email = ? AND status = 'invited'",
	[STMT_USER_BY_EMAIL] =
		"SELECT id, email, name, password_hash FROM users WHERE email = ?",
	[STMT_USER_BY_ID] =
		"SELECT id, email, name, password_hash FROM users WHERE id = ?",
	[STMT_SESSION_INSERT] =
		"INSERT INTO sessions (id, user_id, created_at, expires_at)"
		" VALUES (?, ?, FROM_UNIXTIME(?), FROM_UNIXTIME(?))",
	[STMT_SESSION_MEMBER] =
		"SELECT m.role FROM sessions s JOIN users u ON u.id = s.user_id"
		" LEFT JOIN memberships m ON m.org_id = ? AND m.user_id = s.user_id"
		"  AND m.status = 'active'"
		" WHERE s.id = ? AND s.user_id = ? AND s.revoked_at IS NULL",
	[STMT_SESSION_REVOKE] =
		"UPDATE sessions SET revoked_at = FROM_UNIXTIME(?)"
		" WHERE id = ? AND revoked_at IS NULL",
	[STMT_LOGIN_FAILURES_COUNT] =
		"SELECT COUNT(*) FROM login_failures WHERE email = ? AND at > FROM_UNIXTIME(?)",
	[STMT_LOGIN_FAILURE_INSERT] =
		"INSERT INTO login_failures (email, at) VALUES (?, FROM_UNIXTIME(?))",
	[STMT_LOGIN_FAILURES_PURGE] =
		"DELETE FROM login_failures WHERE email = ? AND at <= FROM_UNIXTIME(?)",

	[STMT_ORG_LIST_FOR_USER] =
		"SELECT o.id, o.name, m.role FROM memberships m JOIN orgs o ON o.id = m.org_id"
		" WHERE m.user_id = ? AND m.status = 'active' ORDER BY m.seq LIMIT ?",
	[STMT_ORG_MEMBERSHIP] =
		"SELECT o.id, o.name, m.role FROM memberships m JOIN orgs o ON o.id = m.org_id"
		" WHERE m.org_id = ? AND m.user_id = ? AND m.status = 'active'",
};
