/*
 * mail: SMTP delivery (see mail.h). Owns the settings, this process's one
 * reused curl handle, and the mapping of every SMTP outcome to an err_t. The
 * module's only file that includes curl/curl.h.
 *
 * Transport: smtp and smtps only, no proxy from the environment, TLS peer and
 * host verification on (curl's defaults, set explicitly), STARTTLS tried on
 * smtp:// and required there when a password is set, one total timeout from
 * the settings. curl keeps the connection for the next message (SMTP
 * connections are persistent) and dot-stuffs the data. Logs carry the
 * outcome, the SMTP status, the latency and curl's code and text: never the
 * URL (it may hold credentials), an address, a message or a password.
 */
#include "orgd/mail.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "orgd/log.h"

static struct mail_settings settings = {
	.from = MAIL_FROM_DEFAULT,
	.timeout_ms = MAIL_TIMEOUT_DEFAULT_MS,
};

/* The process's handle, and the process that created it (a fork must not share it). */
static CURL *handle;
static pid_t handle_pid;

void mail_configure(const struct mail_settings *s)
{
	settings = *s;
	if (!settings.from || !*settings.from)
		settings.from = MAIL_FROM_DEFAULT;
	if (settings.timeout_ms <= 0)
		settings.timeout_ms = MAIL_TIMEOUT_DEFAULT_MS;
	if (settings.user && !*settings.user)
		settings.user = NULL;
	if (settings.password && !*settings.password)
		settings.password = NULL;
	const char *u = settings.smtp_url;
	if (!u || (strncmp(u, "smtp://", 7) != 0 && strncmp(u, "smtps://", 8) != 0))
		log_warn("msg=\"the SMTP URL is not smtp:// or smtps://: no mail will be "
			 "delivered\"");
	struct arena a = {0};
	if (!mail_from_address(settings.from, &a))
		log_warn("msg=\"the mail sender (ORGD_MAIL_FROM) is not \\\"name <address>\\\" or "
			 "an "
			 "address: no mail will be built\"");
	arena_free(&a);
}

const struct mail_settings *mail_settings(void)
{
	return &settings;
}

void mail_process_end(void)
{
	if (handle && handle_pid == getpid())
		curl_easy_cleanup(handle);
	handle = NULL;
}

/*
 * This process's handle, its options back to the defaults (its connection and
 * TLS session cache are kept). One inherited across fork() is left alone, not
 * cleaned up: its connection belongs to the parent.
 */
static CURL *get_handle(void)
{
	pid_t pid = getpid();
	if (handle && handle_pid != pid)
		handle = NULL;
	if (handle) {
		curl_easy_reset(handle);
		return handle;
	}
	handle = curl_easy_init();
	handle_pid = pid;
	return handle;
}

static int64_t monotonic_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The message being uploaded. */
struct upload {
	const struct buf *msg;
	size_t off;
	bool started; /* curl asked for the data: MAIL, RCPT and DATA were accepted */
};

static size_t on_read(char *p, size_t size, size_t n, void *ud)
{
	struct upload *u = ud;
	size_t room = size * n, left = u->msg->len - u->off;
	size_t k = left < room ? left : room;
	u->started = true;
	memcpy(p, u->msg->p + u->off, k);
	u->off += k;
	return k;
}

/* Is this SMTP status a refusal that only a change of our configuration cures? */
static bool config_status(long st)
{
	/* 530 authentication required, 534 mechanism too weak, 535 credentials
	   invalid, 538 encryption required for the mechanism */
	return st == 530 || st == 534 || st == 535 || st == 538;
}

/* The outcome of a finished curl_easy_perform(), and its reason. */
static err_t outcome(CURLcode rc, long st, bool started, const char **why)
{
	switch (rc) {
	case CURLE_OK:
		*why = "delivered";
		return ERR_OK;
	case CURLE_OUT_OF_MEMORY:
		*why = "out of memory";
		return ERR_INTERNAL;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_NOT_BUILT_IN:
	case CURLE_BAD_FUNCTION_ARGUMENT:
	case CURLE_READ_ERROR:
		*why = "cannot send (URL or curl)";
		return ERR_INTERNAL;
	case CURLE_LOGIN_DENIED:
	case CURLE_AUTH_ERROR:
		*why = "authentication refused";
		return ERR_UNAVAILABLE;
	case CURLE_OPERATION_TIMEDOUT:
		*why = "timed out";
		return ERR_UNAVAILABLE;
	case CURLE_COULDNT_CONNECT:
		*why = "cannot connect";
		return ERR_UNAVAILABLE;
	case CURLE_COULDNT_RESOLVE_HOST:
		*why = "cannot resolve the server";
		return ERR_UNAVAILABLE;
	case CURLE_USE_SSL_FAILED:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
		*why = "TLS failed";
		return ERR_UNAVAILABLE;
	case CURLE_SEND_ERROR:         /* MAIL, RCPT or DATA refused; or the socket failed */
	case CURLE_WEIRD_SERVER_REPLY: /* the data refused, or a bad greeting */
		if (st >= 500 && st < 600 && config_status(st)) {
			*why = "refused: authentication or TLS required";
			return ERR_UNAVAILABLE;
		}
		/* CURLE_WEIRD_SERVER_REPLY before the data is the greeting or EHLO */
		if (st >= 500 && st < 600 && (rc == CURLE_SEND_ERROR || started)) {
			*why = "refused (5xx)";
			return ERR_INVALID;
		}
		if (st >= 400 && st < 500) {
			*why = "refused for now (4xx)";
			return ERR_UNAVAILABLE;
		}
		*why = "the server failed";
		return ERR_UNAVAILABLE;
	default:
		*why = "the connection failed";
		return ERR_UNAVAILABLE;
	}
}

/* A Message-ID-free, address-free log line of one delivery. */
static void log_delivery(err_t e, const char *why, long st, int64_t us, CURLcode rc)
{
	enum log_level lvl = e == ERR_OK ? LOG_INFO : e == ERR_UNAVAILABLE ? LOG_WARN : LOG_ERROR;
	if (rc == CURLE_OK)
		log_msg(lvl, "msg=\"smtp delivery\" outcome=\"%s\" smtp=%ld us=%" PRId64, why, st,
			us);
	else
		log_msg(lvl,
			"msg=\"smtp delivery\" outcome=\"%s\" smtp=%ld us=%" PRId64
			" curl=%d error=\"%s\"",
			why, st, us, (int)rc, curl_easy_strerror(rc));
}

err_t mail_send(const char *to, const struct buf *msg, const char **why)
{
	const char *dummy;
	if (!why)
		why = &dummy;
	const char *url = settings.smtp_url;
	if (!url || !*url) {
		*why = "not configured";
		log_error("msg=\"smtp delivery without an SMTP URL\"");
		return ERR_INTERNAL;
	}
	if (!msg || !msg->p || msg->oom) {
		*why = "no message";
		log_error("msg=\"smtp delivery of no message\"");
		return ERR_INTERNAL;
	}
	struct arena a = {0};
	const char *from = mail_from_address(settings.from, &a);
	if (!from) {
		*why = a.oom ? "out of memory" : "not a plain sender address";
		arena_free(&a);
		log_error("msg=\"smtp delivery refused before sending\" reason=\"%s\"", *why);
		return ERR_INTERNAL;
	}
	char *from_path = arena_printf(&a, "<%s>", from);
	/* the To header's check: nothing but an address reaches the SMTP dialogue */
	if (!mail_address_ok(to)) {
		arena_free(&a);
		*why = "not a plain recipient address";
		log_error("msg=\"smtp delivery refused before sending\" reason=\"%s\"", *why);
		return ERR_INVALID;
	}
	char *rcpt = arena_printf(&a, "<%s>", to);
	struct curl_slist *rcpts = rcpt ? curl_slist_append(NULL, rcpt) : NULL;
	CURL *h = rcpts && from_path ? get_handle() : NULL;
	if (!h) {
		curl_slist_free_all(rcpts);
		arena_free(&a);
		*why = "out of memory";
		log_error("msg=\"smtp delivery cannot be set up\" reason=\"%s\"", *why);
		return ERR_INTERNAL;
	}

	bool smtps = strncmp(url, "smtps://", 8) == 0;
	long use_ssl = smtps || settings.password ? (long)CURLUSESSL_ALL : (long)CURLUSESSL_TRY;
	struct upload up = {.msg = msg};
	CURLcode rc = CURLE_OK;
#define SET(opt, val)                                                                              \
	do {                                                                                       \
		if (rc == CURLE_OK)                                                                \
			rc = curl_easy_setopt(h, opt, val);                                        \
	} while (0)
	SET(CURLOPT_URL, url);
	SET(CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_CONNECTTIMEOUT_MS, settings.timeout_ms);
	SET(CURLOPT_TIMEOUT_MS, settings.timeout_ms);
	SET(CURLOPT_USE_SSL, use_ssl);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	SET(CURLOPT_PROXY, ""); /* never a proxy named by the environment */
	if (settings.user)
		SET(CURLOPT_USERNAME, settings.user);
	if (settings.password)
		SET(CURLOPT_PASSWORD, settings.password);
	SET(CURLOPT_MAIL_FROM, from_path);
	SET(CURLOPT_MAIL_RCPT, rcpts);
	SET(CURLOPT_UPLOAD, 1L);
	SET(CURLOPT_READFUNCTION, on_read);
	SET(CURLOPT_READDATA, &up);
	SET(CURLOPT_INFILESIZE_LARGE, (curl_off_t)msg->len);
#undef SET
	err_t ret;
	long st = 0;
	int64_t us = 0;
	if (rc != CURLE_OK) {
		*why = "cannot set up curl";
		log_error("msg=\"smtp delivery cannot be set up\" curl=%d", (int)rc);
		ret = ERR_INTERNAL;
	} else {
		int64_t t0 = monotonic_us();
		rc = curl_easy_perform(h);
		us = monotonic_us() - t0;
		if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st) != CURLE_OK || st < 0 ||
		    st > 999)
			st = 0;
		ret = outcome(rc, st, up.started, why);
		log_delivery(ret, *why, st, us, rc);
	}
	/* the handle must not keep pointers to what is freed now */
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT, (struct curl_slist *)NULL);
	curl_easy_setopt(h, CURLOPT_READDATA, (void *)NULL);
	curl_slist_free_all(rcpts);
	arena_free(&a);
	return ret;
}
