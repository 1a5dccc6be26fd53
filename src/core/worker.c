/*
 * worker: the accept loop. SIGTERM is blocked except while the worker waits
 * for a connection (http_accept's ppoll), so a stop never cuts a request in
 * flight: the request finishes, then the worker exits 0.
 */
#include "orgd/worker.h"

#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "orgd/clock.h"
#include "orgd/db.h"
#include "orgd/hashgate.h"
#include "orgd/http.h"
#include "orgd/log.h"
#include "orgd/pay.h"
#include "orgd/route.h"
#include "orgd/session.h"

#define SWEEP_EVERY 60 /* seconds */

static volatile sig_atomic_t stopping;

static void on_term(int sig)
{
	(void)sig;
	stopping = 1;
}

/* Between requests, about once a minute (spread over the workers): db_sweep(). */
static void housekeeping(void)
{
	static time_t next;
	time_t now = time(NULL);
	if (now < next)
		return;
	if (next) /* not on the first request: a worker starts serving at once */
		db_sweep(clock_now());
	next = now + SWEEP_EVERY + getpid() % SWEEP_EVERY;
}

int worker_run(int listen_fd, struct keyring *keys, int slot)
{
	hashgate_worker(slot);
	struct sigaction sa = {.sa_handler = on_term}; /* no SA_RESTART: ppoll must wake */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGINT, SIG_IGN); /* the master turns Ctrl-C into an orderly stop */
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_SETMASK, &block, NULL);

	session_init(keys);
	static struct req r;
	if (http_init(&r, listen_fd) != 0) {
		log_error("msg=\"worker cannot start FastCGI\"");
		return 1;
	}
	/* the libfcgi init may install its own SIGTERM handler: ours wins */
	sigaction(SIGTERM, &sa, NULL);
	db_open(); /* a database that is down now is retried per request */
	int status = 0;
	while (!stopping) {
		int rc = http_accept(&r);
		if (rc < 0) {
			status = 1;
			break;
		}
		if (rc == 0)
			continue;
		dispatch(&r);
		http_finish(&r);
		housekeeping();
	}
	db_close();
	pay_worker_end();
	return status;
}
