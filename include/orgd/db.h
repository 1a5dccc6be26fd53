/*
 * db: the data-access layer's core. Owns the worker's one MariaDB/MySQL
 * connection, the prepared statements (all SQL lives in src/db/sql.h, prepared
 * lazily once per connection, parameters always bound), transactions with a
 * bounded retry on deadlock and lock wait, and reconnecting after a lost
 * connection (auto-reconnect stays off). The only module that includes mysql.h.
 *
 * Results are copied into the caller's arena, so they live until the request
 * ends. Errors: ER_DUP_ENTRY -> ERR_CONFLICT; a lost or refused connection ->
 * ERR_UNAVAILABLE (and a reconnect on the next call); deadlock or lock wait
 * -> ERR_RETRY inside db_tx(); anything else -> ERR_INTERNAL, logged.
 */
#ifndef ORGD_DB_H
#define ORGD_DB_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "orgd/error.h"
#include "orgd/mem.h"

#include "orgd/db_stmts.h"

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

/* Once per process, before any fork: the client library's global state. */
err_t db_library_init(void);
void db_library_end(void);

/* Connect settings are taken from cfg (config.h). Returns ERR_OK or ERR_UNAVAILABLE. */
err_t db_open(void);
/* Close the connection and every statement. */
void db_close(void);
/* Reconnect if needed and run SELECT 1. ERR_OK or ERR_UNAVAILABLE. */
err_t db_ping(struct arena *a);

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
 * Run a page statement, whose parameters are (owner, owner, after, after,
 * limit): rows of one owner (organization or user) after the row named
 * `after` ("": from the start; a name that matches nothing: an empty page).
 * The rows are converted as db_rows_map() does; *n is their count.
 */
err_t db_page(enum stmt st, const char *owner, const char *after, int64_t limit, struct arena *a,
	      size_t size, db_row_fn conv, void **items, size_t *n);

/*
 * Housekeeping, a bounded batch each: idempotency keys past their 24 hours,
 * sessions past their expiry, failed sign-ins older than a day. Workers call
 * it now and then; any number may run at once.
 */
err_t db_sweep(int64_t now);

/* The AUTO_INCREMENT id of the last insert on this connection. */
uint64_t db_last_id(void);

/*
 * Run fn(arg) in one transaction and commit. A deadlock or lock wait timeout
 * (fn or commit returning ERR_RETRY) rolls back and runs fn again, at most a
 * few times. Any other error rolls back and is returned. fn must be safe to
 * run again from the start.
 */
err_t db_tx(err_t (*fn)(void *arg), void *arg);

#endif
