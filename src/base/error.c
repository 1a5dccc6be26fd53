/*
 * error: the table from err_t to HTTP status, API code and default message;
 * the error body; the reason phrases of the statuses orgd sends.
 */
#include "orgd/error.h"

#include <stddef.h>

#include "orgd/json.h"

static const struct {
	int status;
	const char *code;
	const char *message;
} errs[ERR__MAX] = {
	[ERR_OK] = {200, "", ""},
	[ERR_INVALID] = {400, "invalid_request", "The request is invalid."},
	[ERR_UNAUTHENTICATED] = {401, "unauthenticated", "Authentication is required."},
	[ERR_INSUFFICIENT_CREDITS] = {402, "insufficient_credits", "Not enough credits."},
	[ERR_PAYMENT_FAILED] = {402, "payment_failed", "The payment was declined."},
	[ERR_FORBIDDEN] = {403, "forbidden", "You may not do this."},
	[ERR_NOT_FOUND] = {404, "not_found", "Not found."},
	[ERR_METHOD] = {405, "method_not_allowed", "Method not allowed."},
	[ERR_CONFLICT] = {409, "conflict", "The request conflicts with the current state."},
	[ERR_TOO_LARGE] = {413, "payload_too_large", "The request body is too large."},
	[ERR_MEDIA_TYPE] = {415, "unsupported_media_type",
			    "Content-Type must be application/json."},
	[ERR_RATE_LIMITED] = {429, "rate_limited", "Too many requests; try again later."},
	[ERR_INTERNAL] = {500, "internal", "Internal error."},
	[ERR_PROVIDER] = {502, "payment_provider_error", "The payment provider failed."},
	[ERR_UNAVAILABLE] = {503, "unavailable", "The service is temporarily unavailable."},
	[ERR_RETRY] = {503, "unavailable", "The service is busy; try again."},
};

int err_status(err_t e)
{
	return (unsigned)e < ERR__MAX ? errs[e].status : 500;
}

bool err_is_client(err_t e)
{
	int status = err_status(e);
	return status >= 400 && status < 500;
}

const char *err_code(err_t e)
{
	return (unsigned)e < ERR__MAX ? errs[e].code : "internal";
}

const char *err_message(err_t e)
{
	return (unsigned)e < ERR__MAX ? errs[e].message : "Internal error.";
}

void err_write(struct jw *w, err_t e, const char *msg, const char *field)
{
	jw_obj(w);
	jw_key(w, "error");
	jw_obj(w);
	jw_kstr(w, "code", err_code(e));
	jw_kstr(w, "message", msg ? msg : err_message(e));
	if (field)
		jw_kstr(w, "field", field);
	jw_obj_end(w);
	jw_obj_end(w);
}

static const struct {
	int status;
	const char *reason;
} reasons[] = {
	{200, "OK"},
	{201, "Created"},
	{202, "Accepted"},
	{204, "No Content"},
	{400, "Bad Request"},
	{401, "Unauthorized"},
	{402, "Payment Required"},
	{403, "Forbidden"},
	{404, "Not Found"},
	{405, "Method Not Allowed"},
	{409, "Conflict"},
	{413, "Payload Too Large"},
	{415, "Unsupported Media Type"},
	{429, "Too Many Requests"},
	{500, "Internal Server Error"},
	{502, "Bad Gateway"},
	{503, "Service Unavailable"},
};

const char *status_reason(int status)
{
	for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
		if (reasons[i].status == status)
			return reasons[i].reason;
	return "Internal Server Error";
}
