/*
 * db: the data-access layer's core, as the layers above see it: the
 * connection settings, opening and closing the worker's one connection,
 * the health check and housekeeping. Every other call of the layer is a
 * db_<resource> function (db_org.h, db_usage.h, ...), and each write among
 * them opens and commits its own transaction: nothing above src/db/ ever
 * holds one (db_tx() is private to src/db/, dbi.h).
 *
 * The SQL itself lives in src/db/sql.c, prepared lazily once per connection,
 * parameters always bound. The only module that includes mysql.h.
 * Errors: ER_DUP_ENTRY -> ERR_CONFLICT; a lost or refused connection ->
 * ERR_UNAVAILABLE (and a reconnect on the next call); anything unexpected
 * -> ERR_INTERNAL, logged.
 */
#ifndef ORGD_DB_H
#define ORGD_DB_H

#include <stdint.h>

#include "orgd/error.h"
#include "orgd/mem.h"

/* Where the database is (API.md "Operations": ORGD_DB_*). */
struct db_settings {
	const char *host, *socket, *name, *user, *password;
	unsigned port;
};

/*
 * Map the page the workers share their view of the database in (the breaker:
 * once one finds it unreachable or hung, all answer 503 at once for a second
 * but for one probe); in the master, before any fork. 0 or -1.
 */
int db_shared_init(void);

/* Keep s (its strings borrowed) for every connection; once, before the workers. */
void db_configure(const struct db_settings *s);

/* Once per process, before any fork: the client library's global state. */
err_t db_library_init(void);
void db_library_end(void);

/* Connect with the configured settings. Returns ERR_OK or ERR_UNAVAILABLE. */
err_t db_open(void);
/* Close the connection and every statement. */
void db_close(void);
/* The health check: reconnect if needed and ping, in at most about a second whatever the
 * server does. ERR_OK or ERR_UNAVAILABLE. */
err_t db_ping(struct arena *a);

/*
 * Housekeeping, a bounded batch each: idempotency keys past their 24 hours,
 * sessions past their expiry, failed sign-ins older than a day. Workers call
 * it now and then; any number may run at once.
 */
err_t db_sweep(int64_t now);

#endif
