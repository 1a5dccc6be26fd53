/*
 * mail: the messages orgd sends (API.md "Email": verification, invitation,
 * password reset) as RFC 5322 text, and their delivery over SMTP.
 *
 * message.c owns the building of one message: its headers (no input can add
 * one: SECURITY.md "Identity and invitations"), the RFC 2047 encoding of a
 * non-ASCII subject or sender name, the body's transfer encoding and line
 * ends. smtp.c owns the settings, the process's one reused curl handle and the
 * mapping of every SMTP outcome to an err_t; it is the module's only file that
 * includes curl/curl.h.
 *
 * Process rules: curl_global_init() is pay_global_init()'s, once in the master
 * before any fork (never called here); the handle is created in the process
 * that sends (the mailer) on its first mail_send() and freed by
 * mail_process_end(). Single-threaded use only. A send blocks for up to
 * timeout_ms: call it with no database transaction open (DESIGN.md).
 * Logs carry the outcome, the SMTP status, the latency and curl's code: never
 * an address, a subject, a body, a token, the URL or a password.
 */
#ifndef ORGD_MAIL_H
#define ORGD_MAIL_H

#include <stdbool.h>
#include <stdint.h>

#include "orgd/error.h"
#include "orgd/mem.h"

/* The longest line of a built message, in octets without its CRLF (RFC 5322 2.1.1). */
#define MAIL_LINE_MAX 998
/* The longest From setting accepted (a longer one makes every mail_build() ERR_INVALID). */
#define MAIL_FROM_MAX 256
/* ORGD_MAIL_FROM's default, and ORGD_SMTP_TIMEOUT_MS's. */
#define MAIL_FROM_DEFAULT       "orgd <no-reply@localhost>"
#define MAIL_TIMEOUT_DEFAULT_MS 10000L

struct mail_settings {
	/* ORGD_SMTP_URL: smtp://host:port[/ehlo-name] or smtps://host:port (TLS from the
	   start). smtp:// upgrades with STARTTLS whenever the server offers it (curl's
	   CURLUSESSL_TRY), and requires it (CURLUSESSL_ALL) when a password is set, so a
	   password never crosses the wire in clear. TLS always verifies the peer and its
	   name. NULL or empty: mail_send() fails (ERR_INTERNAL, "not configured"). */
	const char *smtp_url;
	const char *user, *password; /* ORGD_SMTP_USER, ORGD_SMTP_PASSWORD, may be NULL */
	const char *from;            /* ORGD_MAIL_FROM, NULL or "": MAIL_FROM_DEFAULT */
	long timeout_ms;             /* ORGD_SMTP_TIMEOUT_MS, <= 0: MAIL_TIMEOUT_DEFAULT_MS;
					bounds a whole delivery, connection included */
};

/*
 * Install the settings: once, before the mailer forks. The struct is copied,
 * the strings are not: they must live as long as the process. Defaults as
 * above; a URL that is not smtp:// or smtps:// gets a warning in the log.
 * Before any call, mail_settings() holds the defaults and no URL.
 */
void mail_configure(const struct mail_settings *s);

/* The settings in force (the defaults applied). */
const struct mail_settings *mail_settings(void);

/* One message: plain text, UTF-8. */
struct mail_msg {
	const char *to;         /* the recipient's address (already validated by orgd) */
	const char *subject;    /* may hold any UTF-8, and CR/LF from user input (a name) */
	const char *body;       /* UTF-8 text, \n line ends; its links on lines of their own */
	const char *message_id; /* "<...@...>" as stored with the outbox row: stable across
				   retries */
	int64_t date;           /* unix seconds, for the Date header */
};

/*
 * Build the RFC 5322 message of m into out (emptied first), CRLF line ends,
 * every line at most MAIL_LINE_MAX octets, these headers exactly once each and
 * no other:
 *
 *   Date: Thu, 03 Dec 2026 10:00:00 +0000   (m->date, UTC)
 *   From: the settings' from ("Name <addr>" or "addr"; a name that is not plain
 *         ASCII becomes RFC 2047 encoded-words, one with specials is quoted)
 *   To: m->to
 *   Subject: m->subject, folded at spaces when it is printable ASCII without "=?"
 *         and every folded line fits 78 octets, else RFC 2047 B encoded-words
 *         (utf-8, whole characters in each, one per folded line)
 *   Message-ID: m->message_id
 *   Auto-Submitted: auto-generated           (RFC 3834: no auto-replies)
 *   MIME-Version: 1.0
 *   Content-Type: text/plain; charset=utf-8
 *   Content-Transfer-Encoding: 8bit, or quoted-printable when a body line is
 *         longer than MAIL_LINE_MAX octets
 *
 * The body's \n, \r\n and lone \r all become CRLF; a last line without one
 * gets it. No input can add a header or a line to the header block:
 *   - to: refused (ERR_INVALID) unless it is a plain address: 1..254 bytes, one
 *     '@', a local part of 1..64 bytes of atext, '.' and UTF-8, a domain of
 *     letters, digits, '-', inner dots and UTF-8 (what orgd's sign-up accepts,
 *     and a dotless domain such as localhost); so CR, LF, any other control,
 *     a space, a comma or "<>" in it is ERR_INVALID.
 *   - from (the setting): refused the same way (ERR_INVALID) when it holds a
 *     control (CR, LF, ...), is not valid UTF-8, is longer than MAIL_FROM_MAX
 *     or its address is not plain.
 *   - subject: CR LF, and any other control character (CR, LF, TAB, DEL ...),
 *     each become one space: a name "Hi\r\nBcc: x@y" gives the subject
 *     "Hi Bcc: x@y". Invalid UTF-8 is ERR_INVALID.
 *   - message_id: refused (ERR_INVALID) unless "<" 1..248 printable ASCII
 *     bytes with one inner '@' and no space, '<' or '>' ">".
 *   - body: invalid UTF-8 is ERR_INVALID; a date before 1970 or after 9999 too.
 * Returns ERR_OK, ERR_INVALID (out emptied) or ERR_INTERNAL (out of memory).
 */
err_t mail_build(const struct mail_msg *m, struct buf *out);

/*
 * The address inside a From value, for MAIL FROM: "orgd <no-reply@localhost>"
 * -> "no-reply@localhost", "a@b.c" -> "a@b.c"; from NULL means
 * MAIL_FROM_DEFAULT. A copy in a, or NULL if from is not one mail_build()
 * accepts (see above), or out of memory.
 */
const char *mail_from_address(const char *from, struct arena *a);

/* Is s a plain address, as mail_build() wants for `to` (see above)? false for NULL. */
bool mail_address_ok(const char *s);

/*
 * Deliver msg (a message mail_build() made) to the address `to` over SMTP:
 * MAIL FROM the settings' from address, one RCPT TO, DATA (curl dot-stuffs).
 * Returns
 *   ERR_OK           delivered: the server said 250 to the data;
 *   ERR_UNAVAILABLE  a failure worth retrying: connection refused, DNS, timeout,
 *                    TLS, a dropped connection, any 4xx, and the failures of our
 *                    own configuration that a fix of it cures (authentication
 *                    refused, 530/534/535/538, a greeting other than 220);
 *   ERR_INVALID      a permanent refusal: a 5xx to MAIL, RCPT or the data, or a
 *                    `to` that is not a plain address (nothing sent);
 *   ERR_INTERNAL     our own failure: no URL configured, a from setting that
 *                    mail_build() refuses, no message, out of memory, a
 *                    malformed URL or protocol, a curl that cannot be set up.
 * *why (if why is not NULL) gets a short static reason for the log: never the
 * body, an address or a password. One reused curl handle per process (created
 * on first use, its connection kept for the next message); no transaction may
 * be open around it (it blocks up to timeout_ms). A delivery cut off after the
 * data was sent may have arrived: retry it with the same Message-ID.
 */
err_t mail_send(const char *to, const struct buf *msg, const char **why);

/* Free this process's curl handle (and its kept connection); NULL-safe to repeat. */
void mail_process_end(void);

#endif
