/*
 * error: the table from err_t to HTTP status, API code and default message.
 */
#include "orgd/error.h"

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

const char *err_code(err_t e)
{
	return (unsigned)e < ERR__MAX ? errs[e].code : "internal";
}

const char *err_message(err_t e)
{
	return (unsigned)e < ERR__MAX ? errs[e].message : "Internal error.";
}
