/*
 * api: the handlers, one file per resource of API.md (src/api/). Each takes
 * a request that the dispatcher has routed, authenticated, authorized and
 * decoded (req->in is the route's body struct), writes its JSON answer
 * through req->w, and returns an err_t. Handlers never check roles.
 */
#ifndef ORGD_API_H
#define ORGD_API_H

#include "orgd/http.h"
#include "orgd/json.h"

/* health.c */
err_t api_health(struct req *r);

/* auth.c */
struct signup_in {
	struct jstr email, password, name;
};
struct login_in {
	struct jstr email, password;
};
struct switch_in {
	struct jstr org_id;
};
extern const struct jfield signup_fields[3], login_fields[2], switch_fields[1];
err_t api_signup(struct req *r);
err_t api_login(struct req *r);
err_t api_switch(struct req *r);
err_t api_logout(struct req *r);
err_t api_jwks(struct req *r);
err_t api_me(struct req *r);

#endif
