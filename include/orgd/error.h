/*
 * error: the one error enum of orgd and its table to HTTP status and API code.
 * Every handler and every layer below returns an err_t; only the dispatcher
 * turns one into a response body (with err_write(), which also renders the
 * errors an Idempotency-Key stores for replay).
 */
#ifndef ORGD_ERROR_H
#define ORGD_ERROR_H

#include <stdbool.h>

typedef enum err {
	ERR_OK = 0,
	ERR_INVALID,              /* 400 invalid_request */
	ERR_UNAUTHENTICATED,      /* 401 unauthenticated */
	ERR_INSUFFICIENT_CREDITS, /* 402 insufficient_credits */
	ERR_PAYMENT_FAILED,       /* 402 payment_failed */
	ERR_FORBIDDEN,            /* 403 forbidden */
	ERR_NOT_FOUND,            /* 404 not_found */
	ERR_METHOD,               /* 405 method_not_allowed */
	ERR_CONFLICT,             /* 409 conflict */
	ERR_TOO_LARGE,            /* 413 payload_too_large */
	ERR_MEDIA_TYPE,           /* 415 unsupported_media_type */
	ERR_RATE_LIMITED,         /* 429 rate_limited */
	ERR_INTERNAL,             /* 500 internal */
	ERR_PROVIDER,             /* 502 payment_provider_error */
	ERR_UNAVAILABLE,          /* 503 unavailable */
	ERR_RETRY, /* internal: deadlock or lock wait; db_tx() retries (503 if it escapes) */
	ERR__MAX
} err_t;

/* The HTTP status of e (200 for ERR_OK). */
int err_status(err_t e);
/* Is e the request's own fault (a 4xx), an answer to keep and replay? */
bool err_is_client(err_t e);
/* The API error code of e ("invalid_request", ...); "" for ERR_OK. */
const char *err_code(err_t e);
/* A generic human message for e, used when the handler gives none. */
const char *err_message(err_t e);

struct jw;
/*
 * Write API.md's error body of e: {"error":{"code","message","field"?}},
 * with msg (NULL: err_message(e)) and field (NULL: none).
 */
void err_write(struct jw *w, err_t e, const char *msg, const char *field);

/* The reason phrase of an HTTP status orgd sends ("Not Found"). */
const char *status_reason(int status);

#endif
