/*
 * fuzz_mail: libFuzzer target for mail_build(). The input is split at NUL
 * bytes into subject, body, to and from (the sender setting); a missing part
 * takes a plain default. Whatever the bytes, a built message must have CRLF
 * line ends only, no line over MAIL_LINE_MAX octets, a header block of our
 * headers exactly once each in which every other line is a continuation (so
 * nothing from the input starts a header line), the To that was asked, a
 * Subject that decodes back to the input with its controls turned into spaces,
 * a From whose address is mail_from_address()'s, and a body that decodes back
 * to the input with CRLF line ends. A refusal (ERR_INVALID) must have a cause
 * among those mail.h lists.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orgd/mail.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = {"Date",         "From",         "To",
				    "Subject",      "Message-ID",   "Auto-Submitted",
				    "MIME-Version", "Content-Type", "Content-Transfer-Encoding"};
#define NAMES (sizeof names / sizeof names[0])

static struct buf msg, want, got;
static struct arena arena;

static void fail(const char *why)
{
	fprintf(stderr, "fuzz_mail: %s\n", why);
	abort();
}

/* Strict UTF-8 (the rules of message.c, written again). */
static bool utf8_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		unsigned c = *p, n, cp;
		if (c < 0x80) {
			p++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 2, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			n = 3, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 4, cp = c & 0x07;
		else
			return false;
		for (unsigned i = 1; i < n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i] & 0x3f);
		}
		if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		p += n;
	}
	return true;
}

static int b64val(char c)
{
	static const char tbl[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = c ? strchr(tbl, c) : NULL;
	return p ? (int)(p - tbl) : -1;
}

/* Unfold and RFC 2047-decode the value v[0..n) (B words only: what we write) into out. */
static void decode_value(const char *v, size_t n, struct buf *out)
{
	buf_clear(out);
	struct buf u = {0};
	for (size_t i = 0; i < n; i++) {
		if (v[i] == '\r') { /* "\r\n " */
			i++;
			continue;
		}
		buf_putc(&u, v[i]);
	}
	buf_putc(&u, '\0');
	if (u.oom)
		fail("out of memory");
	const char *p = u.p;
	bool after_word = false;
	while (*p) {
		const char *ws = p;
		while (*p == ' ')
			p++;
		if (strncmp(p, "=?utf-8?B?", 10) == 0) {
			const char *e = strstr(p + 10, "?=");
			if (!e)
				fail("an unterminated encoded-word");
			if (!after_word)
				buf_put(out, ws, (size_t)(p - ws));
			unsigned acc = 0;
			int bits = 0;
			for (const char *q = p + 10; q < e && *q != '='; q++) {
				int d = b64val(*q);
				if (d < 0)
					fail("bad base64 in an encoded-word");
				acc = acc << 6 | (unsigned)d;
				bits += 6;
				if (bits >= 8) {
					bits -= 8;
					buf_putc(out, (char)(acc >> bits & 0xff));
				}
			}
			p = e + 2;
			after_word = true;
			continue;
		}
		buf_put(out, ws, (size_t)(p - ws));
		if (*p)
			buf_putc(out, *p++);
		after_word = false;
	}
	buf_free(&u);
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static void check_message(const char *subject, const char *body, const char *to, const char *from)
{
	const char *p = msg.p;
	size_t n = msg.len, col = 0;
	/* CRLF only, lines within MAIL_LINE_MAX */
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\r') {
			if (i + 1 >= n || p[i + 1] != '\n')
				fail("a bare CR");
			i++;
			col = 0;
		} else if (p[i] == '\n') {
			fail("a bare LF");
		} else if (++col > MAIL_LINE_MAX) {
			fail("a line over 998 octets");
		}
	}
	if (n < 2 || p[n - 2] != '\r' || p[n - 1] != '\n')
		fail("no CRLF at the end");

	/* the header block: our names once each, every other line a continuation */
	int count[NAMES] = {0};
	const char *val[NAMES] = {0};
	size_t vlen[NAMES] = {0};
	size_t i = 0, cur = NAMES;
	for (;;) {
		if (i + 2 > n)
			fail("no end of the header block");
		const char *e = memchr(p + i, '\r', n - i);
		size_t len = (size_t)(e - (p + i));
		if (len == 0) {
			i += 2;
			break;
		}
		if (p[i] == ' ' || p[i] == '\t') {
			if (cur == NAMES)
				fail("a continuation first");
			for (size_t k = i; k < i + len; k++)
				if (p[k] != ' ' && p[k] != '\t')
					goto content;
			fail("a line of white space only in the header block");
		content:
			vlen[cur] = (size_t)(e - val[cur]);
		} else {
			cur = NAMES;
			for (size_t k = 0; k < NAMES; k++) {
				size_t nl = strlen(names[k]);
				if (len > nl && memcmp(p + i, names[k], nl) == 0 &&
				    p[i + nl] == ':')
					cur = k;
			}
			if (cur == NAMES)
				fail("a header line that is not ours: the input started a line");
			count[cur]++;
			val[cur] = p + i + strlen(names[cur]) + 1;
			if (*val[cur] == ' ')
				val[cur]++;
			vlen[cur] = (size_t)(e - val[cur]);
		}
		i += len + 2;
	}
	for (size_t k = 0; k < NAMES; k++)
		if (count[k] != 1)
			fail("a header not exactly once");

	/* To: as asked; From: the configured address */
	if (vlen[2] != strlen(to) || memcmp(val[2], to, vlen[2]) != 0)
		fail("To is not the recipient");
	const char *addr = mail_from_address(from, &arena);
	if (!addr)
		fail("a built message whose sender mail_from_address() refuses");
	size_t al = strlen(addr);
	if (vlen[1] < al ||
	    memcmp(val[1] + vlen[1] - al - (val[1][vlen[1] - 1] == '>'), addr, al) != 0)
		fail("From does not end with the sender's address");

	/* Subject: decodes to the input, each control a space and CR LF one */
	buf_clear(&want);
	for (size_t k = 0; subject[k]; k++) {
		unsigned char c = (unsigned char)subject[k];
		if (c == '\r' && subject[k + 1] == '\n')
			k++;
		buf_putc(&want, c < 0x20 || c == 0x7f ? ' ' : (char)c);
	}
	decode_value(val[3], vlen[3], &got);
	if (got.len != want.len || (want.len && memcmp(got.p, want.p, want.len) != 0))
		fail("Subject does not decode to the input");

	/* the body: decodes to the input with CRLF ends */
	buf_clear(&want);
	for (const char *s = body; *s;) {
		size_t l = strcspn(s, "\r\n");
		buf_put(&want, s, l);
		buf_puts(&want, "\r\n");
		s += l;
		if (s[0] == '\r' && s[1] == '\n')
			s += 2;
		else if (*s)
			s++;
	}
	bool qp = vlen[8] == 16 && memcmp(val[8], "quoted-printable", 16) == 0;
	if (!qp && !(vlen[8] == 4 && memcmp(val[8], "8bit", 4) == 0))
		fail("an unknown transfer encoding");
	buf_clear(&got);
	for (size_t k = i; k < n; k++) {
		if (qp && p[k] == '=' && k + 2 < n && p[k + 1] == '\r' && p[k + 2] == '\n') {
			k += 2;
		} else if (qp && p[k] == '=') {
			int h = k + 2 < n ? hexval(p[k + 1]) : -1,
			    l = h >= 0 ? hexval(p[k + 2]) : -1;
			if (l < 0)
				fail("a bad quoted-printable escape");
			buf_putc(&got, (char)(h << 4 | l));
			k += 2;
		} else {
			if (qp && (p[k] == ' ' || p[k] == '\t') && k + 1 < n && p[k + 1] == '\r')
				fail("white space at the end of a quoted-printable line");
			buf_putc(&got, p[k]);
		}
	}
	if (got.len != want.len || (want.len && memcmp(got.p, want.p, want.len) != 0))
		fail("the body does not decode to the input");
	if (want.oom || got.oom)
		fail("out of memory");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* subject \0 body \0 to \0 from */
	char *in = malloc(size + 1);
	if (!in)
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';
	const char *part[4] = {"Verify your email", "Hello\n", "ada@example.com", NULL};
	char *s = in;
	for (int k = 0; k < 4 && s <= in + size; k++) {
		part[k] = s;
		s += strlen(s) + 1;
	}
	const char *subject = part[0], *body = part[1], *to = part[2], *from = part[3];

	/* a sender mail_configure() would warn about (a log line per run) is only checked
	   here; test_mail covers mail_build()'s refusal of it */
	if (from && !mail_from_address(from, &arena)) {
		arena_reset(&arena);
		free(in);
		return 0;
	}
	struct mail_settings st = {.smtp_url = "smtp://127.0.0.1:1", .from = from};
	mail_configure(&st);
	const char *eff_from = mail_settings()->from;
	struct mail_msg m = {.to = to,
			     .subject = subject,
			     .body = body,
			     .message_id = "<out_fuzz@orgd.test>",
			     .date = 1700000000};
	err_t e = mail_build(&m, &msg);
	if (e == ERR_OK) {
		check_message(subject, body, to, eff_from);
	} else if (e == ERR_INVALID) {
		if (msg.len != 0)
			fail("a refusal left a message");
		if (mail_address_ok(to) && utf8_ok(subject) && utf8_ok(body) &&
		    mail_from_address(eff_from, &arena))
			fail("a refusal without a cause");
	} else if (e != ERR_INTERNAL) {
		fail("an answer mail.h does not list");
	}
	arena_reset(&arena);
	free(in);
	return 0;
}
