/*
 * db: the worker's one connection, its prepared statements, transactions and
 * recovery (see db.h). The only file that includes mysql.h.
 *
 * Statements are prepared on first use and kept until the connection goes.
 * A lost connection closes everything; the next call reconnects, so a
 * database restart heals without restarting orgd. Auto-reconnect stays off:
 * a silent reconnect inside a transaction would lose its first half.
 */
#include "dbi.h"

#include <assert.h>
#include <poll.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <mysql.h>
#include <mysqld_error.h>
#include <errmsg.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "orgd/db_idem.h"
#include "orgd/log.h"
#include "orgd/metrics.h"
#include "sql.h"

#define DB_PARAMS_MAX 32
#define DB_COLS_MAX   48
#define TX_TRIES      5

#define IDLE_PING 30 /* seconds unused after which a connection is pinged before use */

/*
 * Timeouts. A hung server (SIGSTOP, a stalled disk) must not hang requests: a
 * connect gives up after 1 s, a read or write after 10 s (longer than the 5 s
 * lock wait and the named locks' 8 s, which are legitimate waits), and the
 * health check after HEALTH_MS whatever happens.
 */
#define CONNECT_TIMEOUT_S 1
#define IO_TIMEOUT_S      10
#define HEALTH_MS         600
#define OPEN_FOR_MS       1000 /* the breaker stays open this long after a failure */

static struct {
	MYSQL *conn;
	MYSQL_STMT *st[STMT__MAX];
	bool in_tx;  /* inside db_tx(): a lost connection must not be replaced silently */
	time_t used; /* when the connection last answered */
} db;

static struct db_settings settings;

/*
 * The breaker, shared by every worker of the master (a page mapped before the
 * fork): once one worker finds the database unreachable or hung, every data
 * call of every worker is 503 at once for OPEN_FOR_MS, but for one probe at
 * a time that tries again; a success closes it. Without the shared page
 * (unit tests, the mailer) each process keeps its own.
 */
struct breaker {
	atomic_llong open_until; /* CLOCK_MONOTONIC ms; 0: closed */
	atomic_llong probe_at;   /* when the last probe began */
};
static struct breaker local_breaker, *breaker = &local_breaker;

int db_shared_init(void)
{
	void *p = mmap(NULL, sizeof *breaker, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		       -1, 0);
	if (p == MAP_FAILED)
		return -1;
	breaker = p;
	return 0;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The database failed us: open the breaker (again). */
static void trip(void)
{
	atomic_store(&breaker->open_until, now_ms() + OPEN_FOR_MS);
}

/* May this call go to the database? Closed, or open and this one is the probe (*open). */
static bool may_try(bool *open)
{
	long long now = now_ms(), until = atomic_load(&breaker->open_until);
	if (!until || now >= until)
		return true;
	*open = true;
	long long last = atomic_load(&breaker->probe_at);
	return now - last >= OPEN_FOR_MS / 2 &&
	       atomic_compare_exchange_strong(&breaker->probe_at, &last, now);
}

void db_configure(const struct db_settings *s)
{
	settings = *s;
}

bool db_in_tx(void)
{
	return db.in_tx;
}

enum role db_role(const struct dbv *v)
{
	return v->t == DBV_INT && v->i > ROLE_NONE && v->i < ROLE__MAX ? (enum role)v->i
								       : ROLE_NONE;
}

static void drop_connection(void)
{
	for (size_t i = 0; i < STMT__MAX; i++) {
		if (db.st[i])
			mysql_stmt_close(db.st[i]);
		db.st[i] = NULL;
	}
	if (db.conn)
		mysql_close(db.conn);
	db.conn = NULL;
}

/*
 * A connection ready for a statement. Outside a transaction a missing one is
 * opened, and one idle for a while is pinged first (a restarted server or
 * wait_timeout leaves a dead one behind, and nothing has been sent yet).
 * Inside a transaction there is no replacing it: what ran before is gone.
 */
static err_t quick_ping(void);

static err_t ready(void)
{
	bool open = false;
	if (!db.in_tx && !may_try(&open))
		return ERR_UNAVAILABLE; /* the breaker is open: 503 at once, for every worker */
	if (open && db.conn && quick_ping() != ERR_OK) /* the probe: the old connection first */
		return ERR_UNAVAILABLE;
	time_t now = time(NULL);
	if (db.conn && !db.in_tx && now - db.used > IDLE_PING && mysql_ping(db.conn) != 0) {
		log_warn("msg=\"database connection went stale; reconnecting\" errno=%u",
			 mysql_errno(db.conn));
		drop_connection();
	}
	if (!db.conn) {
		if (db.in_tx)
			return ERR_UNAVAILABLE;
		err_t err = db_open();
		if (err != ERR_OK)
			return err;
	}
	db.used = now;
	return ERR_OK;
}

static bool is_lost(unsigned e)
{
	switch (e) {
	case CR_SERVER_GONE_ERROR: /* 2006 */
	case CR_SERVER_LOST:       /* 2013 */
	case CR_CONNECTION_ERROR:  /* 2002 */
	case CR_CONN_HOST_ERROR:   /* 2003 */
	case CR_SERVER_LOST_EXTENDED:
	case ER_CONNECTION_KILLED: /* 1927 */
	case ER_SERVER_SHUTDOWN:   /* 1053 */
	case ER_QUERY_INTERRUPTED: /* 1317 */
	case 4031:                 /* client idle too long, disconnected */
		return true;
	default:
		return false;
	}
}

/* Map a client/server error number to err_t; a lost connection is dropped. */
static err_t classify(unsigned e, const char *msg, const char *what)
{
	if (e == ER_DUP_ENTRY)
		return ERR_CONFLICT;
	if (e == ER_LOCK_DEADLOCK || e == ER_LOCK_WAIT_TIMEOUT)
		return ERR_RETRY;
	if (is_lost(e)) {
		log_warn("msg=\"database connection lost\" errno=%u during=%s", e, what);
		drop_connection();
		/* a read that timed out or a server going down, not one connection killed or
		   closed for idling: every worker may stop trying for a moment */
		if (e == CR_SERVER_LOST || e == ER_SERVER_SHUTDOWN)
			trip();
		return ERR_UNAVAILABLE;
	}
	metrics_add(MET_DB_ERRORS, 1);
	log_error("msg=\"database error\" errno=%u error=\"%s\" during=%s", e, msg, what);
	return ERR_INTERNAL;
}

static err_t conn_error(const char *what)
{
	return classify(mysql_errno(db.conn), mysql_error(db.conn), what);
}

err_t db_library_init(void)
{
	return mysql_library_init(0, NULL, NULL) == 0 ? ERR_OK : ERR_INTERNAL;
}

void db_library_end(void)
{
	mysql_library_end();
}

err_t db_open(void)
{
	if (db.conn)
		return ERR_OK;
	for (size_t i = 0; i < STMT__MAX; i++) {
		if (!sql_text[i]) {
			log_error("msg=\"statement without SQL\" stmt=%zu", i);
			return ERR_INTERNAL;
		}
	}
	db.conn = mysql_init(NULL);
	if (!db.conn)
		return ERR_UNAVAILABLE;
	unsigned connect_timeout = CONNECT_TIMEOUT_S, io_timeout = IO_TIMEOUT_S;
	my_bool off = 0;
	mysql_options(db.conn, MYSQL_OPT_NONBLOCK, 0); /* the health check's ping may not wait */
	mysql_options(db.conn, MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout);
	mysql_options(db.conn, MYSQL_OPT_READ_TIMEOUT, &io_timeout);
	mysql_options(db.conn, MYSQL_OPT_WRITE_TIMEOUT, &io_timeout);
	mysql_options(db.conn, MYSQL_OPT_RECONNECT, &off);
	mysql_options(db.conn, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	/* UTC; strict; and a lock wait gives up (1205, retried by db_tx) well before
	   the read timeout would call the connection lost */
	mysql_options(db.conn, MYSQL_INIT_COMMAND,
		      "SET time_zone = '+00:00', sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_DATE,"
		      "NO_ENGINE_SUBSTITUTION,ERROR_FOR_DIVISION_BY_ZERO',"
		      " innodb_lock_wait_timeout = 5");
	if (!mysql_real_connect(db.conn, settings.host, settings.user, settings.password,
				settings.name, settings.port, settings.socket, CLIENT_FOUND_ROWS)) {
		static time_t last_logged;
		time_t now = time(NULL);
		if (now != last_logged) { /* at most a line a second while the database is down */
			log_warn("msg=\"database unreachable\" errno=%u", mysql_errno(db.conn));
			last_logged = now;
		}
		mysql_close(db.conn);
		db.conn = NULL;
		trip();
		return ERR_UNAVAILABLE;
	}
	atomic_store(&breaker->open_until, 0); /* reached: close the breaker */
	static bool connected_before;
	if (connected_before)
		metrics_add(MET_DB_RECONNECTS, 1);
	connected_before = true;
	log_info("msg=\"database connected\"");
	return ERR_OK;
}

void db_close(void)
{
	drop_connection();
}

static MYSQL_STMT *prepared(enum stmt st, err_t *err)
{
	if ((*err = ready()) != ERR_OK)
		return NULL;
	if (db.st[st])
		return db.st[st];
	MYSQL_STMT *s = mysql_stmt_init(db.conn);
	if (!s) {
		*err = ERR_INTERNAL;
		return NULL;
	}
	my_bool on = 1;
	const char *q = sql_text[st];
	if (mysql_stmt_prepare(s, q, strlen(q)) != 0) {
		unsigned e = mysql_stmt_errno(s);
		char m[256];
		snprintf(m, sizeof m, "%s", mysql_stmt_error(s));
		mysql_stmt_close(s); /* before classify() may close the connection */
		*err = classify(e, m, "prepare");
		return NULL;
	}
	mysql_stmt_attr_set(s, STMT_ATTR_UPDATE_MAX_LENGTH, &on);
	db.st[st] = s;
	return s;
}

/* Bind and execute; returns the statement ready for results, or NULL with *err set. */
static MYSQL_STMT *run(enum stmt st, const struct dbv *in, size_t nin, err_t *err)
{
	*err = ERR_OK;
	MYSQL_STMT *s = prepared(st, err);
	if (!s)
		return NULL;
	if (nin > DB_PARAMS_MAX || nin != mysql_stmt_param_count(s)) {
		log_error("msg=\"parameter count mismatch\" stmt=%d", (int)st);
		*err = ERR_INTERNAL;
		return NULL;
	}
	MYSQL_BIND b[DB_PARAMS_MAX];
	int64_t ints[DB_PARAMS_MAX];
	unsigned long lens[DB_PARAMS_MAX];
	memset(b, 0, sizeof b);
	for (size_t i = 0; i < nin; i++) {
		switch (in[i].t) {
		case DBV_NULL:
			b[i].buffer_type = MYSQL_TYPE_NULL;
			break;
		case DBV_INT:
			ints[i] = in[i].i;
			b[i].buffer_type = MYSQL_TYPE_LONGLONG;
			b[i].buffer = &ints[i];
			break;
		case DBV_STR:
			lens[i] = (unsigned long)in[i].len;
			b[i].buffer_type = MYSQL_TYPE_STRING;
			b[i].buffer = (void *)in[i].s;
			b[i].buffer_length = lens[i];
			b[i].length = &lens[i];
			break;
		}
	}
	if ((nin && mysql_stmt_bind_param(s, b)) || mysql_stmt_execute(s)) {
		*err = classify(mysql_stmt_errno(s), mysql_stmt_error(s), "execute");
		return NULL;
	}
	return s;
}

err_t db_exec(enum stmt st, const struct dbv *in, size_t nin, uint64_t *affected)
{
	err_t err;
	MYSQL_STMT *s = run(st, in, nin, &err);
	if (!s)
		return err;
	if (affected)
		*affected = (uint64_t)mysql_stmt_affected_rows(s);
	if (mysql_stmt_field_count(s))
		mysql_stmt_free_result(s);
	return ERR_OK;
}

uint64_t db_last_id(void)
{
	return db.conn ? (uint64_t)mysql_insert_id(db.conn) : 0;
}

static bool is_int_type(enum enum_field_types t)
{
	return t == MYSQL_TYPE_TINY || t == MYSQL_TYPE_SHORT || t == MYSQL_TYPE_LONG ||
	       t == MYSQL_TYPE_LONGLONG || t == MYSQL_TYPE_INT24 || t == MYSQL_TYPE_YEAR;
}

static err_t query_once(enum stmt st, const struct dbv *in, size_t nin, struct arena *a,
			struct db_rows *rows)
{
	*rows = (struct db_rows){0};
	err_t err;
	MYSQL_STMT *s = run(st, in, nin, &err);
	if (!s)
		return err;
	if (mysql_stmt_store_result(s)) {
		err = classify(mysql_stmt_errno(s), mysql_stmt_error(s), "store");
		return err;
	}
	MYSQL_RES *meta = mysql_stmt_result_metadata(s);
	size_t ncols = mysql_stmt_field_count(s);
	if (!meta || ncols > DB_COLS_MAX) {
		if (meta)
			mysql_free_result(meta);
		mysql_stmt_free_result(s);
		return ERR_INTERNAL;
	}
	MYSQL_FIELD *fields = mysql_fetch_fields(meta);
	MYSQL_BIND b[DB_COLS_MAX];
	int64_t ints[DB_COLS_MAX];
	unsigned long lens[DB_COLS_MAX];
	my_bool nulls[DB_COLS_MAX];
	memset(b, 0, sizeof b);
	size_t nrows = (size_t)mysql_stmt_num_rows(s);
	rows->ncols = ncols;
	rows->cell = arena_alloc(a, (nrows ? nrows : 1) * ncols * sizeof *rows->cell + 1);
	for (size_t c = 0; c < ncols && rows->cell; c++) {
		b[c].is_null = &nulls[c];
		b[c].length = &lens[c];
		/* integers, and decimals without a fraction (SUM() of integers is one) */
		if (is_int_type(fields[c].type) ||
		    (fields[c].type == MYSQL_TYPE_NEWDECIMAL && fields[c].decimals == 0)) {
			b[c].buffer_type = MYSQL_TYPE_LONGLONG;
			b[c].buffer = &ints[c];
		} else {
			b[c].buffer_type = MYSQL_TYPE_STRING;
			b[c].buffer_length = fields[c].max_length + 1;
			b[c].buffer = arena_alloc(a, b[c].buffer_length);
			if (!b[c].buffer)
				rows->cell = NULL;
		}
	}
	mysql_free_result(meta);
	if (!rows->cell || mysql_stmt_bind_result(s, b)) {
		mysql_stmt_free_result(s);
		return ERR_INTERNAL;
	}
	size_t r = 0;
	int rc = 0;
	while (r < nrows && (rc = mysql_stmt_fetch(s)) == 0) {
		for (size_t c = 0; c < ncols; c++) {
			struct dbv *v = &rows->cell[r * ncols + c];
			if (nulls[c]) {
				v->t = DBV_NULL;
			} else if (b[c].buffer_type == MYSQL_TYPE_LONGLONG) {
				v->t = DBV_INT;
				v->i = ints[c];
			} else {
				v->t = DBV_STR;
				v->len = lens[c];
				v->s = arena_strndup(a, b[c].buffer, lens[c]);
			}
		}
		r++;
	}
	rows->n = r;
	if (r < nrows) /* a fetch error, or a truncated column: never half a result */
		log_error("msg=\"fetch failed\" stmt=%d rc=%d", (int)st, rc);
	mysql_stmt_free_result(s);
	return a->oom || r < nrows ? ERR_INTERNAL : ERR_OK;
}

err_t db_rows_map(const struct db_rows *rows, size_t size, db_row_fn conv, struct arena *a,
		  void **items)
{
	char *out = arena_alloc(a, (rows->n ? rows->n : 1) * size);
	if (!out)
		return ERR_INTERNAL;
	for (size_t i = 0; i < rows->n; i++)
		conv(rows, i, out + i * size);
	*items = out;
	return ERR_OK;
}

err_t db_page(enum stmt st, const char *owner, const struct dbv *extra, const char *after,
	      int64_t limit, struct arena *a, size_t size, db_row_fn conv, unsigned key_cols,
	      void **items, size_t *n)
{
	struct db_rows rows;
	bool cursor = after[0] != '\0';
	*n = 0;
	struct dbv args[] = {DB_STR(owner), DB_STR(owner),          DB_STR(after),
			     DB_STR(after), DB_INT(limit + cursor), DB_NULL};
	size_t nargs = 5;
	if (extra) { /* (owner, extra, owner, after, after, limit) */
		memmove(args + 2, args + 1, 4 * sizeof *args);
		args[1] = *extra;
		nargs = 6;
	}
	err_t err = db_query(st, args, nargs, a, &rows);
	if (err != ERR_OK)
		return err;
	if (cursor) { /* the first row must be the one the cursor names */
		bool named = false;
		for (size_t c = 0; rows.n && c < rows.ncols && !named; c++) {
			const struct dbv *v = DB_CELL(&rows, 0, c);
			named = (key_cols & 1u << c) && v->t == DBV_STR && strcmp(v->s, after) == 0;
		}
		if (!named)
			return ERR_NOT_FOUND;
		rows.cell += rows.ncols; /* the page starts after it */
		rows.n--;
	}
	err = db_rows_map(&rows, size, conv, a, items);
	*n = err == ERR_OK ? rows.n : 0;
	return err;
}

/*
 * Outside a transaction a query only reads, so one that finds its connection
 * lost (a database restart) is run once more on a new one, and the request
 * does not pay for a connection it never knew was dead.
 */
err_t db_query(enum stmt st, const struct dbv *in, size_t nin, struct arena *a,
	       struct db_rows *rows)
{
	bool had = db.conn != NULL;
	err_t err = query_once(st, in, nin, a, rows);
	if (err == ERR_UNAVAILABLE && had && !db.conn && !db.in_tx)
		err = query_once(st, in, nin, a, rows);
	return err;
}

err_t db_sweep(int64_t now)
{
	static const struct {
		enum stmt st;
		int64_t age;
	} sweeps[] = {
		{STMT_SWEEP_IDEM, IDEM_TTL},
		{STMT_SWEEP_SESSIONS, 0},
		{STMT_SWEEP_LOGIN_FAILURES, 24 * 3600},
	};
	err_t err = ERR_OK;
	for (size_t i = 0; i < sizeof sweeps / sizeof sweeps[0] && err == ERR_OK; i++)
		err = db_exec(sweeps[i].st, DB_ARGS(DB_INT(now - sweeps[i].age)), NULL);
	return err;
}

/* Wait for what a non-blocking call asks (status), until deadline (ms); the new status. */
static int nb_wait(int status, long long deadline)
{
	struct pollfd p = {.fd = mysql_get_socket(db.conn)};
	p.events = (status & MYSQL_WAIT_READ ? POLLIN : 0) |
		   (status & MYSQL_WAIT_WRITE ? POLLOUT : 0) |
		   (status & MYSQL_WAIT_EXCEPT ? POLLPRI : 0);
	long long left = deadline - now_ms();
	if (left <= 0 || poll(&p, 1, (int)left) <= 0)
		return -1;
	return (p.revents & POLLIN ? MYSQL_WAIT_READ : 0) |
	       (p.revents & POLLOUT ? MYSQL_WAIT_WRITE : 0) |
	       (p.revents & POLLPRI ? MYSQL_WAIT_EXCEPT : 0);
}

/* Ping within HEALTH_MS, whatever the server does; a connection that fails is dropped. */
static err_t quick_ping(void)
{
	long long deadline = now_ms() + HEALTH_MS;
	int ret = 1;
	int status = mysql_ping_start(&ret, db.conn);
	while (status) {
		int ready_ = nb_wait(status, deadline);
		if (ready_ < 0) { /* no answer in time: this connection is of no use now */
			log_warn("msg=\"database did not answer a ping in time\"");
			break;
		}
		status = mysql_ping_cont(&ret, db.conn, ready_);
	}
	if (status || ret != 0) {
		drop_connection();
		trip();
		return ERR_UNAVAILABLE;
	}
	db.used = time(NULL);
	return ERR_OK;
}

err_t db_ping(struct arena *a)
{
	(void)a;
	long long until = atomic_load(&breaker->open_until);
	if (until && now_ms() < until) /* known down: say so at once, the probes find out */
		return ERR_UNAVAILABLE;
	if (!db.conn && db_open() != ERR_OK)
		return ERR_UNAVAILABLE;
	return quick_ping();
}

/* START TRANSACTION; a connection found dead here is replaced once (nothing ran on it). */
static err_t begin(void)
{
	static const char q[] = "START TRANSACTION";
	for (int attempt = 0;; attempt++) {
		err_t err = ready();
		if (err != ERR_OK)
			return err;
		if (mysql_real_query(db.conn, q, sizeof q - 1) == 0)
			return ERR_OK;
		err = conn_error("begin");
		if (err != ERR_UNAVAILABLE || db.conn || attempt)
			return err;
	}
}

err_t db_tx(err_t (*fn)(void *arg), void *arg)
{
	err_t err = ERR_RETRY;
	for (int attempt = 0; attempt < TX_TRIES && err == ERR_RETRY; attempt++) {
		if (attempt) {
			struct timespec ts = {0, (long)(1 + attempt * attempt) * 2000000L};
			nanosleep(&ts, NULL);
		}
		err = begin();
		if (err != ERR_OK)
			return err;
		db.in_tx = true;
		err = fn(arg);
		assert(db.in_tx || !db.conn); /* fn never ends the transaction itself */
		if (err == ERR_OK) {
			/* a lost COMMIT is ambiguous: report unavailable, never re-run blindly */
			err = db.conn && mysql_commit(db.conn) == 0 ? ERR_OK
			      : db.conn                             ? conn_error("commit")
								    : ERR_UNAVAILABLE;
		}
		if (err != ERR_OK && db.conn)
			mysql_rollback(db.conn);
		db.in_tx = false;
	}
	if (err == ERR_RETRY)
		log_warn("msg=\"transaction gave up after retries\"");
	return err;
}
