/*
 * mail: building one message (see mail.h). Owns the header block (a fixed set
 * of headers, each written once, from checked or cleaned values), the RFC 2047
 * encoded-words of a non-ASCII subject or sender name, the plain folding of an
 * ASCII subject, the Date format, and the body's line ends and transfer
 * encoding (8bit, or quoted-printable when a line is too long for SMTP).
 *
 * Every value that reaches the header block either is refused when it holds a
 * control character (to, from, message_id) or has them turned into spaces
 * (subject); folding only ever starts a line with a space, so nothing from the
 * input can start a header line.
 */
#include "orgd/mail.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#define LINE_SOFT  78 /* RFC 5322's SHOULD for a header line, without CRLF */
#define WORD_LINE  76 /* RFC 2047: a line holding encoded-words stays within 76 */
#define WORD_EXTRA 12 /* "=?utf-8?B?" + "?=" */
#define QP_LINE    76 /* RFC 2045: a quoted-printable line, its soft '=' included */
#define ADDR_MAX   254
#define LOCAL_MAX  64
#define MSGID_MAX  250

/* ---- characters ---------------------------------------------------------- */

/*
 * The length of the UTF-8 character at p[0..n) (1..4), or 0 if it is not one:
 * shortest form only, no surrogate, nothing above U+10FFFF, no NUL.
 */
static size_t utf8_char(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];
	if (c == 0)
		return 0;
	if (c < 0x80)
		return 1;
	size_t len;
	uint32_t cp;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static bool utf8_ok(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		size_t l = utf8_char(p + i, n - i);
		if (!l)
			return false;
		i += l;
	}
	return true;
}

static bool is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

static bool is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* RFC 5322 atext: letters, digits and !#$%&'*+-/=?^_`{|}~ */
static bool is_atext(unsigned char c)
{
	return is_alnum(c) || (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

/* ---- addresses ----------------------------------------------------------- */

/*
 * A plain address s[0..n): one '@'; a local part of 1..LOCAL_MAX bytes of
 * atext, '.' and UTF-8; a domain of letters, digits, '-', UTF-8 and inner
 * single dots; at most ADDR_MAX bytes, valid UTF-8, no control or space.
 */
static bool addr_ok(const char *s, size_t n)
{
	if (n < 3 || n > ADDR_MAX || !utf8_ok(s, n))
		return false;
	const char *at = memchr(s, '@', n);
	if (!at || memchr(at + 1, '@', n - (size_t)(at - s) - 1))
		return false;
	size_t local = (size_t)(at - s), dlen = n - local - 1;
	const char *dom = at + 1;
	if (local == 0 || local > LOCAL_MAX || dlen == 0)
		return false;
	for (size_t i = 0; i < local; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!(c >= 0x80 || c == '.' || is_atext(c)))
			return false;
	}
	if (dom[0] == '.' || dom[dlen - 1] == '.')
		return false;
	for (size_t i = 0; i < dlen; i++) {
		unsigned char c = (unsigned char)dom[i];
		if (c == '.' && dom[i + 1] == '.')
			return false;
		if (!(c >= 0x80 || c == '.' || c == '-' || is_alnum(c)))
			return false;
	}
	return true;
}

bool mail_address_ok(const char *s)
{
	return s && addr_ok(s, strnlen(s, ADDR_MAX + 1));
}

struct from_parts {
	const char *name; /* the display name as written (quotes included), or NULL */
	size_t name_len;
	const char *addr;
	size_t addr_len;
};

static bool is_space(char c)
{
	return c == ' ';
}

/*
 * Split a From value: "addr", "<addr>" or "name <addr>" (spaces around
 * allowed). false unless it is valid UTF-8 of at most MAIL_FROM_MAX bytes
 * without a control character, with a plain address.
 */
static bool from_parse(const char *from, struct from_parts *fp)
{
	size_t n = strnlen(from, MAIL_FROM_MAX + 1);
	if (n == 0 || n > MAIL_FROM_MAX || !utf8_ok(from, n))
		return false;
	for (size_t i = 0; i < n; i++)
		if (is_ctl((unsigned char)from[i]))
			return false;
	const char *s = from, *e = from + n;
	while (s < e && is_space(*s))
		s++;
	while (e > s && is_space(e[-1]))
		e--;
	memset(fp, 0, sizeof *fp);
	const char *lt = memrchr(s, '<', (size_t)(e - s)); /* a name may hold one */
	if (!lt) {
		fp->addr = s;
		fp->addr_len = (size_t)(e - s);
	} else {
		if (e[-1] != '>' || e - 1 <= lt)
			return false;
		fp->addr = lt + 1;
		fp->addr_len = (size_t)(e - 1 - fp->addr);
		const char *ne = lt;
		while (ne > s && is_space(ne[-1]))
			ne--;
		if (ne > s) {
			fp->name = s;
			fp->name_len = (size_t)(ne - s);
		}
	}
	return addr_ok(fp->addr, fp->addr_len);
}

const char *mail_from_address(const char *from, struct arena *a)
{
	struct from_parts fp;
	if (!from_parse(from ? from : MAIL_FROM_DEFAULT, &fp))
		return NULL;
	return arena_strndup(a, fp.addr, fp.addr_len);
}

/* ---- header values ------------------------------------------------------- */

static void b64_put(struct buf *b, const unsigned char *p, size_t n)
{
	static const char tbl[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		char q[4] = {tbl[v >> 18 & 63], tbl[v >> 12 & 63],
			     i + 1 < n ? tbl[v >> 6 & 63] : '=', i + 2 < n ? tbl[v & 63] : '='};
		buf_put(b, q, 4);
	}
}

/*
 * s[0..n) (valid UTF-8) as B encoded-words, the first starting at column
 * *col, the next ones each on a folded line of its own, none splitting a
 * character; every line within WORD_LINE octets (what the caller writes after
 * the last word, a From's address, may pass it). Updates *col.
 */
static void put_words(struct buf *b, size_t *col, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	bool first = true;
	while (i < n) {
		size_t room =
			*col + WORD_EXTRA + 8 <= WORD_LINE ? WORD_LINE - *col - WORD_EXTRA : 0;
		size_t max = room / 4 * 3; /* input bytes that fit */
		if (!first || max < 4) {
			buf_puts(b, "\r\n ");
			*col = 1;
			max = (WORD_LINE - 1 - WORD_EXTRA) / 4 * 3;
		}
		first = false;
		size_t start = i;
		while (i < n) {
			size_t l = utf8_char(p + i, n - i);
			if (!l)
				l = 1; /* not reached: s was checked */
			if (i - start + l > max)
				break;
			i += l;
		}
		buf_puts(b, "=?utf-8?B?");
		b64_put(b, p + start, i - start);
		buf_puts(b, "?=");
		*col += WORD_EXTRA + (i - start + 2) / 3 * 4;
	}
}

/*
 * s[0..n) as plain text folded at spaces from column col, if it is printable
 * ASCII without "=?" (which a reader would take for an encoded-word) and every
 * line fits LINE_SOFT octets; false (nothing written) otherwise. A fold goes
 * before a space that precedes a non-space, so every continuation line starts
 * with a space and holds more than white space.
 */
static bool put_folded(struct buf *b, size_t col, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c > 0x7e || (c == '=' && i + 1 < n && s[i + 1] == '?'))
			return false;
	}
	/* dry run, then write: the same walk over the segments */
	for (int pass = 0; pass < 2; pass++) {
		size_t c = col, seg = 0;
		for (size_t i = 1; i <= n; i++) {
			if (i < n && !(s[i] == ' ' && i + 1 < n && s[i + 1] != ' '))
				continue;
			/* segment s[seg..i) */
			size_t len = i - seg;
			if (seg > 0 && c + len > LINE_SOFT) {
				if (pass)
					buf_puts(b, "\r\n");
				c = 0;
			}
			if (c + len > LINE_SOFT)
				return false; /* only in the dry run: the same walk */
			if (pass)
				buf_put(b, s + seg, len);
			c += len;
			seg = i;
		}
	}
	return true;
}

/* An unstructured header value (Subject): plain and folded, or encoded-words. */
static void put_unstructured(struct buf *b, const char *name, const char *s, size_t n)
{
	buf_puts(b, name);
	buf_putc(b, ':');
	if (n) {
		buf_putc(b, ' ');
		size_t col = strlen(name) + 2;
		if (!put_folded(b, col, s, n))
			put_words(b, &col, s, n);
	}
	buf_puts(b, "\r\n");
}

/* The display name of a From, unquoted ("\"a \\\" b\"" -> "a \" b") into t. */
static void name_unquote(const char *s, size_t n, struct buf *t)
{
	if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
		for (size_t i = 1; i + 1 < n; i++) {
			if (s[i] == '\\' && i + 2 < n)
				i++;
			buf_putc(t, s[i]);
		}
	} else {
		buf_put(t, s, n);
	}
}

/* From: the display name as atext words, a quoted-string or encoded-words; then the address. */
static void put_from(struct buf *b, const struct from_parts *fp, struct buf *t)
{
	buf_puts(b, "From: ");
	if (!fp->name) {
		buf_put(b, fp->addr, fp->addr_len);
		buf_puts(b, "\r\n");
		return;
	}
	buf_clear(t);
	name_unquote(fp->name, fp->name_len, t);
	bool ascii = true, atoms = t->len > 0;
	for (size_t i = 0; i < t->len; i++) {
		unsigned char c = (unsigned char)t->p[i];
		if (c >= 0x80)
			ascii = false;
		else if (!is_atext(c) && c != ' ')
			atoms = false;
	}
	if (!ascii) {
		size_t col = 6;
		put_words(b, &col, t->p, t->len);
	} else if (atoms) {
		buf_put(b, t->p, t->len);
	} else {
		buf_putc(b, '"');
		for (size_t i = 0; i < t->len; i++) {
			if (t->p[i] == '"' || t->p[i] == '\\')
				buf_putc(b, '\\');
			buf_putc(b, t->p[i]);
		}
		buf_putc(b, '"');
	}
	buf_puts(b, " <");
	buf_put(b, fp->addr, fp->addr_len);
	buf_puts(b, ">\r\n");
}

/* "<" 1..248 printable ASCII bytes, one inner '@', no space, '<' or '>' ">". */
static bool msgid_ok(const char *s)
{
	size_t n = s ? strnlen(s, MSGID_MAX + 1) : 0;
	if (n < 5 || n > MSGID_MAX || s[0] != '<' || s[n - 1] != '>')
		return false;
	size_t ats = 0;
	for (size_t i = 1; i + 1 < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7f || c == '<' || c == '>')
			return false;
		if (c == '@') {
			if (i == 1 || i + 2 == n)
				return false;
			ats++;
		}
	}
	return ats == 1;
}

/* Date: RFC 5322 3.3 in UTC, English names whatever the locale. */
static bool put_date(struct buf *b, int64_t t)
{
	static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	if (t < 0 || t > INT64_C(253402300799)) /* 9999-12-31T23:59:59Z */
		return false;
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm) || tm.tm_wday < 0 || tm.tm_wday > 6 || tm.tm_mon < 0 ||
	    tm.tm_mon > 11)
		return false;
	buf_printf(b, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n", days[tm.tm_wday],
		   tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
		   tm.tm_sec);
	return true;
}

/* The subject with CR LF, and every other control character, turned into one space. */
static void subject_clean(const char *s, struct buf *t)
{
	for (size_t i = 0; s[i]; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\r' && s[i + 1] == '\n')
			i++;
		buf_putc(t, is_ctl(c) ? ' ' : (char)c);
	}
}

/* ---- body ---------------------------------------------------------------- */

/* The end of the line that starts at s (its first \r or \n, or its NUL), and its terminator's
 * length. */
static const char *line_end(const char *s, size_t *term)
{
	const char *e = s + strcspn(s, "\r\n");
	*term = *e == '\r' && e[1] == '\n' ? 2 : *e ? 1 : 0;
	return e;
}

static void qp_put(struct buf *b, size_t *col, const char *unit, size_t n)
{
	if (*col + n > QP_LINE - 1) {
		buf_puts(b, "=\r\n");
		*col = 0;
	}
	buf_put(b, unit, n);
	*col += n;
}

/* One line s[0..n) as quoted-printable (RFC 2045 6.7), soft breaks within QP_LINE. */
static void qp_line(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t col = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		bool last = i + 1 == n;
		if ((c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !last)) {
			char u = (char)c;
			qp_put(b, &col, &u, 1);
		} else {
			char u[3] = {'=', hex[c >> 4], hex[c & 15]};
			qp_put(b, &col, u, 3);
		}
	}
}

/* The body: 8bit lines as they are, or quoted-printable if one is too long; CRLF ends. */
static void put_body(struct buf *b, const char *body, bool qp)
{
	const char *s = body;
	while (*s) {
		size_t term;
		const char *e = line_end(s, &term);
		if (qp)
			qp_line(b, s, (size_t)(e - s));
		else
			buf_put(b, s, (size_t)(e - s));
		buf_puts(b, "\r\n");
		s = e + term;
	}
}

/* ---- the message --------------------------------------------------------- */

err_t mail_build(const struct mail_msg *m, struct buf *out)
{
	buf_clear(out);
	const struct mail_settings *st = mail_settings();
	struct from_parts fp;
	if (!m->to || !m->subject || !m->body || !addr_ok(m->to, strlen(m->to)) ||
	    !msgid_ok(m->message_id) || !utf8_ok(m->subject, strlen(m->subject)) ||
	    !utf8_ok(m->body, strlen(m->body)) ||
	    !from_parse(st->from && *st->from ? st->from : MAIL_FROM_DEFAULT, &fp))
		return ERR_INVALID;

	bool qp = false;
	for (const char *s = m->body; *s && !qp;) {
		size_t term;
		const char *e = line_end(s, &term);
		qp = (size_t)(e - s) > MAIL_LINE_MAX;
		s = e + term;
	}

	struct buf t = {0};
	if (!put_date(out, m->date)) {
		buf_clear(out);
		return ERR_INVALID;
	}
	put_from(out, &fp, &t);
	buf_puts(out, "To: ");
	buf_puts(out, m->to);
	buf_puts(out, "\r\n");
	buf_clear(&t);
	subject_clean(m->subject, &t);
	put_unstructured(out, "Subject", t.p ? t.p : "", t.len);
	buf_puts(out, "Message-ID: ");
	buf_puts(out, m->message_id);
	buf_puts(out, "\r\nAuto-Submitted: auto-generated\r\n"
		      "MIME-Version: 1.0\r\n"
		      "Content-Type: text/plain; charset=utf-8\r\n"
		      "Content-Transfer-Encoding: ");
	buf_puts(out, qp ? "quoted-printable" : "8bit");
	buf_puts(out, "\r\n\r\n");
	put_body(out, m->body, qp);

	bool oom = t.oom || out->oom;
	buf_free(&t);
	if (oom) {
		buf_clear(out);
		return ERR_INTERNAL;
	}
	return ERR_OK;
}
