/*
 * test_mail: the messages mail_build() makes (SECURITY.md: a name, an
 * organization name or an email with CR or LF cannot add a header), their
 * encodings read back as a mail reader would, mail_from_address(), and the
 * failures mail_send() gives without a server.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "orgd/mail.h"
#include "t.h"

#define LINK "http://127.0.0.1:18080/verify-email?token=Zm9vYmFyYmF6cXV4LV9fLQ"

static struct buf out;

static err_t build(const char *to, const char *subject, const char *body)
{
	struct mail_msg m = {.to = to,
			     .subject = subject,
			     .body = body,
			     .message_id = "<out_0123456789@orgd.test>",
			     .date = 1700000000};
	return mail_build(&m, &out);
}

/* The message as a NUL-terminated string (out.p is not terminated). */
static const char *text(void)
{
	static struct buf t;
	buf_clear(&t);
	buf_put(&t, out.p, out.len);
	buf_putc(&t, '\0');
	return t.p;
}

static size_t header_len(void)
{
	const char *s = text(), *e = strstr(s, "\r\n\r\n");
	return e ? (size_t)(e - s) + 2 : 0;
}

/* How many header lines start with "name:" (any case). */
static int header_count(const char *name)
{
	const char *s = text();
	size_t hl = header_len(), n = strlen(name), count = 0;
	for (size_t i = 0; i < hl; i = (size_t)(strstr(s + i, "\r\n") - s) + 2)
		if (strncasecmp(s + i, name, n) == 0 && s[i + n] == ':')
			count++;
	return (int)count;
}

/* The unfolded value of header name (without the one space after the colon). */
static const char *header(const char *name)
{
	static char v[8192];
	const char *s = text();
	size_t hl = header_len(), n = strlen(name), k = 0;
	v[0] = '\0';
	for (size_t i = 0; i < hl; i = (size_t)(strstr(s + i, "\r\n") - s) + 2) {
		if (strncasecmp(s + i, name, n) != 0 || s[i + n] != ':')
			continue;
		const char *p = s + i + n + 1;
		if (*p == ' ')
			p++;
		for (; p < s + hl && k + 1 < sizeof v; p++) {
			if (p[0] == '\r' && p[1] == '\n') {
				if (p[2] != ' ' && p[2] != '\t')
					break;
				p++; /* unfold: drop the CRLF, keep the space */
				continue;
			}
			v[k++] = *p;
		}
		break;
	}
	v[k] = '\0';
	return v;
}

static const char *body(void)
{
	return text() + header_len() + 2;
}

static int b64val(char c)
{
	const char *tbl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = strchr(tbl, c);
	return c && p ? (int)(p - tbl) : -1;
}

/* RFC 2047 decoding of an unfolded value: utf-8 B and Q words, the white space between
   two words dropped. NULL if a word is malformed. */
static const char *decode_words(const char *in)
{
	static char o[8192];
	size_t k = 0;
	bool after_word = false;
	const char *p = in;
	while (*p && k + 8 < sizeof o) {
		const char *ws = p;
		while (*p == ' ')
			p++;
		if (strncasecmp(p, "=?utf-8?", 8) == 0 &&
		    (p[8] == 'B' || p[8] == 'b' || p[8] == 'Q' || p[8] == 'q') && p[9] == '?') {
			if (!after_word)
				for (const char *w = ws; w < p; w++)
					o[k++] = *w;
			bool b = p[8] == 'B' || p[8] == 'b';
			const char *e = strstr(p + 10, "?=");
			if (!e)
				return NULL;
			if (b) {
				unsigned v = 0;
				int bits = 0;
				for (const char *q = p + 10; q < e && *q != '='; q++) {
					int d = b64val(*q);
					if (d < 0)
						return NULL;
					v = v << 6 | (unsigned)d;
					bits += 6;
					if (bits >= 8) {
						bits -= 8;
						o[k++] = (char)(v >> bits & 0xff);
					}
				}
			} else {
				for (const char *q = p + 10; q < e; q++) {
					if (*q == '_') {
						o[k++] = ' ';
					} else if (*q == '=' && isxdigit((unsigned char)q[1]) &&
						   isxdigit((unsigned char)q[2])) {
						char h[3] = {q[1], q[2], 0};
						o[k++] = (char)strtol(h, NULL, 16);
						q += 2;
					} else {
						o[k++] = *q;
					}
				}
			}
			p = e + 2;
			after_word = true;
			continue;
		}
		for (const char *w = ws; w < p; w++)
			o[k++] = *w;
		if (*p)
			o[k++] = *p++;
		after_word = false;
	}
	o[k] = '\0';
	return o;
}

/* Quoted-printable decoding (soft breaks removed). */
static const char *decode_qp(const char *in)
{
	static char o[65536];
	size_t k = 0;
	for (const char *p = in; *p && k + 1 < sizeof o; p++) {
		if (p[0] == '=' && p[1] == '\r' && p[2] == '\n') {
			p += 2;
		} else if (p[0] == '=' && isxdigit((unsigned char)p[1]) &&
			   isxdigit((unsigned char)p[2])) {
			char h[3] = {p[1], p[2], 0};
			o[k++] = (char)strtol(h, NULL, 16);
			p += 2;
		} else {
			o[k++] = *p;
		}
	}
	o[k] = '\0';
	return o;
}

/* Every line ends in CRLF, no bare CR or LF anywhere, no line over max octets. */
static bool lines_ok(size_t max)
{
	size_t col = 0;
	for (size_t i = 0; i < out.len; i++) {
		char c = out.p[i];
		if (c == '\r') {
			if (i + 1 >= out.len || out.p[i + 1] != '\n')
				return false;
			i++;
			col = 0;
		} else if (c == '\n') {
			return false;
		} else if (++col > max) {
			return false;
		}
	}
	return out.len >= 2 && out.p[out.len - 2] == '\r' && out.p[out.len - 1] == '\n';
}

/* The longest line of the header block. */
static size_t header_width(void)
{
	const char *s = text();
	size_t hl = header_len(), w = 0;
	for (size_t i = 0; i < hl;) {
		size_t e = (size_t)(strstr(s + i, "\r\n") - s);
		if (e - i > w)
			w = e - i;
		i = e + 2;
	}
	return w;
}

static const char *const once[] = {
	"Date",       "From",         "To",           "Subject",
	"Message-ID", "MIME-Version", "Content-Type", "Content-Transfer-Encoding"};

static bool headers_once(void)
{
	for (size_t i = 0; i < sizeof once / sizeof once[0]; i++)
		if (header_count(once[i]) != 1)
			return false;
	return true;
}

/* Every header line is a continuation or one of ours: nothing else starts a line. */
static bool only_our_headers(void)
{
	const char *s = text();
	size_t hl = header_len();
	for (size_t i = 0; i < hl; i = (size_t)(strstr(s + i, "\r\n") - s) + 2) {
		if (s[i] == ' ')
			continue;
		bool ours = strncmp(s + i, "Auto-Submitted: auto-generated\r\n", 32) == 0;
		for (size_t k = 0; !ours && k < sizeof once / sizeof once[0]; k++) {
			size_t n = strlen(once[k]);
			ours = strncmp(s + i, once[k], n) == 0 && s[i + n] == ':';
		}
		if (!ours)
			return false;
	}
	return true;
}

TEST(builds_the_headers_once)
{
	CHECK(build("ada@example.com", "Verify your email", "Hello\n\n" LINK "\n") == ERR_OK);
	CHECK(headers_once());
	CHECK(only_our_headers());
	CHECK(header_count("Auto-Submitted") == 1);
	CHECK_EQ_STR(header("Date"), "Tue, 14 Nov 2023 22:13:20 +0000");
	CHECK_EQ_STR(header("From"), "orgd <no-reply@localhost>");
	CHECK_EQ_STR(header("To"), "ada@example.com");
	CHECK_EQ_STR(header("Subject"), "Verify your email");
	CHECK_EQ_STR(header("Message-ID"), "<out_0123456789@orgd.test>");
	CHECK_EQ_STR(header("MIME-Version"), "1.0");
	CHECK_EQ_STR(header("Content-Type"), "text/plain; charset=utf-8");
	CHECK_EQ_STR(header("Content-Transfer-Encoding"), "8bit");
	CHECK(strncmp(text(), "Date: ", 6) == 0);
	CHECK(lines_ok(MAIL_LINE_MAX));
	CHECK_EQ_STR(body(), "Hello\r\n\r\n" LINK "\r\n");
	/* a date's day and month names do not follow the locale; the epoch and 9999 */
	struct mail_msg m = {.to = "a@b.c", .subject = "s", .body = "b", .message_id = "<a@b>"};
	CHECK(mail_build(&m, &out) == ERR_OK &&
	      strcmp(header("Date"), "Thu, 01 Jan 1970 00:00:00 +0000") == 0);
	m.date = INT64_C(253402300799);
	CHECK(mail_build(&m, &out) == ERR_OK &&
	      strcmp(header("Date"), "Fri, 31 Dec 9999 23:59:59 +0000") == 0);
	m.date = -1;
	CHECK(mail_build(&m, &out) == ERR_INVALID && out.len == 0);
	m.date = INT64_C(253402300800);
	CHECK(mail_build(&m, &out) == ERR_INVALID);
}

TEST(a_subject_cannot_add_a_header)
{
	CHECK(build("ada@example.com", "Hi\r\nBcc: x@y", "b\n") == ERR_OK);
	CHECK(header_count("Subject") == 1);
	CHECK(header_count("Bcc") == 0);
	CHECK(headers_once() && only_our_headers() && lines_ok(MAIL_LINE_MAX));
	CHECK_EQ_STR(header("Subject"), "Hi Bcc: x@y");
	/* lone CR, lone LF, LF CR, other controls: each one space */
	CHECK(build("ada@example.com",
		    "a\rb\nc\n\rd\te\x01"
		    "f\x7fg\r\n\r\nTo: z@z.z",
		    "b") == ERR_OK);
	CHECK_EQ_STR(decode_words(header("Subject")), "a b c  d e f g  To: z@z.z");
	CHECK(header_count("To") == 1 && strcmp(header("To"), "ada@example.com") == 0);
	CHECK(headers_once() && only_our_headers() && lines_ok(MAIL_LINE_MAX));
	/* a body line that looks like a header stays in the body */
	CHECK(build("ada@example.com", "s", "Bcc: x@y\n") == ERR_OK);
	CHECK(header_count("Bcc") == 0 && strcmp(body(), "Bcc: x@y\r\n") == 0);
	/* a subject that starts with a blank line */
	CHECK(build("ada@example.com", "\r\n\r\nBcc: x@y", "b") == ERR_OK);
	CHECK(header_count("Bcc") == 0 && headers_once() && only_our_headers());
	/* invalid UTF-8 */
	CHECK(build("ada@example.com", "bad \xc3(", "b") == ERR_INVALID && out.len == 0);
	CHECK(build("ada@example.com", "overlong \xc0\xaf", "b") == ERR_INVALID);
	CHECK(build("ada@example.com", "surrogate \xed\xa0\x80", "b") == ERR_INVALID);
}

TEST(a_recipient_with_cr_lf_is_refused)
{
	static const char *const bad[] = {
		"ada@example.com\r\nBcc: x@y",
		"ada@example.com\n",
		"ada@example.com\r",
		"\r\nada@example.com",
		"ada@exa\nmple.com",
		"ada@example.com\t",
		" ada@example.com",
		"ada @example.com",
		"<ada@example.com>",
		"Ada <ada@example.com>",
		"ada@example.com, eve@example.com",
		"ada@example.com;eve@example.com",
		"",
		"ada",
		"@example.com",
		"ada@",
		"ada@@example.com",
		"a@b@example.com",
		"ada@.example.com",
		"ada@example.com.",
		"ada@example..com",
		"ad\"a@example.com",
		"ada@exam_ple.com",
		"ad\x01"
		"a@example.com",
		"ad\x7f"
		"a@example.com",
		"\xc3(@example.com",
		"ada@ex(ample).com",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.com",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK(build(bad[i], "s", "b") == ERR_INVALID);
		CHECK(!mail_address_ok(bad[i]));
	}
	static const char *const good[] = {
		"ada@example.com",
		"ada+tag@example.com",
		"o'brien@example.ie",
		"first.last@sub.example.co.uk",
		"a@localhost",
		"!#$%&'*+-/=?^_`{|}~@x.y",
		"j\xc3\xb6rg@b\xc3\xbc"
		"cher.de",
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		CHECK(build(good[i], "s", "b") == ERR_OK);
		CHECK(strcmp(header("To"), good[i]) == 0 && headers_once() && only_our_headers());
	}
	CHECK(!mail_address_ok(NULL));
	struct mail_msg m = {.to = NULL, .subject = "s", .body = "b", .message_id = "<a@b>"};
	CHECK(mail_build(&m, &out) == ERR_INVALID);
}

TEST(a_non_ascii_name_round_trips)
{
	/* "Jörg invited you to Ärger GmbH" */
	const char *s = "J\xc3\xb6rg invited you to \xc3\x84rger GmbH";
	CHECK(build("ada@example.com", s, "b\n") == ERR_OK);
	CHECK(strncmp(header("Subject"), "=?utf-8?B?", 10) == 0);
	CHECK(decode_words(header("Subject")) && strcmp(decode_words(header("Subject")), s) == 0);
	CHECK(headers_once() && only_our_headers() && lines_ok(76));
	/* long, with 2-, 3- and 4-byte characters: folded words, no character split */
	char longs[1200] = "";
	for (int i = 0; i < 40; i++)
		strcat(longs, "\xc3\xb6\xe2\x82\xac\xf0\x9f\x98\x80 x");
	CHECK(build("ada@example.com", longs, "b\n") == ERR_OK);
	CHECK(strcmp(decode_words(header("Subject")), longs) == 0);
	CHECK(header_width() <= 76 && headers_once() && only_our_headers() && lines_ok(76));
	/* each word alone decodes to whole characters */
	const char *t = text(), *w = t;
	int words = 0;
	while ((w = strstr(w, "=?utf-8?B?"))) {
		const char *e = strstr(w, "?=");
		char one[128];
		snprintf(one, sizeof one, "%.*s", (int)(e + 2 - w), w);
		const char *d = decode_words(one);
		size_t n = strlen(d);
		/* the word ends on a character boundary: its last lead byte is complete */
		size_t j = n;
		while (j > 0 && ((unsigned char)d[j - 1] & 0xc0) == 0x80)
			j--;
		unsigned char lead = j ? (unsigned char)d[j - 1] : 0;
		size_t want = lead < 0x80 ? 1 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4;
		CHECK(j > 0 && n - (j - 1) == want);
		words++;
		w = e;
	}
	CHECK(words > 5);
	/* "=?" in an ASCII subject is encoded, so no reader decodes what a user wrote */
	CHECK(build("ada@example.com", "=?utf-8?B?QmNjOiB4QHk=?=", "b") == ERR_OK);
	CHECK(strcmp(decode_words(header("Subject")), "=?utf-8?B?QmNjOiB4QHk=?=") == 0);
}

TEST(long_lines_are_handled)
{
	/* an ASCII subject folds at spaces, within 78, and unfolds to itself */
	char s[700] = "";
	for (int i = 0; i < 60; i++)
		strcat(s, "word ");
	strcat(s, "end");
	CHECK(build("ada@example.com", s, "b") == ERR_OK);
	CHECK(strcmp(header("Subject"), s) == 0 && header_width() <= 78);
	CHECK(strstr(text(), "Subject: word word") && !strstr(header("Subject"), "=?"));
	/* one 300-byte word cannot fold at a space: encoded-words */
	char w[400];
	memset(w, 'x', 300);
	w[300] = '\0';
	CHECK(build("ada@example.com", w, "b") == ERR_OK);
	CHECK(strcmp(decode_words(header("Subject")), w) == 0 && header_width() <= 76);
	/* a body line over 998 octets: quoted-printable, decoding to the same text */
	static char b[4000], want[4100];
	strcpy(b, "Hi\n\n" LINK "\n");
	size_t n = strlen(b);
	for (int i = 0; i < 2500; i++)
		b[n++] = "ab=\xc3\xb6 ."[i % 7];
	b[n++] = ' ';
	b[n++] = '\n';
	b[n++] = '.';
	b[n] = '\0';
	CHECK(build("ada@example.com", "s", b) == ERR_OK);
	CHECK_EQ_STR(header("Content-Transfer-Encoding"), "quoted-printable");
	CHECK(lines_ok(76) && headers_once());
	snprintf(want, sizeof want, "%s", b);
	/* the same text with CRLF ends */
	static char crlf[8300];
	size_t k = 0;
	for (const char *p = want; *p; p++) {
		if (*p == '\n')
			crlf[k++] = '\r';
		crlf[k++] = *p;
	}
	crlf[k++] = '\r';
	crlf[k++] = '\n';
	crlf[k] = '\0';
	CHECK_EQ_STR(decode_qp(body()), crlf);
	/* a line of exactly 998 octets stays 8bit */
	memset(b, 'y', MAIL_LINE_MAX);
	b[MAIL_LINE_MAX] = '\0';
	CHECK(build("ada@example.com", "s", b) == ERR_OK);
	CHECK_EQ_STR(header("Content-Transfer-Encoding"), "8bit");
	CHECK(lines_ok(MAIL_LINE_MAX) && strlen(body()) == MAIL_LINE_MAX + 2);
	b[MAIL_LINE_MAX] = 'y';
	b[MAIL_LINE_MAX + 1] = '\0';
	CHECK(build("ada@example.com", "s", b) == ERR_OK);
	CHECK_EQ_STR(header("Content-Transfer-Encoding"), "quoted-printable");
	CHECK(lines_ok(76));
}

TEST(crlf_everywhere)
{
	CHECK(build("ada@example.com", "s", "one\ntwo\r\nthree\rfour\n\n" LINK "\nlast") == ERR_OK);
	CHECK(lines_ok(MAIL_LINE_MAX));
	CHECK_EQ_STR(body(), "one\r\ntwo\r\nthree\r\nfour\r\n\r\n" LINK "\r\nlast\r\n");
	/* the link is a line of its own, intact */
	CHECK(strstr(body(), "\r\n" LINK "\r\n") != NULL);
	CHECK(build("ada@example.com", "s", "") == ERR_OK && strcmp(body(), "") == 0);
	CHECK(build("ada@example.com", "", "b") == ERR_OK && header_count("Subject") == 1 &&
	      strcmp(header("Subject"), "") == 0 && lines_ok(MAIL_LINE_MAX));
	CHECK(build("ada@example.com", "s", "bad \xff") == ERR_INVALID);
}

TEST(the_sender_cannot_add_a_header)
{
	struct mail_settings st = *mail_settings();
	struct mail_settings s = st;
	s.from = "orgd <a@b.c>\r\nBcc: x@y";
	mail_configure(&s);
	CHECK(build("ada@example.com", "s", "b") == ERR_INVALID);
	s.from = "orgd <a@b.c\n>";
	mail_configure(&s);
	CHECK(build("ada@example.com", "s", "b") == ERR_INVALID);
	s.from = "\xc3\x96rgd Team <team@orgd.test>"; /* "Örgd Team" */
	mail_configure(&s);
	CHECK(build("ada@example.com", "s", "b") == ERR_OK);
	CHECK(strncmp(header("From"), "=?utf-8?B?", 10) == 0);
	CHECK_EQ_STR(decode_words(header("From")), "\xc3\x96rgd Team <team@orgd.test>");
	CHECK(headers_once() && only_our_headers() && lines_ok(MAIL_LINE_MAX));
	s.from = "Support, Inc. <help@orgd.test>";
	mail_configure(&s);
	CHECK(build("ada@example.com", "s", "b") == ERR_OK);
	CHECK_EQ_STR(header("From"), "\"Support, Inc.\" <help@orgd.test>");
	s.from = "\"Say \\\"hi\\\"\" <help@orgd.test>";
	mail_configure(&s);
	CHECK(build("ada@example.com", "s", "b") == ERR_OK);
	CHECK_EQ_STR(header("From"), "\"Say \\\"hi\\\"\" <help@orgd.test>");
	s.from = "help@orgd.test";
	mail_configure(&s);
	CHECK(build("ada@example.com", "s", "b") == ERR_OK);
	CHECK_EQ_STR(header("From"), "help@orgd.test");
	s.from = NULL; /* the default */
	mail_configure(&s);
	CHECK(build("ada@example.com", "s", "b") == ERR_OK);
	CHECK_EQ_STR(header("From"), MAIL_FROM_DEFAULT);
	mail_configure(&st);
}

TEST(refuses_a_bad_message_id)
{
	static const char *const bad[] = {
		"",       "x@y",          "<x@y",    "x@y>",    "<xy>",
		"<@y>",   "<x@>",         "<x@y@z>", "<x y@z>", "<x@y>\r\nBcc: a@b",
		"<x<@y>", "<x\xc3\xb6@y>"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct mail_msg m = {
			.to = "a@b.c", .subject = "s", .body = "b", .message_id = bad[i]};
		CHECK(mail_build(&m, &out) == ERR_INVALID);
	}
	struct mail_msg m = {.to = "a@b.c", .subject = "s", .body = "b", .message_id = NULL};
	CHECK(mail_build(&m, &out) == ERR_INVALID);
}

TEST(from_address)
{
	struct arena a = {0};
	const char *r;
	CHECK((r = mail_from_address("orgd <no-reply@localhost>", &a)) &&
	      strcmp(r, "no-reply@localhost") == 0);
	CHECK((r = mail_from_address(NULL, &a)) && strcmp(r, "no-reply@localhost") == 0);
	CHECK((r = mail_from_address("a@b.c", &a)) && strcmp(r, "a@b.c") == 0);
	CHECK((r = mail_from_address("  <a@b.c>  ", &a)) && strcmp(r, "a@b.c") == 0);
	CHECK((r = mail_from_address("\"x <y>\" <a@b.c>", &a)) && strcmp(r, "a@b.c") == 0);
	CHECK((r = mail_from_address("\xc3\x96rgd <a@b.c>", &a)) && strcmp(r, "a@b.c") == 0);
	CHECK(!mail_from_address("orgd <a@b.c>\r\nBcc: x@y", &a));
	CHECK(!mail_from_address("orgd <a@b.c> trailing", &a));
	CHECK(!mail_from_address("orgd <a b@c.d>", &a));
	CHECK(!mail_from_address("orgd <>", &a));
	CHECK(!mail_from_address("orgd", &a));
	CHECK(!mail_from_address("", &a));
	CHECK(!mail_from_address("orgd <a@b.c", &a));
	CHECK(!mail_from_address("orgd\t<a@b.c>", &a));
	arena_free(&a);
}

TEST(send_fails_without_a_server)
{
	struct mail_settings st = *mail_settings();
	const char *why = NULL;
	CHECK(build("ada@example.com", "s", "b") == ERR_OK);
	struct mail_settings s = st;
	s.smtp_url = NULL;
	mail_configure(&s);
	CHECK(mail_send("ada@example.com", &out, &why) == ERR_INTERNAL && why);

	/* a port bound but not listening: the connection is refused */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof sa;
	CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
	      getsockname(fd, (struct sockaddr *)&sa, &sl) == 0);
	char url[64];
	snprintf(url, sizeof url, "smtp://127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
	s.smtp_url = url;
	s.timeout_ms = 3000;
	mail_configure(&s);
	why = NULL;
	CHECK(mail_send("ada@example.com", &out, &why) == ERR_UNAVAILABLE && why);
	CHECK(mail_send("ada@example.com\r\nRCPT TO:<x@y>", &out, &why) == ERR_INVALID);
	CHECK(mail_send("ada@example.com", &out, NULL) == ERR_UNAVAILABLE);
	close(fd);
	mail_process_end();
	mail_process_end();
	mail_configure(&st);
}

int main(void)
{
	RUN(builds_the_headers_once);
	RUN(a_subject_cannot_add_a_header);
	RUN(a_recipient_with_cr_lf_is_refused);
	RUN(a_non_ascii_name_round_trips);
	RUN(long_lines_are_handled);
	RUN(crlf_everywhere);
	RUN(the_sender_cannot_add_a_header);
	RUN(refuses_a_bad_message_id);
	RUN(from_address);
	RUN(send_fails_without_a_server);
	buf_free(&out);
	T_DONE();
}
