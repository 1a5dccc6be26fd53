/*
 * mailer: the outbox's delivery loop (see mailer.h).
 */
#include "orgd/mailer.h"

#include <stdbool.h>

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <time.h>

#include "orgd/api.h"
#include "orgd/clock.h"
#include "orgd/db.h"
#include "orgd/db_mail.h"
#include "orgd/db_user.h"
#include "orgd/log.h"
#include "orgd/mail.h"

#define TICK_MS         200 /* how often the outbox is looked at */
#define BATCH           20  /* messages claimed at once */
#define LEASE           120 /* seconds a claimed message is this mailer's */
#define ATTEMPTS_MAX    10  /* then it is given up (failed_at) */
#define BACKOFF_FIRST   5   /* seconds after the first failure, doubling, at most: */
#define BACKOFF_MAX     3600
#define RESETS_PER_TICK 50
#define RESET_TTL       3600

static volatile sig_atomic_t stopping;

static void on_term(int sig)
{
	(void)sig;
	stopping = 1;
}

/* The token and message of a password reset (db_reset_fn). */
static err_t make_reset(void *ctx, const struct user *u, struct email_token *t, struct db_mail *m,
			struct arena *a)
{
	(void)ctx;
	char token[API_TOKEN_LEN + 1];
	err_t err = api_email_token(t, clock_now() + RESET_TTL, token);
	return err == ERR_OK ? api_mail_reset(u->email, u->name, token, a, m) : err;
}

/* Seconds before attempt number `attempts` + 1. */
static int64_t backoff(int64_t attempts)
{
	int64_t s = BACKOFF_FIRST;
	for (int64_t i = 1; i < attempts && s < BACKOFF_MAX; i++)
		s *= 2;
	return s < BACKOFF_MAX ? s : BACKOFF_MAX;
}

/* Deliver one claimed message and record how it went. */
static void deliver(const struct outbox_row *o, struct arena *a)
{
	struct buf msg = {0};
	const char *why = "build";
	struct mail_msg m = {o->to, o->subject, o->body, o->message_id, o->created};
	err_t err = mail_build(&m, &msg);
	if (err == ERR_OK)
		err = mail_send(o->to, &msg, &why);
	buf_free(&msg);
	int64_t now = clock_now();
	if (err == ERR_OK) {
		db_outbox_sent(o->id, now);
		log_info("msg=\"mail sent\" outbox=%lld attempt=%lld", (long long)o->id,
			 (long long)o->attempts);
		return;
	}
	/* a permanent refusal, or the last attempt: given up; else due again later */
	bool give_up = err == ERR_INVALID || o->attempts >= ATTEMPTS_MAX;
	db_outbox_retry(o->id, now + backoff(o->attempts), give_up, now);
	log_warn("msg=\"mail not sent\" outbox=%lld attempt=%lld why=\"%s\"%s", (long long)o->id,
		 (long long)o->attempts, why ? why : "?", give_up ? " gave_up=1" : "");
	(void)a;
}

static int mailer_run(void)
{
	struct sigaction sa = {.sa_handler = on_term};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	log_info("msg=\"mailer started\"");
	struct arena a = {0};
	while (!stopping) {
		bool done = true;
		for (int i = 0; i < RESETS_PER_TICK && done && !stopping; i++) {
			if (db_reset_next(clock_now(), make_reset, NULL, &a, &done) != ERR_OK)
				done = false;
			arena_reset(&a);
		}
		struct outbox_row *rows;
		size_t n = 0;
		if (!stopping &&
		    db_outbox_claim(clock_now(), LEASE, BATCH, &a, &rows, &n) == ERR_OK)
			for (size_t i = 0; i < n && !stopping; i++)
				deliver(&rows[i], &a);
		arena_reset(&a);
		if (n < BATCH && !stopping) {
			struct timespec ts = {0, TICK_MS * 1000000L};
			nanosleep(&ts, NULL);
		}
	}
	arena_free(&a);
	db_close();
	mail_process_end();
	log_info("msg=\"mailer stopped\"");
	return 0;
}

int mailer_main(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	pid_t child = 0;
	bool done_ = false;
	time_t started = 0;
	for (;;) {
		if (!child && !done_) {
			if (time(NULL) == started) { /* dying at birth: do not spin */
				struct timespec ts = {1, 0};
				nanosleep(&ts, NULL);
			}
			started = time(NULL);
			child = fork();
			if (child == 0)
				_exit(mailer_run());
			if (child < 0) {
				log_error("msg=\"mailer fork failed\" errno=%d", errno);
				child = 0;
			}
		}
		struct timespec tick = {1, 0};
		siginfo_t si;
		int sig = sigtimedwait(&set, &si, &tick);
		if ((sig == SIGTERM || sig == SIGINT) && !done_) {
			done_ = true;
			if (child)
				kill(child, SIGTERM);
		}
		int status;
		pid_t pid;
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			if (pid != child)
				continue;
			child = 0;
			if (!done_)
				log_warn("msg=\"mailer died; starting another\" signal=%d",
					 WIFSIGNALED(status) ? WTERMSIG(status) : 0);
		}
		if (done_ && !child)
			return 0;
	}
}
