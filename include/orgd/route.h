/*
 * route: the table of every endpoint (src/http/routes.c) and the dispatcher
 * that runs a request through it (src/http/dispatch.c):
 *   route (404/405) -> authenticate (401) -> authorize (403) -> read the body
 *   (413/415) -> find the {id} target (404) -> authorize on the target (403)
 *   -> decode and validate the query, the body and the Idempotency-Key (400)
 *   -> handler -> encode. Only the dispatcher writes error bodies.
 */
#ifndef ORGD_ROUTE_H
#define ORGD_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#include "orgd/authz.h"
#include "orgd/json.h"
#include "orgd/req.h"

/* Who may reach a route at all, before the role matrix. */
enum auth {
	AUTH_NONE,     /* anyone */
	AUTH_SESSION,  /* a valid session token */
	AUTH_VERIFIED, /* a valid session token of a user whose email is verified (else 403) */
	AUTH_ORG,      /* a session with an active organization; the matrix decides the rest */
	AUTH_CRON,     /* the cron secret as a bearer token (API.md "Auto-recharge") */
	AUTH__MAX
};

/* Whether a route takes an Idempotency-Key header (API.md "Conventions"). */
enum idem { IDEM_NONE, IDEM_OPTIONAL, IDEM_REQUIRED };

typedef err_t (*handler_fn)(struct req *r);

/* The fields a body (or a query string) takes and the struct they decode into. */
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
	bool raw;                     /* takes a JSON body the handler decodes itself (webhooks) */
	bool body_optional;           /* the body may be left out: every field absent */
	bool caller_orgs; /* AUTH_SESSION: the caller's memberships too (req.caller.orgs) */
	size_t body_cap;  /* 0: BODY_CAP */
	const struct body_spec *query; /* NULL: reads no query parameter; else into req.q */
	const char *grant;             /* the body field naming a role the operation grants */
	enum op view;                  /* a part the handler shows if the matrix allows it */
	enum idem idem;
};

#define BODY_CAP (64 * 1024)

extern const struct route routes[];
extern const size_t nroutes;

/* The query of every list: ?limit= (1..100, default 20) and ?after= an id. */
extern const struct body_spec list_query, list_query_loose;

/*
 * Does the raw path match pattern? "{id}" matches one non-empty segment,
 * percent-decoded into id when it is shaped like one of our ids; *id_ok
 * says whether it was (else id is "").
 */
bool route_match(const char *pattern, const char *path, char id[ID_LEN_MAX + 1], bool *id_ok);

/* Run one request through the table and send the answer. */
void dispatch(struct req *r);

#endif
