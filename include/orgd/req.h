/*
 * req: one request as the handlers see it (src/api/), filled by the
 * transport and the dispatcher (src/http/) before the handler runs.
 *
 * A struct req lives for one request. Its strings point into libfcgi's
 * parameter block or into req->arena; both are valid until the request
 * ends. Handlers read typed, validated input (in, q, target) and write their
 * JSON answer through req->w into req->out.
 */
#ifndef ORGD_REQ_H
#define ORGD_REQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orgd/caller.h"
#include "orgd/error.h"
#include "orgd/json.h"
#include "orgd/mem.h"

/* HEAD is served as M_GET with req.head set. */
enum method { M_GET, M_POST, M_PUT, M_PATCH, M_DELETE, M__MAX };

/* ?limit= and ?after= of every list (API.md "Conventions"), decoded by the dispatcher. */
struct list_q {
	int64_t limit;     /* 1..100, default 20 */
	struct jstr after; /* the last id of the previous page; s is NULL when absent */
};

struct route;

struct req {
	/* decoded by the transport */
	enum method method; /* M__MAX: a method we do not serve */
	bool head;          /* a HEAD: answered as GET without the body */
	const char *path;   /* the path, without the query string */
	const char *query;  /* the query string, "" when none */
	const char *content_type, *authorization, *idempotency_key, *signature, *remote_addr;
	int idempotency_keys;   /* how many Idempotency-Key headers came (more than 1: 400) */
	int64_t content_length; /* -1 when absent */
	const char *body;       /* NUL-terminated; body_len bytes */
	size_t body_len;

	/* set by the dispatcher */
	const struct route *route;
	char path_id[ID_LEN_MAX + 1]; /* the {id} segment, when the route has one */
	struct caller caller;
	enum role target_role; /* the finder's target member's role, for the matrix */
	void *target;          /* what the route's finder loaded for {id}, or NULL */
	void *in;              /* the decoded body (the route's struct), or NULL */
	uint32_t present;      /* which of the route's fields were present */
	struct list_q q;       /* the decoded query of a list route */
	bool may_view;         /* the matrix allows the route's view operation (e.g. billing) */

	/* the answer */
	int status;            /* set by the handler; 200 by default */
	struct buf out;        /* the body */
	struct jw w;           /* writes into out */
	const char *err_field; /* on error: the field at fault, or NULL */
	const char *err_msg;   /* on error: a message, or NULL for err_message() */
	const char *allow;     /* on 405: the methods the path takes */
	const char *out_type;  /* the answer's Content-Type; NULL: application/json */

	struct arena arena; /* every per-request allocation */
	void *transport;    /* the FCGX_Request */
};

#endif
