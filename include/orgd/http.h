/*
 * http: the FastCGI transport behind struct req (src/http/fcgi.c, the only
 * includer of fcgiapp.h): the listening socket, the accept loop's wait,
 * reading parameters and a bounded body, writing responses; and the
 * percent-decoding the dispatcher uses on paths and query strings.
 */
#ifndef ORGD_HTTP_H
#define ORGD_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "orgd/req.h"

/* GET /metrics (metrics_page.c): the shared counters in Prometheus's text format. */
err_t http_metrics_page(struct req *r);

/* The method's name ("GET", ...; "OTHER" for M__MAX). */
const char *http_method_name(enum method m);

/*
 * Open the FastCGI listening socket at path: mode 0600, owned by `user` when
 * given, non-blocking (workers poll it). Returns the fd, or -1 (logged).
 */
int http_listen(const char *path, const char *user);

/* Prepare r to accept on listen_fd; once per worker. Returns 0 or -1. */
int http_init(struct req *r, int listen_fd);

/*
 * Wait for the next request. Returns 1 with r decoded (headers only), 0 when
 * no request was ready (another worker took it, or a signal came), -1 on a
 * fatal error.
 */
int http_accept(struct req *r);

/*
 * Read the body: at most cap bytes, exactly CONTENT_LENGTH of them. Returns
 * ERR_TOO_LARGE if it announces more than cap, ERR_INVALID if the stream is
 * shorter or longer than announced, ERR_INTERNAL on memory failure.
 */
err_t http_read_body(struct req *r, size_t cap);

/*
 * Send status, Content-Type application/json and r->out (no body if empty,
 * or for a HEAD); a 405 carries Allow, a 401 WWW-Authenticate: Bearer.
 */
void http_respond(struct req *r);

/* End the request, release its memory; r is ready for the next accept. */
void http_finish(struct req *r);

/*
 * Percent-decode s[0..n) into out (cap bytes, NUL-terminated), '+' as a space
 * if asked. Returns the decoded length, or -1 for a bad escape, a NUL, or
 * an out too small.
 */
long http_unescape(const char *s, size_t n, char *out, size_t cap, bool plus_is_space);

/*
 * The percent-decoded value of query parameter name, in arena memory.
 * Returns 1 with *value and *len set, 0 if absent, -1 if malformed (bad
 * escape, NUL) or given twice.
 */
int http_query(struct req *r, const char *name, const char **value, size_t *len);

#endif
