/*
 * http: one request as the layers above see it, and the FastCGI transport
 * behind it (src/http/fcgi.c, the only includer of fcgiapp.h).
 *
 * A struct req lives for one request. Its strings point into libfcgi's
 * parameter block or into req->arena; both are valid until http_finish().
 * Handlers write their JSON answer through req->w into req->out.
 */
#ifndef ORGD_HTTP_H
#define ORGD_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orgd/error.h"
#include "orgd/json.h"
#include "orgd/mem.h"
#include "orgd/role.h"

enum method { M_GET, M_POST, M_PUT, M_PATCH, M_DELETE, M__MAX };

#define ID_MAX 64

/* Who is calling, as established by the gate from the token and the database. */
struct caller {
	char user_id[ID_MAX + 1];
	char session_id[ID_MAX + 1];
	char org_id[ID_MAX + 1];  /* "" when the token has no active organization */
	enum role role;           /* the membership in org_id as it stands in the database */
	int64_t exp;              /* the token's expiry */
	const char *email, *name; /* the user's, as the database has them (arena memory) */
};

struct route;

struct req {
	/* decoded by http_read_request() */
	enum method method; /* M__MAX: a method we do not serve */
	const char *path;   /* the path, without the query string */
	const char *query;  /* the query string, "" when none */
	const char *content_type, *authorization, *idempotency_key, *signature;
	int64_t content_length; /* -1 when absent */
	const char *body;       /* NUL-terminated; body_len bytes */
	size_t body_len;

	/* set by the dispatcher */
	const struct route *route;
	char path_id[ID_MAX + 1]; /* the {id} segment, when the route has one */
	struct caller caller;
	void *target;     /* what the route's find step loaded for {id}, or NULL */
	void *in;         /* the decoded body (the route's struct), or NULL */
	uint32_t present; /* which of the route's fields were present */

	/* the answer */
	int status;            /* set by the handler; 200 by default */
	struct buf out;        /* the body */
	struct jw w;           /* writes into out */
	const char *err_field; /* on error: the field at fault, or NULL */
	const char *err_msg;   /* on error: a message, or NULL for err_message() */

	struct arena arena; /* every per-request allocation */
	void *transport;    /* the FCGX_Request */
};

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

/* Send status, Content-Type application/json and r->out (no body if empty). */
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
 * Returns 1 with *value set, 0 if absent, -1 if malformed (bad escape, NUL).
 */
int http_query(struct req *r, const char *name, const char **value);

#endif
