/*
 * master: prefork and supervision (see master.h). All signals are taken
 * synchronously with sigtimedwait(), so there is no handler state to race.
 */
#include "orgd/master.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "orgd/config.h"
#include "orgd/db.h"
#include "orgd/hashgate.h"
#include "orgd/http.h"
#include "orgd/keyring.h"
#include "orgd/log.h"
#include "orgd/metrics.h"
#include "orgd/worker.h"

#define WORKERS_MAX        256
#define STOP_GRACE_SECONDS 30

struct slot {
	pid_t pid;    /* 0: empty */
	bool retired; /* told to stop (stop or reload): not replaced when it exits */
	time_t started;
};

static struct slot slots[WORKERS_MAX * 2]; /* room for two generations during a reload */

/* Workers alive; with serving_only, only those not told to stop. */
static int live_workers(bool serving_only)
{
	int n = 0;
	for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++)
		n += slots[i].pid != 0 && !(serving_only && slots[i].retired);
	return n;
}

static int spawn(int listen_fd, struct keyring *keys)
{
	size_t i = 0;
	while (i < sizeof slots / sizeof slots[0] && slots[i].pid)
		i++;
	if (i == sizeof slots / sizeof slots[0])
		return -1;
	pid_t pid = fork();
	if (pid < 0) {
		log_error("msg=\"fork failed\" errno=%d", errno);
		return -1;
	}
	if (pid == 0) /* signals stay blocked until the worker has its handlers */
		_exit(worker_run(listen_fd, keys, (int)i));
	slots[i] = (struct slot){.pid = pid, .started = time(NULL)};
	return 0;
}

static void signal_all(int sig)
{
	for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++) {
		if (slots[i].pid) {
			slots[i].retired = true;
			kill(slots[i].pid, sig);
		}
	}
}

/* Collect exited workers, and log the ones that were not told to stop. Returns true if
   one of those died within a second of its start. */
static bool reap(void)
{
	bool quick = false;
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++) {
			if (slots[i].pid != pid)
				continue;
			slots[i].pid = 0;
			hashgate_reap((int)i); /* a place it held among the hashes is free again */
			if (!slots[i].retired)
				metrics_add(MET_WORKER_RESTARTS, 1);
			if (WIFSIGNALED(status))
				log_warn("msg=\"worker died\" worker=%d signal=%d", (int)pid,
					 WTERMSIG(status));
			else if (!slots[i].retired || WEXITSTATUS(status) != 0)
				log_warn("msg=\"worker exited\" worker=%d status=%d", (int)pid,
					 WEXITSTATUS(status));
			quick |= !slots[i].retired && time(NULL) - slots[i].started < 1;
		}
	}
	return quick;
}

/* Start workers until cfg.workers serve: after a death, a failed fork, a reload. */
static void fill(int listen_fd, struct keyring *keys)
{
	for (int n = live_workers(true); n < cfg.workers; n++)
		if (spawn(listen_fd, keys) != 0)
			break; /* fork failed or no slot: the next tick tries again */
}

int master_run(void)
{
	struct keyring *keys = NULL;
	if (keyring_load(cfg.key_dir, &keys) != ERR_OK) {
		log_error("msg=\"cannot load the key ring\" dir=%s", cfg.key_dir);
		return 1;
	}
	int listen_fd = http_listen(cfg.socket, cfg.socket_user);
	/* the pages the workers share: the bound on hashes at once, the database breaker */
	if (listen_fd >= 0 &&
	    (hashgate_init((int)(sizeof slots / sizeof slots[0]), cfg.hash_limit) ||
	     db_shared_init() || metrics_init())) {
		log_error("msg=\"cannot map the shared pages\"");
		close(listen_fd);
		listen_fd = -1;
	}
	if (listen_fd < 0) {
		keyring_free(keys);
		return 1;
	}
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	fill(listen_fd, keys);
	log_info("msg=\"orgd started\" workers=%d socket=%s", cfg.workers, cfg.socket);

	bool stopping = false;
	time_t stop_at = 0;
	for (;;) {
		struct timespec tick = {1, 0};
		siginfo_t si;
		int sig = sigtimedwait(&set, &si, &tick);
		if (sig == SIGTERM || sig == SIGINT) {
			if (!stopping)
				log_info("msg=\"stopping: letting requests in flight finish\"");
			stopping = true;
			if (!stop_at)
				stop_at = time(NULL);
		} else if (sig == SIGHUP && !stopping) {
			struct keyring *fresh = NULL;
			if (keyring_load(cfg.key_dir, &fresh) != ERR_OK) {
				log_error("msg=\"reload refused: cannot load the key ring\"");
			} else {
				log_info("msg=\"reloading: new workers, new keys\"");
				signal_all(SIGTERM);
				keyring_free(keys);
				keys = fresh;
			}
		}
		if (reap() && !stopping) { /* dying at birth: do not spin */
			struct timespec ts = {0, 100 * 1000000L};
			nanosleep(&ts, NULL);
		}
		if (!stopping)
			fill(listen_fd, keys);
		if (stopping) {
			if (!live_workers(false))
				break;
			/* repeated each second: a worker between its check and its wait still hears
			 * it */
			signal_all(time(NULL) - stop_at > STOP_GRACE_SECONDS ? SIGKILL : SIGTERM);
		}
	}
	close(listen_fd);
	unlink(cfg.socket);
	keyring_free(keys);
	log_info("msg=\"orgd stopped\"");
	return 0;
}
