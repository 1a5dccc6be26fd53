/*
 * fcgi-hello: the FastCGI baseline of `make bench`, and a stand-in for orgd while
 * it is not built (it answers /v1/health, and every other path, the same way).
 *
 * A master binds the unix socket ORGD_SOCKET (mode 0600, chown'ed to
 * ORGD_SOCKET_USER if set) or, without ORGD_SOCKET, uses the listening socket it
 * inherited as fd 0 (spawn-fcgi); it forks ORGD_WORKERS workers (default: the
 * number of CPUs), replaces any that dies, and on SIGTERM or SIGINT stops them,
 * waits, removes the socket and exits 0. Each worker is a plain FCGX_Accept_r loop.
 *
 * HELLO_MODE=hello (default): answer {"status":"ok","db":"ok"}, with Content-Length.
 * HELLO_MODE=update: each worker holds one MariaDB connection (ORGD_DB_SOCKET or
 * ORGD_DB_HOST/ORGD_DB_PORT, ORGD_DB_NAME, ORGD_DB_USER, ORGD_DB_PASSWORD),
 * autocommit off, and per request runs one prepared single-row
 * `UPDATE bench_counter SET n = n + 1 WHERE id = ?` (a random id of 64) and COMMIT,
 * answering the same body (503 if the database fails; it reconnects next time).
 * The master creates bench_counter and its 64 rows if missing.
 * HELLO_MODE=select: the same connection, autocommit on, and per request one prepared
 * primary-key `SELECT n, name FROM bench_select WHERE id = ?` (a random id of 10,000),
 * its row fetched, answering the same body (503 if the database fails or finds no row).
 * The master creates bench_select and its 10,000 rows if missing. This is the floor
 * of `make bench`: one database round trip per request, no write.
 */
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>
#include <mysql.h>

#define MAX_WORKERS  256
#define COUNTER_ROWS 64
#define SELECT_ROWS  10000

static const char BODY[] = "{\"status\":\"ok\",\"db\":\"ok\"}";
static const char BODY_DOWN[] = "{\"error\":{\"code\":\"unavailable\",\"message\":\"database\"}}";

static volatile sig_atomic_t stopping;

enum mode { MODE_HELLO, MODE_UPDATE, MODE_SELECT };
static enum mode mode;

/* the database of update and select mode: one connection and one statement per worker */
static MYSQL *db;
static MYSQL_STMT *db_stmt;

static void on_stop(int sig)
{
	(void)sig;
	stopping = 1;
	FCGX_ShutdownPending();
}

static const char *env_or(const char *name, const char *dflt)
{
	const char *v = getenv(name);
	return v && *v ? v : dflt;
}

static void die(const char *what)
{
	fprintf(stderr, "fcgi-hello: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Binds and listens on a unix socket at path, created 0600 and chown'ed to user if
 * given; returns the fd. */
static int listen_unix(const char *path, const char *user)
{
	struct sockaddr_un sa;
	mode_t old;
	int fd;

	if (strlen(path) >= sizeof sa.sun_path) {
		fprintf(stderr, "fcgi-hello: socket path too long: %s\n", path);
		exit(1);
	}
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	if (unlink(path) < 0 && errno != ENOENT)
		die("unlink socket");
	old = umask(0177);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		die("bind");
	umask(old);
	if (user && *user) {
		struct passwd *pw = getpwnam(user);
		if (!pw) {
			fprintf(stderr, "fcgi-hello: no such user: %s\n", user);
			exit(1);
		}
		if (chown(path, pw->pw_uid, pw->pw_gid) < 0)
			die("chown socket");
	}
	if (listen(fd, 1024) < 0)
		die("listen");
	return fd;
}

/* Opens a connection into db, autocommit on or off; 0 on success. */
static int db_connect(int autocommit)
{
	const char *sock = getenv("ORGD_DB_SOCKET");
	const char *host = env_or("ORGD_DB_HOST", NULL);
	unsigned port = (unsigned)atoi(env_or("ORGD_DB_PORT", "0"));

	db = mysql_init(NULL);
	if (!db)
		return -1;
	if (!mysql_real_connect(db, sock && *sock ? NULL : host, env_or("ORGD_DB_USER", "orgd"),
				getenv("ORGD_DB_PASSWORD"), env_or("ORGD_DB_NAME", "orgd"), port,
				sock && *sock ? sock : NULL, 0))
		goto fail;
	if (mysql_autocommit(db, autocommit != 0))
		goto fail;
	return 0;
fail:
	fprintf(stderr, "fcgi-hello[%d]: database: %s\n", (int)getpid(), mysql_error(db));
	mysql_close(db);
	db = NULL;
	return -1;
}

/* Closes the worker's statement and connection (after a failure: the next request
 * opens them again). */
static void db_drop(void)
{
	if (db_stmt)
		mysql_stmt_close(db_stmt);
	db_stmt = NULL;
	if (db)
		mysql_close(db);
	db = NULL;
}

/* Opens the worker's connection and prepares its mode's statement; 0 on success. */
static int db_open(void)
{
	static const char update_sql[] = "UPDATE bench_counter SET n = n + 1 WHERE id = ?";
	static const char select_sql[] = "SELECT n, name FROM bench_select WHERE id = ?";
	const char *sql = mode == MODE_SELECT ? select_sql : update_sql;

	/* select: autocommit on, so that no read view stays open between requests */
	if (db_connect(mode == MODE_SELECT) < 0)
		return -1;
	db_stmt = mysql_stmt_init(db);
	if (!db_stmt || mysql_stmt_prepare(db_stmt, sql, strlen(sql))) {
		fprintf(stderr, "fcgi-hello[%d]: database: %s\n", (int)getpid(), mysql_error(db));
		db_drop();
		return -1;
	}
	return 0;
}

/* One UPDATE of a random row and COMMIT; 0 on success. */
static int db_bump(unsigned *seed)
{
	MYSQL_BIND bind;
	int id = 1 + (int)(rand_r(seed) % COUNTER_ROWS);

	if (!db && db_open() < 0)
		return -1;
	memset(&bind, 0, sizeof bind);
	bind.buffer_type = MYSQL_TYPE_LONG;
	bind.buffer = &id;
	if (mysql_stmt_bind_param(db_stmt, &bind) || mysql_stmt_execute(db_stmt) ||
	    mysql_commit(db)) {
		fprintf(stderr, "fcgi-hello[%d]: update: %s\n", (int)getpid(), mysql_error(db));
		db_drop();
		return -1;
	}
	return 0;
}

/* One primary-key SELECT of a random row, the row fetched; 0 on success. */
static int db_select(unsigned *seed)
{
	MYSQL_BIND param, res[2];
	int id = 1 + (int)(rand_r(seed) % SELECT_ROWS);
	long long n = 0;
	char name[33];
	unsigned long name_len = 0;
	int rc;

	if (!db && db_open() < 0)
		return -1;
	memset(&param, 0, sizeof param);
	param.buffer_type = MYSQL_TYPE_LONG;
	param.buffer = &id;
	memset(res, 0, sizeof res);
	res[0].buffer_type = MYSQL_TYPE_LONGLONG;
	res[0].buffer = &n;
	res[1].buffer_type = MYSQL_TYPE_STRING;
	res[1].buffer = name;
	res[1].buffer_length = sizeof name - 1;
	res[1].length = &name_len;
	if (mysql_stmt_bind_param(db_stmt, &param) || mysql_stmt_execute(db_stmt) ||
	    mysql_stmt_bind_result(db_stmt, res)) {
		fprintf(stderr, "fcgi-hello[%d]: select: %s\n", (int)getpid(), mysql_error(db));
		db_drop();
		return -1;
	}
	rc = mysql_stmt_fetch(db_stmt);
	if (rc != 0 && rc != MYSQL_DATA_TRUNCATED) {
		fprintf(stderr, "fcgi-hello[%d]: select: %s\n", (int)getpid(),
			rc == MYSQL_NO_DATA ? "no row" : mysql_stmt_error(db_stmt));
		db_drop();
		return -1;
	}
	/* drain the rest (none: a primary key) so the connection is ready for the next */
	while (mysql_stmt_fetch(db_stmt) == 0)
		;
	mysql_stmt_free_result(db_stmt);
	return 0;
}

/* Runs the statements of sql[], then COMMIT; exits on failure. */
static void db_run(const char *const *sql, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (mysql_query(db, sql[i])) {
			fprintf(stderr, "fcgi-hello: setup: %s\n", mysql_error(db));
			exit(1);
		}
	}
	if (mysql_commit(db)) {
		fprintf(stderr, "fcgi-hello: setup: %s\n", mysql_error(db));
		exit(1);
	}
}

/* Creates bench_counter with its rows if missing (the master, before forking). */
static void db_setup_update(void)
{
	char sql[64 + COUNTER_ROWS * 8];
	size_t n;

	n = (size_t)snprintf(sql, sizeof sql, "INSERT IGNORE INTO bench_counter (id) VALUES ");
	for (int i = 1; i <= COUNTER_ROWS; i++)
		n += (size_t)snprintf(sql + n, sizeof sql - n, "%s(%d)", i > 1 ? "," : "", i);
	const char *const q[] = {
		"CREATE TABLE IF NOT EXISTS bench_counter ("
		"id INT NOT NULL PRIMARY KEY, n BIGINT NOT NULL DEFAULT 0) ENGINE=InnoDB",
		sql,
	};
	db_run(q, sizeof q / sizeof q[0]);
}

/* Creates bench_select with its 10,000 rows if missing (the master, before forking). */
static void db_setup_select(void)
{
	/* "(10000,10000,'row-10000')," at most: 28 bytes a row */
	size_t cap = 64 + (size_t)SELECT_ROWS * 28, n;
	char *sql = malloc(cap);

	if (!sql)
		die("malloc");
	n = (size_t)snprintf(sql, cap, "INSERT IGNORE INTO bench_select (id, n, name) VALUES ");
	for (int i = 1; i <= SELECT_ROWS; i++)
		n += (size_t)snprintf(sql + n, cap - n, "%s(%d,%d,'row-%d')", i > 1 ? "," : "", i,
				      i * 7, i);
	const char *const q[] = {
		"CREATE TABLE IF NOT EXISTS bench_select (id INT NOT NULL PRIMARY KEY,"
		" n BIGINT NOT NULL, name VARCHAR(32) NOT NULL) ENGINE=InnoDB",
		sql,
	};
	db_run(q, sizeof q / sizeof q[0]);
	free(sql);
}

static void db_setup(void)
{
	if (db_connect(0) < 0)
		exit(1);
	if (mode == MODE_SELECT)
		db_setup_select();
	else
		db_setup_update();
	mysql_close(db);
	db = NULL;
}

static void respond(FCGX_Request *req, const char *status, const char *body)
{
	char head[160];
	size_t len = strlen(body);
	int n = snprintf(
		head, sizeof head,
		"Status: %s\r\nContent-Type: application/json\r\nContent-Length: %lu\r\n\r\n",
		status, (unsigned long)len);
	FCGX_PutStr(head, n, req->out);
	FCGX_PutStr(body, (int)len, req->out);
}

static void worker(int listen_fd)
{
	struct sigaction sa;
	FCGX_Request req;
	unsigned seed = (unsigned)getpid() ^ (unsigned)time(NULL);

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop; /* no SA_RESTART: accept() returns at once */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (FCGX_Init() != 0 || FCGX_InitRequest(&req, listen_fd, 0) != 0) {
		fprintf(stderr, "fcgi-hello: FCGX_Init failed\n");
		_exit(1);
	}
	if (mode != MODE_HELLO && db_open() < 0)
		fprintf(stderr, "fcgi-hello[%d]: no database yet\n", (int)getpid());
	while (!stopping && FCGX_Accept_r(&req) >= 0) {
		int rc = mode == MODE_UPDATE   ? db_bump(&seed)
			 : mode == MODE_SELECT ? db_select(&seed)
					       : 0;
		if (rc < 0)
			respond(&req, "503 Service Unavailable", BODY_DOWN);
		else
			respond(&req, "200 OK", BODY);
		FCGX_Finish_r(&req);
	}
	db_drop();
	_exit(0);
}

static pid_t spawn(int listen_fd)
{
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0)
		worker(listen_fd);
	return pid;
}

int main(void)
{
	const char *path = getenv("ORGD_SOCKET");
	const char *mode_name = env_or("HELLO_MODE", "hello");
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int nworkers = atoi(env_or("ORGD_WORKERS", "0"));
	pid_t pids[MAX_WORKERS];
	struct sigaction sa;
	int fd;

	if (strcmp(mode_name, "update") == 0)
		mode = MODE_UPDATE;
	else if (strcmp(mode_name, "select") == 0)
		mode = MODE_SELECT;
	else if (strcmp(mode_name, "hello") != 0) {
		fprintf(stderr, "fcgi-hello: HELLO_MODE must be hello, update or select\n");
		return 2;
	}
	if (nworkers <= 0)
		nworkers = cpus > 0 ? (int)cpus : 1;
	if (nworkers > MAX_WORKERS)
		nworkers = MAX_WORKERS;
	if (mode != MODE_HELLO)
		db_setup();
	/* the socket appears once the table is there */
	fd = path && *path ? listen_unix(path, getenv("ORGD_SOCKET_USER")) : 0;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	for (int i = 0; i < nworkers; i++)
		pids[i] = spawn(fd);
	fprintf(stderr, "fcgi-hello: %s mode, %d workers on %s\n", mode_name, nworkers,
		path && *path ? path : "fd 0");

	while (!stopping) {
		int status;
		pid_t dead = wait(&status);
		if (dead < 0) {
			if (errno == EINTR)
				continue;
			die("wait");
		}
		for (int i = 0; i < nworkers; i++) {
			if (pids[i] == dead && !stopping) {
				fprintf(stderr,
					"fcgi-hello: worker %d died (status %d): replaced\n",
					(int)dead, status);
				pids[i] = spawn(fd);
			}
		}
	}
	for (int i = 0; i < nworkers; i++)
		kill(pids[i], SIGTERM);
	while (wait(NULL) > 0 || errno == EINTR)
		;
	if (path && *path)
		unlink(path);
	fprintf(stderr, "fcgi-hello: stopped\n");
	return 0;
}
