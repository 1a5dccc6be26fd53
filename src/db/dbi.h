/*
 * dbi: the data-access layer's insides, private to src/db/: statements by
 * name (db_stmts.h), bound values, queries, pages and transactions. Every
 * db_<resource>.c builds on these; nothing outside src/db/ includes this.
 *
 * The one rule for transactions: each db_* write (the functions of the
 * public db_<resource>.h headers) runs its statements in exactly one db_tx()
 * of its own; a helper that must run inside one is named *_in_tx and asserts
 * db_in_tx(). Results are copied into the caller's arena.
 */
#ifndef ORGD_DBI_H
#define ORGD_DBI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "orgd/db.h"
#include "orgd/db_pay.h"
#include "orgd/role.h"

#include "db_stmts.h"

enum dbv_type { DBV_NULL, DBV_INT, DBV_STR };

/* A parameter or a result cell. Strings are not NUL-terminated as parameters;
 * as results they are (arena memory). */
struct dbv {
	enum dbv_type t;
	int64_t i;
	const char *s;
	size_t len;
};

#define DB_INT(v)     ((struct dbv){.t = DBV_INT, .i = (v)})
#define DB_STRN(v, n) ((struct dbv){.t = DBV_STR, .s = (v), .len = (n)})
#define DB_STR(v)     DB_STRN((v), strlen(v))
#define DB_NULL       ((struct dbv){.t = DBV_NULL})
#define DB_ARGS(...)                                                                               \
	((const struct dbv[]){__VA_ARGS__}),                                                       \
		(sizeof((const struct dbv[]){__VA_ARGS__}) / sizeof(struct dbv))

/* A whole result set: n rows of ncols cells, row-major. */
struct db_rows {
	size_t n, ncols;
	struct dbv *cell;
};

#define DB_CELL(rows, r, c) (&(rows)->cell[(r) * (rows)->ncols + (c)])

/*
 * Run st with the bound parameters; *affected (may be NULL) gets the rows the
 * statement matched (CLIENT_FOUND_ROWS: an UPDATE to equal values counts).
 */
err_t db_exec(enum stmt st, const struct dbv *in, size_t nin, uint64_t *affected);
/* Run st and copy every row into a; rows->n == 0 when there is none. */
err_t db_query(enum stmt st, const struct dbv *in, size_t nin, struct arena *a,
	       struct db_rows *rows);
/* Fills one item (a caller's struct) from row i of rows. */
typedef void (*db_row_fn)(const struct db_rows *rows, size_t i, void *item);

/* Convert every row with conv into an arena array of items of size bytes. */
err_t db_rows_map(const struct db_rows *rows, size_t size, db_row_fn conv, struct arena *a,
		  void **items);

/*
 * Run a page statement (sql.c), whose parameters are (owner, owner, after,
 * after, limit), or with extra (owner, extra, owner, ...): up to limit rows of one owner
 * (organization or user) after the row named `after` ("": from the start). The row a cursor names
 * is the one whose column c, for a bit c of key_cols, equals it; a cursor naming no row of the list
 * is ERR_NOT_FOUND. The rows are converted as db_rows_map() does; *n is their count.
 */
err_t db_page(enum stmt st, const char *owner, const struct dbv *extra, const char *after,
	      int64_t limit, struct arena *a, size_t size, db_row_fn conv, unsigned key_cols,
	      void **items, size_t *n);

/* The AUTO_INCREMENT id of the last insert on this connection. */
uint64_t db_last_id(void);

/*
 * Run fn(arg) in one transaction and commit. A deadlock or lock wait timeout
 * (fn or commit returning ERR_RETRY) rolls back and runs fn again, at most a
 * few times. Any other error rolls back and is returned. fn must be safe to
 * run again from the start.
 */
err_t db_tx(err_t (*fn)(void *arg), void *arg);

/* The row converters of the lists (db_list.c), each with its resource. */
void db_org_ref_row(const struct db_rows *rows, size_t i, void *item);
void db_member_row(const struct db_rows *rows, size_t i, void *item);
void db_audit_row(const struct db_rows *rows, size_t i, void *item);
void db_project_row(const struct db_rows *rows, size_t i, void *item);
void db_env_row(const struct db_rows *rows, size_t i, void *item);
void db_ledger_row(const struct db_rows *rows, size_t i, void *item);
void db_purchase_row(const struct db_rows *rows, size_t i, void *item);
void db_invitation_row(const struct db_rows *rows, size_t i, void *item);

/* The auto-recharge settings in columns col..col+3 of row i (enabled, threshold, recharge,
 * failures). */
struct auto_recharge db_auto_recharge(const struct db_rows *rows, size_t i, size_t col);

/* Record one audit entry inside the change's transaction; actor may be NULL (cron). */
err_t db_audit_add_in_tx(const char *org_id, const char *actor, const char *action,
			 const char *target, const char *detail, int64_t now);

struct purchase_new;
/* Insert pending purchase id (its provider key, customer and payment method, the period a
 * renewal renews or 0) inside a transaction. */
err_t db_purchase_insert_in_tx(const char *id, const char *org_id, const struct purchase_new *p,
			       const char *key, const char *idem_key, const char *customer,
			       const char *pm, int64_t period_from, int64_t now);

/* A renewal of org_id declined (or impossible): the failures in a row, the next try a day
 * later, and at the third the plan free (audited). */
err_t db_renewal_failed_in_tx(const char *org_id, int64_t failures_before, int64_t now);

struct db_mail;
struct email_token;
/* Queue message m in the transaction of the change that causes it. */
err_t db_outbox_add_in_tx(const struct db_mail *m, int64_t now);
/* Store email token t (kind "verify" or "reset") of user_id. */
err_t db_token_add_in_tx(const struct email_token *t, const char *user_id, const char *kind,
			 int64_t now);

/* Lock org_id's row: every change to one organization's money or usage takes it first. */
err_t db_org_lock_in_tx(const char *org_id, struct arena *a);

struct db_idem;
/*
 * The Idempotency-Key step of a keyed write (db_idem.h), after the write has
 * locked its organization's row: claim the key, or find its stored answer
 * (idem->replayed: the write does nothing more; ERR_CONFLICT: the key was used
 * with another request; idem->pending: the key's first request committed its
 * claim but ended before its answer, and the write decides what that means).
 * Without a key, nothing.
 */
err_t db_idem_claim_in_tx(const char *org_id, struct db_idem *idem, int64_t now, struct arena *a);
/*
 * Store the answer of outcome (rendered by idem->render) when outcome is
 * ERR_OK or a client error, and return ERR_OK so that the transaction
 * commits; any other outcome, or no key, is returned as it is.
 */
err_t db_idem_settle_in_tx(const char *org_id, struct db_idem *idem, err_t outcome);

/* Is a db_tx() open on this connection? (Asserted by the *_in_tx helpers.) */
bool db_in_tx(void);

/* A role as the database stores it (enum role's number), or ROLE_NONE. */
enum role db_role(const struct dbv *v);

#endif
