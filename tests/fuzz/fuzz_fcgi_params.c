/*
 * fuzz_fcgi_params: libFuzzer target for the FastCGI request decoding, the
 * code between libfcgi and struct req, on the real path: a client writes the
 * records to a real listening socket (http_listen, in a private directory),
 * then http_accept() (ppoll + libfcgi's FCGX_Accept_r, which reads
 * BEGIN_REQUEST and the PARAMS stream), http_read_body(), route_match() on the
 * path for every row of the route table, http_query(), http_respond() and
 * http_finish(), as a worker does. One process: a thread plays nginx, writing
 * the records, shutting its write side and reading the answer to the end,
 * while the fuzzer's thread is the worker.
 *
 * The input: ctl, opt, the params block's length (2 bytes, little-endian,
 * cut to what is there), the params block, then the body (FCGI_STDIN).
 * The params block is name/value pairs in FastCGI's own length encoding (a
 * length byte below 0x80, or four bytes with the top bit set), sent as it is,
 * but for a four-byte length over 0xffff, which is cut to its low 16 bits:
 * lengths near 2^31 are libfcgi's CVE-2025-23016 (its allocation, which
 * test_faults provokes on purpose), not orgd's code.
 *   ctl bits 0-1: PARAMS record size (whole, 512, 7, 1 byte), 2-3: STDIN's;
 *       bit 4: records padded to 8 bytes (as nginx does); bit 5: stray records
 *       (another request id's STDIN, a GET_VALUES) between the PARAMS records;
 *       bit 6: a body cap of 16 bytes instead of BODY_CAP; bit 7: the client
 *       closes right after the PARAMS records, with no empty one ending them
 *       and no STDIN (libfcgi then takes the pairs so far; the body is empty).
 *
 * Not sent: management records of other types than one GET_VALUES naming
 * one variable, which is all that could bring libfcgi's own bugs in (with
 * bit 7, STDIN bytes after the PARAMS would be parsed as records): each
 * record of an unknown type leaks 48 bytes in libfcgi 2.4.2, and a GET_VALUES
 * naming four variables or more overflows its char response[64] on the stack.
 *   opt bits 0-2: role (0-4 responder, 5 authorizer, 6 filter, 7 unknown);
 *       bit 3: no empty STDIN record (the body ends where the socket does).
 *
 * Checks: libfcgi accepts exactly when the params block is whole pairs (and
 * the role one it knows); then every field of struct req equals what a
 * reference decoding of the same pairs gives (FCGX_GetParam's first match,
 * REQUEST_URI cut at '?', QUERY_STRING or else what follows the '?', the
 * CONTENT_LENGTH rules, the Idempotency-Key count); the body is the STDIN
 * bytes exactly, or the refusal http.h names; route_match() agrees with a
 * segment-wise reference, an {id} it reports valid is id_valid() and is the
 * percent-decoding of the segment, an invalid one is ""; http_query() values
 * have no NUL; the answer written back is a Status: 200 and an END_REQUEST.
 * Nothing may crash, leak or hang.
 */
#include <errno.h>
#include <fcgiapp.h>
#include <fastcgi.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>
#include <pthread.h>
#include <semaphore.h>

#include "orgd/http.h"
#include "orgd/id.h"
#include "orgd/route.h"

#include "fuzz_ref.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define INPUT_MAX  16384
#define STREAM_MAX (160 * 1024)        /* well inside a unix socket's send buffer */
#define PAIRS_MAX  (INPUT_MAX / 2 + 1) /* two bytes a pair at least: never reached */
#define SMALL_CAP  16

static char sock_dir[64], sock_path[128];
static int listen_fd = -1;
static struct req r;

static void cleanup(void)
{
	if (sock_path[0])
		unlink(sock_path);
	if (sock_dir[0])
		rmdir(sock_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	signal(SIGPIPE, SIG_IGN);
	strcpy(sock_dir, "/tmp/fuzz_fcgi.XXXXXX");
	if (!mkdtemp(sock_dir))
		REF_FAIL("fuzz_fcgi_params: mkdtemp: %s", strerror(errno));
	snprintf(sock_path, sizeof sock_path, "%s/s", sock_dir);
	atexit(cleanup);
	listen_fd = http_listen(sock_path, NULL);
	if (listen_fd < 0 || http_init(&r, listen_fd) != 0)
		REF_FAIL("fuzz_fcgi_params: cannot listen on %s", sock_path);
	return 0;
}

/* ---- the byte stream the client sends ---------------------------------------------- */

static uint8_t stream[STREAM_MAX + 64];
static size_t slen;
static bool pad8;

static bool record(int type, int id, const uint8_t *p, size_t n)
{
	size_t padding = pad8 ? (8 - n % 8) % 8 : 0;
	if (slen + 8 + n + padding > STREAM_MAX)
		return false;
	uint8_t *h = stream + slen;
	h[0] = FCGI_VERSION_1, h[1] = (uint8_t)type, h[2] = (uint8_t)(id >> 8), h[3] = (uint8_t)id,
	h[4] = (uint8_t)(n >> 8), h[5] = (uint8_t)n, h[6] = (uint8_t)padding, h[7] = 0;
	if (n)
		memcpy(h + 8, p, n);
	memset(h + 8 + n, 0xa5, padding); /* padding is skipped whatever it holds */
	slen += 8 + n + padding;
	return true;
}

/* data[0..n) as records of type, at most chunk bytes each (n == 0: none). */
static bool records(int type, const uint8_t *p, size_t n, size_t chunk, bool stray)
{
	static const uint8_t get_values[] = {15,  0,   'F', 'C', 'G', 'I', '_', 'M', 'P',
					     'X', 'S', '_', 'C', 'O', 'N', 'N', 'S'};
	for (size_t off = 0; off < n;) {
		size_t k = n - off < chunk ? n - off : chunk;
		if (!record(type, 1, p + off, k))
			return false;
		off += k;
		if (stray && off == k) { /* after the first: libfcgi skips or answers these */
			if (!record(FCGI_STDIN, 2, (const uint8_t *)"xyz", 3) ||
			    !record(FCGI_GET_VALUES, 0, get_values, sizeof get_values))
				return false;
		}
	}
	return true;
}

/* ---- the reference decoding of the params block ------------------------------------- */

static char *env[PAIRS_MAX + 2]; /* "NAME=value" cut at a NUL, as libfcgi builds them */
static size_t nenv;

static void env_free(void)
{
	for (size_t i = 0; i < nenv; i++)
		free(env[i]);
	nenv = 0;
}

static uint32_t get_len(uint8_t *p, size_t n, size_t *pos, bool *ok)
{
	if (*pos >= n) {
		*ok = false;
		return 0;
	}
	if (!(p[*pos] & 0x80))
		return p[(*pos)++];
	if (n - *pos < 4) {
		*ok = false;
		*pos = n;
		return 0;
	}
	uint8_t *b = p + *pos;
	uint32_t v =
		(uint32_t)(b[0] & 0x7f) << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
	if (v > 0xffff) { /* see the top: not libfcgi's CVE again */
		v &= 0xffff;
		b[0] = 0x80, b[1] = 0, b[2] = (uint8_t)(v >> 8), b[3] = (uint8_t)v;
	}
	*pos += 4;
	return v;
}

/* Parse (and fix up, see get_len) the block p[0..n) into env; false unless whole pairs. */
static bool parse_params(uint8_t *p, size_t n, const char *role)
{
	env_free();
	env[nenv++] = strdup(role);
	size_t pos = 0;
	bool ok = true;
	while (pos < n) {
		uint32_t nl = get_len(p, n, &pos, &ok);
		uint32_t vl = ok ? get_len(p, n, &pos, &ok) : 0;
		if (!ok || n - pos < (size_t)nl + vl)
			return false;
		char *e = malloc((size_t)nl + vl + 2);
		if (!e)
			abort();
		memcpy(e, p + pos, nl);
		e[nl] = '=';
		memcpy(e + nl + 1, p + pos + nl, vl);
		e[nl + 1 + vl] = '\0';
		env[nenv++] = e;
		pos += (size_t)nl + vl;
	}
	return true;
}

/* FCGX_GetParam's rule: the first entry that starts with name '='. */
static const char *ref_param(const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < nenv; i++)
		if (strncmp(env[i], name, n) == 0 && env[i][n] == '=')
			return env[i] + n + 1;
	return NULL;
}

static int ref_count(const char *name)
{
	size_t n = strlen(name);
	int c = 0;
	for (size_t i = 0; i < nenv; i++)
		c += strncmp(env[i], name, n) == 0 && env[i][n] == '=';
	return c;
}

static int64_t ref_length(const char *s)
{
	if (!s || !*s)
		return -1;
	if (strlen(s) > 12 || strspn(s, "0123456789") != strlen(s))
		return -2;
	return strtoll(s, NULL, 10);
}

static void same_str(const char *what, const char *got, const char *want)
{
	if (!got != !want || (got && strcmp(got, want) != 0))
		REF_FAIL("fuzz_fcgi_params: %s is \"%s\", the reference says \"%s\"", what,
			 got ? got : "(null)", want ? want : "(null)");
}

/* ---- the checks on the decoded request ---------------------------------------------- */

static void check_fields(void)
{
	const char *m = ref_param("REQUEST_METHOD");
	static const char *const names[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};
	enum method want = M__MAX;
	bool head = m && strcmp(m, "HEAD") == 0;
	for (int i = 0; m && i < 5; i++)
		if (strcmp(m, names[i]) == 0)
			want = (enum method)i;
	if (head)
		want = M_GET;
	if (r.method != want || r.head != head)
		REF_FAIL("fuzz_fcgi_params: method %d head %d for \"%s\"", r.method, r.head,
			 m ? m : "(null)");

	const char *uri = ref_param("REQUEST_URI"), *qs = ref_param("QUERY_STRING");
	size_t cut = uri ? strcspn(uri, "?") : 0;
	if (!r.path || strlen(r.path) != cut || (cut && memcmp(r.path, uri, cut) != 0))
		REF_FAIL("fuzz_fcgi_params: path \"%s\" for REQUEST_URI \"%s\"",
			 r.path ? r.path : "(null)", uri ? uri : "(null)");
	same_str("query", r.query, qs ? qs : uri && uri[cut] ? uri + cut + 1 : "");
	same_str("content_type", r.content_type, ref_param("CONTENT_TYPE"));
	same_str("authorization", r.authorization, ref_param("HTTP_AUTHORIZATION"));
	same_str("idempotency_key", r.idempotency_key, ref_param("HTTP_IDEMPOTENCY_KEY"));
	same_str("remote_addr", r.remote_addr, ref_param("REMOTE_ADDR"));
	same_str("signature", r.signature, ref_param("HTTP_STRIPE_SIGNATURE"));
	int keys = r.idempotency_key ? ref_count("HTTP_IDEMPOTENCY_KEY") : 0;
	if (r.idempotency_keys != keys)
		REF_FAIL("fuzz_fcgi_params: %d Idempotency-Keys, the reference counts %d",
			 r.idempotency_keys, keys);
	int64_t cl = ref_length(ref_param("CONTENT_LENGTH"));
	if (r.content_length != cl)
		REF_FAIL("fuzz_fcgi_params: content_length %lld, the reference says %lld",
			 (long long)r.content_length, (long long)cl);
	if (r.status != 200 || r.body || r.body_len)
		REF_FAIL("fuzz_fcgi_params: a fresh request with status %d or a body", r.status);
}

static void check_body(err_t e, size_t cap, const uint8_t *body, size_t blen)
{
	err_t want;
	int64_t cl = r.content_length;
	if (cl == -2)
		want = ERR_INVALID;
	else if (cl > (int64_t)cap)
		want = ERR_TOO_LARGE;
	else
		want = (size_t)(cl < 0 ? 0 : cl) == blen ? ERR_OK : ERR_INVALID;
	if (e == ERR_OK) {
		size_t n = cl < 0 ? 0 : (size_t)cl;
		if (!r.body || r.body_len != n || r.body[n] != '\0')
			REF_FAIL("fuzz_fcgi_params: a body of %zu bytes read for a length of %lld",
				 r.body_len, (long long)cl);
	} else if (r.body || r.body_len) {
		REF_FAIL("fuzz_fcgi_params: a refused body left in the request");
	}
	if (e != want)
		REF_FAIL("fuzz_fcgi_params: http_read_body %d, the reference %d (length %lld, "
			 "%zu bytes sent, cap %zu)",
			 e, want, (long long)cl, blen, cap);
	if (e == ERR_OK && blen && memcmp(r.body, body, blen) != 0)
		REF_FAIL("fuzz_fcgi_params: the body read is not the body sent");
}

static void check_routes(void)
{
	char id[ID_LEN_MAX + 1], want[4096];
	for (size_t i = 0; i < nroutes; i++) {
		bool ok = true;
		memset(id, 'X', sizeof id);
		bool m = route_match(routes[i].path, r.path, id, &ok);
		const char *seg;
		size_t seglen;
		if (m != ref_route_match(routes[i].path, r.path, &seg, &seglen))
			REF_FAIL("fuzz_fcgi_params: route_match(\"%s\", \"%s\") says %d",
				 routes[i].path, r.path, m);
		if (!m || !seg)
			continue;
		long n = seglen < sizeof want ? ref_unescape(seg, seglen, want, false) : -1;
		bool want_ok = n > 0 && ref_id_shaped(want, (size_t)n);
		if (ok != want_ok)
			REF_FAIL("fuzz_fcgi_params: the {id} of \"%s\" valid %d, the reference %d",
				 r.path, ok, want_ok);
		if (memchr(id, '\0', sizeof id) == NULL)
			REF_FAIL("fuzz_fcgi_params: an unterminated {id}");
		if (ok && (!id_valid(id, strlen(id)) || strcmp(id, want) != 0))
			REF_FAIL("fuzz_fcgi_params: the {id} \"%s\" of \"%s\"", id, r.path);
		if (!ok && id[0] != '\0')
			REF_FAIL("fuzz_fcgi_params: an invalid {id} left as \"%s\"", id);
	}
}

static void check_query(void)
{
	static const char *const names[] = {"limit", "after", "", "a"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		const char *v;
		size_t len;
		char *want;
		size_t wlen;
		int rc = http_query(&r, names[i], &v, &len);
		int ref = ref_query(r.query, names[i], &want, &wlen);
		if (rc != ref || (rc == 1 && (len != wlen || memcmp(v, want, len) != 0)) ||
		    (rc == 1 && strlen(v) != len) || (rc == 0 && (v || len)))
			REF_FAIL("fuzz_fcgi_params: http_query(\"%s\") %d, the reference %d",
				 names[i], rc, ref);
		free(want);
	}
}

/* The client (nginx's part): send the stream, shut the write side, read to the end. */
struct client {
	int fd;
	sem_t started; /* posted once the first bytes are in the socket */
	uint8_t in[1 << 18];
	size_t n;
	const char *fail; /* what went wrong, or NULL */
	int err;
};
static struct client cl;
static bool cl_ready;

static void *client_run(void *arg)
{
	struct client *k = arg;
	bool posted = false;
	for (size_t off = 0; off < slen;) {
		ssize_t w = write(k->fd, stream + off, slen - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EPIPE || errno == ECONNRESET))
			break; /* the worker closed first: what it answered is still to read */
		if (w <= 0) {
			k->fail = "write", k->err = errno;
			break;
		}
		off += (size_t)w;
		if (!posted)
			sem_post(&k->started), posted = true;
	}
	shutdown(k->fd, SHUT_WR);
	if (!posted)
		sem_post(&k->started);
	if (k->fail)
		return NULL;
	for (;;) {
		ssize_t got = read(k->fd, k->in + k->n, sizeof k->in - k->n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			k->fail = "the connection was left open";
			return NULL;
		}
		if (got < 0 && errno == ECONNRESET)
			break;
		if (got < 0) {
			k->fail = "read", k->err = errno;
			return NULL;
		}
		if (got == 0 || (k->n += (size_t)got) == sizeof k->in)
			break;
	}
	return NULL;
}

/* What came back: a Status: 200 and an END_REQUEST, when a request was served. */
static void check_answer(const struct client *k, bool served)
{
	if (k->fail)
		REF_FAIL("fuzz_fcgi_params: the client: %s %s", k->fail,
			 k->err ? strerror(k->err) : "");
	const uint8_t *in = k->in;
	size_t n = k->n;
	bool status = false, end = false;
	size_t out = 0;
	for (size_t i = 0; i + 8 <= n;) {
		size_t clen = (size_t)in[i + 4] << 8 | in[i + 5], plen = in[i + 6];
		if (in[i + 1] == FCGI_STDOUT && in[i + 3] == 1) {
			if (out == 0 && clen >= 16 &&
			    memcmp(in + i + 8, "Status: 200 OK\r\n", 16) == 0)
				status = true;
			out += clen;
		}
		if (in[i + 1] == FCGI_END_REQUEST && in[i + 3] == 1)
			end = true;
		i += 8 + clen + plen;
	}
	if (served && (!status || !end))
		REF_FAIL("fuzz_fcgi_params: a served request answered without %s",
			 status ? "END_REQUEST" : "Status: 200 first");
	if (!served && status)
		REF_FAIL("fuzz_fcgi_params: an answer to a request not served");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 4 || size > INPUT_MAX)
		return 0;
	static const size_t chunks[] = {65535, 512, 7, 1};
	uint8_t ctl = data[0], opt = data[1];
	size_t plen = (size_t)data[2] | (size_t)data[3] << 8;
	if (plen > size - 4)
		plen = size - 4;
	static uint8_t params[INPUT_MAX];
	memcpy(params, data + 4, plen);
	const uint8_t *body = data + 4 + plen;
	size_t blen = ctl & 0x80 ? 0 : size - 4 - plen; /* cut after the PARAMS: no body */
	bool stray = ctl & 0x20, small = ctl & 0x40, cut = ctl & 0x80, no_stdin_end = opt & 0x08;
	unsigned rolesel = opt & 7;
	int role = rolesel <= 4   ? FCGI_RESPONDER
		   : rolesel == 5 ? FCGI_AUTHORIZER
		   : rolesel == 6 ? FCGI_FILTER
				  : 7;
	const char *role_env = role == FCGI_RESPONDER    ? "FCGI_ROLE=RESPONDER"
			       : role == FCGI_AUTHORIZER ? "FCGI_ROLE=AUTHORIZER"
							 : "FCGI_ROLE=FILTER";
	bool whole = parse_params(params, plen, role_env);

	/* the records: BEGIN_REQUEST (no keep-conn: one request per connection, as nginx) */
	pad8 = ctl & 0x10;
	for (int attempt = 0;; attempt++) {
		size_t pc = attempt ? 65535 : chunks[ctl & 3],
		       sc = attempt ? 65535 : chunks[ctl >> 2 & 3];
		uint8_t begin[8] = {0, (uint8_t)role, 0};
		slen = 0;
		if (record(FCGI_BEGIN_REQUEST, 1, begin, 8) &&
		    records(FCGI_PARAMS, params, plen, pc, stray) &&
		    (cut || (record(FCGI_PARAMS, 1, NULL, 0) &&
			     records(FCGI_STDIN, body, blen, sc, false) &&
			     (no_stdin_end || record(FCGI_STDIN, 1, NULL, 0)))))
			break;
		if (attempt) /* too big even in whole records: INPUT_MAX keeps this from happening
			      */
			REF_FAIL("fuzz_fcgi_params: %zu bytes do not fit the stream", size);
	}

	int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, sock_path);
	if (c < 0 || connect(c, (struct sockaddr *)&sa, sizeof sa) != 0)
		REF_FAIL("fuzz_fcgi_params: connect: %s", strerror(errno));
	struct timeval tv = {.tv_sec = 5};
	setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (!cl_ready && sem_init(&cl.started, 0, 0) != 0)
		REF_FAIL("fuzz_fcgi_params: sem_init: %s", strerror(errno));
	cl_ready = true;
	cl.fd = c, cl.n = 0, cl.fail = NULL, cl.err = 0;
	pthread_t client;
	if (pthread_create(&client, NULL, client_run, &cl) != 0)
		REF_FAIL("fuzz_fcgi_params: pthread_create failed");
	/* libfcgi drops a unix connection with nothing to read within 2 s of its accept
	   (is_af_unix_keeper): on a loaded machine the thread could be that late */
	while (sem_wait(&cl.started) != 0 && errno == EINTR)
		;

	int rc = http_accept(&r);
	bool want_served = whole && role != 7;
	if (rc != want_served)
		REF_FAIL("fuzz_fcgi_params: http_accept %d; the reference: %s", rc,
			 !whole      ? "not whole pairs"
			 : role == 7 ? "an unknown role"
				     : "served");
	if (rc == 1) {
		check_fields();
		size_t cap = small ? SMALL_CAP : BODY_CAP;
		err_t e = http_read_body(&r, cap);
		check_body(e, cap, body, blen);
		check_routes();
		check_query();
		buf_puts(&r.out, "{}");
		http_respond(&r);
		http_finish(&r);
	}
	/* whatever happened, libfcgi holds nothing of the request any more */
	FCGX_Request *fr = r.transport;
	if (fr->ipcFd >= 0 || fr->paramsPtr || fr->in || fr->out || fr->err)
		REF_FAIL("fuzz_fcgi_params: libfcgi still holds the request after it ended");
	pthread_join(client, NULL);
	check_answer(&cl, rc == 1);
	close(c);
	env_free();
	return 0;
}
