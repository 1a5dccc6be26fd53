/*
 * route: the table of every endpoint (src/http/routes.c) and the dispatcher
 * that runs a request through it (src/http/dispatch.c):
 *   route (404/405) -> authenticate (401) -> authorize (403) -> read the body
 *   (413/415) -> find the {id} target (404) -> decode and validate (400) ->
 *   handler -> encode. Only the dispatcher writes error bodies.
 */
#ifndef ORGD_ROUTE_H
#define ORGD_ROUTE_H

#include <stddef.h>

#include "orgd/authz.h"
#include "orgd/http.h"
#include "orgd/json.h"

/* Who may reach a route at all, before the role matrix. */
enum auth {
	AUTH_NONE,    /* anyone */
	AUTH_SESSION, /* a valid session token */
	AUTH_ORG,     /* a session with an active organization; the matrix decides the rest */
	AUTH__MAX
};

typedef err_t (*handler_fn)(struct req *r);

/* The body a route takes: its fields and the struct they decode into. */
struct body_spec {
	const struct jfield *fields;
	size_t nfields;
	size_t size; /* sizeof the struct */
};

#define BODY(fields, type)                                                                         \
	(&(const struct body_spec){fields, sizeof fields / sizeof fields[0], sizeof(type)})

struct route {
	enum method method;
	const char *path; /* "/v1/org/projects/{id}": {id} matches one segment */
	enum auth auth;
	enum op op;                   /* checked by authz for AUTH_ORG */
	handler_fn find;              /* loads the {id} target before validation (404 before 400) */
	handler_fn fn;                /* the handler */
	const struct body_spec *body; /* NULL: takes no body */
	size_t body_cap;              /* 0: BODY_CAP */
};

#define BODY_CAP (64 * 1024)

extern const struct route routes[];
extern const size_t nroutes;

/* Replace r's answer with the JSON error body of e (and its status). */
void dispatch_error(struct req *r, err_t e);

/* Run one request through the table and send the answer. */
void dispatch(struct req *r);

#endif
