/*
 * db_stmts: the name of every SQL statement orgd runs. The SQL text is in
 * src/db/sql.c, in a table indexed by these names (db_open() refuses to run
 * with a gap in it). Only src/db/ uses them.
 */
#ifndef ORGD_DB_STMTS_H
#define ORGD_DB_STMTS_H

enum stmt {
	STMT_PING, /* health */
	/* users, sessions, login_failures: db_user.c */
	STMT_USER_INSERT,
	STMT_USER_BY_EMAIL,
	STMT_INVITES_ACCEPT,
	STMT_USER_BY_ID,
	STMT_SESSION_INSERT,
	STMT_SESSION_MEMBER,
	STMT_SESSION_REVOKE,
	STMT_LOGIN_FAILURES_COUNT,
	STMT_LOGIN_FAILURE_INSERT,
	STMT_LOGIN_FAILURES_PURGE,
	/* orgs, memberships: db_org.c */
	STMT_ORG_LIST_FOR_USER,
	STMT_ORG_MEMBERSHIP,
	STMT_ORG_INSERT,
	STMT_ORG_GET,
	STMT_ORG_RENAME,
	STMT_ORGS_PAGE,
	STMT_OWNER_INSERT,
	STMT_MEMBERS_PAGE,
	STMT_MEMBER_GET,
	STMT_MEMBER_INSERT,
	STMT_OWNERS_LOCK,
	STMT_MEMBER_LOCK,
	STMT_MEMBER_SET_ROLE,
	STMT_MEMBER_DELETE,
	/* audit_log: db_audit.c */
	STMT_AUDIT_INSERT,
	STMT_AUDIT_PAGE,
	/* projects, environments: db_project.c */
	STMT_PROJECTS_PAGE,
	STMT_PROJECT_GET,
	STMT_PROJECT_INSERT,
	STMT_PROJECT_UPDATE,
	STMT_PROJECT_DELETE,
	STMT_ENVS_PAGE,
	STMT_ENV_GET,
	STMT_ENV_INSERT,
	STMT_ENV_UPDATE,
	STMT_ENV_DELETE,
	STMT__MAX
};

#endif
