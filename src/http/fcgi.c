/*
 * fcgi: the FastCGI transport. Owns the listening socket, the accept loop's
 * wait, reading parameters and a bounded body, and writing responses.
 * The only file that includes fcgiapp.h.
 *
 * libfcgi does not enforce CONTENT_LENGTH (SECURITY.md): we read at most
 * min(CONTENT_LENGTH, cap) bytes and refuse a stream that is shorter or
 * longer than announced. The listening socket is non-blocking and polled
 * with ppoll(), which is the only place a worker lets SIGTERM in: a stop
 * request never interrupts a request in flight, and never races the wait.
 */
#include "orgd/http.h"

#include <errno.h>
#include <fcgiapp.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "orgd/log.h"

int http_listen(const char *path, const char *user)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof sa.sun_path) {
		log_error("msg=\"socket path too long\" path=%s", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_error("msg=\"socket failed\" errno=%d", errno);
		return -1;
	}
	/* a socket someone still answers on belongs to a running orgd: leave it */
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
		log_error("msg=\"another orgd is listening\" path=%s", path);
		close(fd);
		return -1;
	}
	close(fd);
	struct stat st;
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	mode_t old = umask(0177);
	int rc = fd < 0 ? -1 : bind(fd, (struct sockaddr *)&sa, sizeof sa);
	umask(old);
	if (rc < 0) {
		log_error("msg=\"bind failed\" path=%s errno=%d", path, errno);
		goto fail;
	}
	if (user) {
		struct passwd *pw = getpwnam(user);
		if (!pw || chown(path, pw->pw_uid, pw->pw_gid) < 0) {
			log_error("msg=\"cannot give the socket to its user\" user=%s", user);
			goto fail;
		}
	}
	if (chmod(path, 0600) < 0 || listen(fd, 1024) < 0 ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		log_error("msg=\"listen failed\" errno=%d", errno);
		goto fail;
	}
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	return -1;
}

int http_init(struct req *r, int listen_fd)
{
	memset(r, 0, sizeof *r);
	FCGX_Request *fr = calloc(1, sizeof *fr);
	if (!fr || FCGX_Init() != 0 || FCGX_InitRequest(fr, listen_fd, 0) != 0) {
		free(fr);
		return -1;
	}
	r->transport = fr;
	return 0;
}

/* The methods orgd serves, by enum method; HEAD is served as GET. */
static const char *const method_names[M__MAX + 1] = {
	[M_GET] = "GET",     [M_POST] = "POST",     [M_PUT] = "PUT",
	[M_PATCH] = "PATCH", [M_DELETE] = "DELETE", [M__MAX] = "OTHER",
};

const char *http_method_name(enum method m)
{
	return (unsigned)m <= M__MAX ? method_names[m] : method_names[M__MAX];
}

static enum method parse_method(const char *s, bool *head)
{
	*head = s && strcmp(s, "HEAD") == 0;
	if (*head)
		return M_GET;
	for (int m = 0; s && m < M__MAX; m++)
		if (strcmp(s, method_names[m]) == 0)
			return (enum method)m;
	return M__MAX;
}

/* How many parameters named name (e.g. a header sent twice) the request has. */
static int count_params(FCGX_ParamArray env, const char *name)
{
	size_t n = strlen(name);
	int count = 0;
	for (; env && *env; env++)
		if (strncmp(*env, name, n) == 0 && (*env)[n] == '=')
			count++;
	return count;
}

/* A decimal CONTENT_LENGTH: digits only, no sign, at most 12 of them; -1 if absent, -2 if bad. */
static int64_t parse_length(const char *s)
{
	if (!s || !*s)
		return -1;
	int64_t n = 0;
	for (size_t i = 0; s[i]; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 12)
			return -2;
		n = n * 10 + (s[i] - '0');
	}
	return n;
}

int http_accept(struct req *r)
{
	FCGX_Request *fr = r->transport;
	struct pollfd p = {.fd = fr->listen_sock, .events = POLLIN};
	sigset_t open;
	sigemptyset(&open); /* SIGTERM/SIGHUP are blocked outside this wait */
	if (ppoll(&p, 1, NULL, &open) < 0)
		return errno == EINTR ? 0 : -1;
	int rc = FCGX_Accept_r(fr);
	if (rc < 0) {
		/* another worker won the connection, or the client went away */
		if (rc == -EAGAIN || rc == -EWOULDBLOCK || rc == -EINTR || rc == -ECONNABORTED ||
		    rc == -ECONNRESET || rc == -EPROTO)
			return 0;
		log_error("msg=\"accept failed\" rc=%d", rc);
		return -1;
	}
	FCGX_ParamArray env = fr->envp;
	/*
	 * Route on the raw REQUEST_URI, never on nginx's decoded and normalised
	 * DOCUMENT_URI: there "/projects/..%2Fmembers" would become "/members".
	 * Only the {id} segment is decoded, by the dispatcher.
	 */
	const char *uri = FCGX_GetParam("REQUEST_URI", env);
	const char *query = FCGX_GetParam("QUERY_STRING", env);
	r->method = parse_method(FCGX_GetParam("REQUEST_METHOD", env), &r->head);
	r->path = "";
	r->query = query ? query : "";
	if (uri) {
		size_t n = strcspn(uri, "?");
		r->path = arena_strndup(&r->arena, uri, n);
		if (!r->path)
			r->path = "";
		if (!query && uri[n])
			r->query = uri + n + 1;
	}
	r->content_type = FCGX_GetParam("CONTENT_TYPE", env);
	r->authorization = FCGX_GetParam("HTTP_AUTHORIZATION", env);
	r->idempotency_key = FCGX_GetParam("HTTP_IDEMPOTENCY_KEY", env);
	r->idempotency_keys = r->idempotency_key ? count_params(env, "HTTP_IDEMPOTENCY_KEY") : 0;
	r->remote_addr = FCGX_GetParam("REMOTE_ADDR", env);
	r->signature = FCGX_GetParam("HTTP_STRIPE_SIGNATURE", env);
	r->content_length = parse_length(FCGX_GetParam("CONTENT_LENGTH", env));
	r->status = 200;
	jw_init(&r->w, &r->out);
	return 1;
}

err_t http_read_body(struct req *r, size_t cap)
{
	FCGX_Request *fr = r->transport;
	int64_t cl = r->content_length;
	if (cl == -2)
		return ERR_INVALID;
	if (cl > (int64_t)cap)
		return ERR_TOO_LARGE;
	size_t want = cl < 0 ? 0 : (size_t)cl;
	char *body = arena_alloc(&r->arena, want + 1);
	if (!body)
		return ERR_INTERNAL;
	size_t got = 0;
	while (got < want) {
		size_t chunk = want - got > (1 << 20) ? (1 << 20) : want - got;
		int n = FCGX_GetStr(body + got, (int)chunk, fr->in);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	body[got] = '\0';
	/* shorter than announced, or more bytes behind the announced end */
	if (got != want || FCGX_GetChar(fr->in) != EOF)
		return ERR_INVALID;
	r->body = body;
	r->body_len = got;
	return ERR_OK;
}

void http_respond(struct req *r)
{
	FCGX_Request *fr = r->transport;
	struct buf head = {0};
	bool body = r->status != 204 && r->out.len;
	buf_printf(&head, "Status: %d %s\r\n", r->status, status_reason(r->status));
	if (body)
		buf_printf(&head, "Content-Type: %s\r\nContent-Length: %zu\r\n",
			   r->out_type ? r->out_type : "application/json", r->out.len);
	if (r->status == 405 && r->allow)
		buf_printf(&head, "Allow: %s\r\n", r->allow);
	if (r->status == 401)
		buf_puts(&head, "WWW-Authenticate: Bearer\r\n");
	buf_puts(&head, "Cache-Control: no-store\r\n\r\n");
	if (!head.oom)
		FCGX_PutStr(head.p, (int)head.len, fr->out);
	buf_free(&head);
	if (body && !r->head)
		FCGX_PutStr(r->out.p, (int)r->out.len, fr->out);
}

void http_finish(struct req *r)
{
	FCGX_Finish_r(r->transport);
	void *t = r->transport;
	struct buf out = r->out;
	struct arena arena = r->arena;
	buf_clear(&out);
	arena_reset(&arena);
	memset(r, 0, sizeof *r);
	r->transport = t;
	r->out = out;
	r->arena = arena;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

long http_unescape(const char *s, size_t n, char *out, size_t cap, bool plus_is_space)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '%') {
			if (i + 2 >= n || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0)
				return -1;
			c = (char)(hexval(s[i + 1]) << 4 | hexval(s[i + 2]));
			i += 2;
		} else if (c == '+' && plus_is_space) {
			c = ' ';
		}
		if (c == '\0' || o + 1 >= cap)
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return (long)o;
}

int http_query(struct req *r, const char *name, const char **value, size_t *len)
{
	size_t nlen = strlen(name);
	int found = 0;
	*value = NULL;
	*len = 0;
	for (const char *p = r->query; *p;) {
		size_t seg = strcspn(p, "&");
		if (seg > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
			size_t vlen = seg - nlen - 1;
			char *out = arena_alloc(&r->arena, vlen + 1);
			long n = out ? http_unescape(p + nlen + 1, vlen, out, vlen + 1, true) : -1;
			if (n < 0 || found++)
				return -1; /* malformed, or given twice */
			*value = out;
			*len = (size_t)n;
		}
		p += seg;
		if (*p == '&')
			p++;
	}
	return found;
}
