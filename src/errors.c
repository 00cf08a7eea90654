#include "autoconfig.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "errors.h"

/* Retry-After: 5 s for the database; 1 s for a full instance and for the
 * rate, which nginx refines; a minute for the model budget, which
 * decide.c refines to the rest of the minute. */
static const struct kr_error_row errors[KR_ERROR__MAX] = {
	[KR_OK] = { "", 200, 0, "" },
	[KR_UNKNOWN_ACCOUNT] = { "unknown_account", 200, 0,
	    "No trusted record exists for this account, so no decision was made." },
	[KR_PROVIDER_TIMEOUT] = { "provider_timeout", 200, 0,
	    "The model did not answer within the time allowed." },
	[KR_PROVIDER_UNAVAILABLE] = { "provider_unavailable", 200, 0,
	    "The model service could not be reached or failed." },
	[KR_PROVIDER_RATE_LIMITED] = { "provider_rate_limited", 200, 0,
	    "The model service is receiving too many requests right now." },
	[KR_PROVIDER_AUTH] = { "provider_auth", 200, 0,
	    "keyrota's credentials for the model service were refused; an operator must fix this." },
	[KR_INVALID_DECISION] = { "invalid_decision", 200, 0,
	    "The model's answer did not follow the required format or policy P-7, so it was discarded." },
	[KR_POLICY_CONFLICT] = { "policy_conflict", 200, 0,
	    "The model called the key eligible, but the trusted key age is outside the P-7 window, so the answer was refused." },
	[KR_WORKER_LOST] = { "worker_lost", 200, 0,
	    "The server handling this decision stopped before it finished." },
	[KR_INTERNAL_ERROR] = { "internal_error", 200, 0,
	    "keyrota failed while recording this decision." },
	[KR_INVALID_REQUEST] = { "invalid_request", 422, 0,
	    "Some fields are missing or invalid." },
	[KR_DATABASE_UNAVAILABLE] = { "database_unavailable", 503, 5,
	    "The trace database is unavailable, so no decision was started. Retry shortly." },
	[KR_IDEMPOTENCY_CONFLICT] = { "idempotency_conflict", 409, 0,
	    "This idempotency key was already used with a different request." },
	[KR_PAYLOAD_TOO_LARGE] = { "payload_too_large", 413, 0,
	    "The request body is larger than 16 KiB." },
	[KR_UNSUPPORTED_MEDIA_TYPE] = { "unsupported_media_type", 415, 0,
	    "Send application/json or a form." },
	[KR_CSRF_FAILED] = { "csrf_failed", 403, 0,
	    "The form could not be verified. Reload the page and submit again." },
	[KR_OVERLOADED] = { "overloaded", 503, 1,
	    "keyrota is handling as many decisions as it can right now, so this one was not started. Retry shortly." },
	[KR_RATE_LIMITED] = { "rate_limited", 429, 1,
	    "Too many decisions were requested from your address, so this one was not started. Retry shortly." },
	[KR_MODEL_BUDGET_EXHAUSTED] = { "model_budget_exhausted", 503, 60,
	    "The model-call budget for this minute is spent, so no decision was started. Retry after the minute rolls over." },
};

static const struct kr_error_row http_errors[KR_HTTP_ERROR__MAX] = {
	[KR_HTTP_NONE] = { "", 200, 0, "" },
	[KR_HTTP_NO_PAGE] = { "not_found", 404, 0,
	    "There is no page at this address." },
	[KR_HTTP_NO_TRACE] = { "not_found", 404, 0,
	    "There is no trace with this id." },
	[KR_HTTP_NO_EVAL_RUN] = { "not_found", 404, 0,
	    "There is no eval run with this id." },
	[KR_HTTP_BAD_METHOD] = { "method_not_allowed", 405, 0,
	    "This address does not accept that method." },
	[KR_HTTP_UNREADABLE_BODY] = { "bad_request", 400, 0,
	    "The request body could not be read." },
	[KR_HTTP_UNAUTHORIZED] = { "unauthorized", 401, 0,
	    "The admin pages need the operator's login." },
	[KR_HTTP_SERVER_ERROR] = { "internal_error", 500, 0,
	    "The server could not answer this request." },
};

const struct kr_error_row *
kr_error_row(enum kr_error e)
{
	return e < KR_ERROR__MAX ? &errors[e] :
	    &http_errors[KR_HTTP_SERVER_ERROR];
}

const struct kr_error_row *
kr_http_error_row(enum kr_http_error e)
{
	return e < KR_HTTP_ERROR__MAX ? &http_errors[e] :
	    &http_errors[KR_HTTP_SERVER_ERROR];
}

const char *
kr_error_code(enum kr_error e)
{
	return e < KR_ERROR__MAX ? errors[e].code : "internal_error";
}

enum kr_error
kr_error_from_code(const char *code)
{
	int i;

	for (i = 1; i < KR_ERROR__MAX; i++)
		if (strcmp(errors[i].code, code) == 0)
			return (enum kr_error)i;
	return KR_ERROR__MAX;
}

const char *
kr_error_explain(enum kr_error e)
{
	return e < KR_ERROR__MAX ? errors[e].explain : "";
}

int
kr_error_http_status(enum kr_error e)
{
	return e < KR_ERROR__MAX ? errors[e].http_status : 500;
}

int
kr_error_is_trace_error(enum kr_error e)
{
	return e >= KR_UNKNOWN_ACCOUNT && e <= KR_INTERNAL_ERROR;
}

int
kr_errorf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}
