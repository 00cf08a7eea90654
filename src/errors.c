#include "autoconfig.h"

#include <string.h>

#include "errors.h"

static const struct {
	const char *code;
	int         http_status;
	const char *explain;
} errors[KR_ERROR__MAX] = {
	[KR_OK] = { "", 200, "" },
	[KR_UNKNOWN_ACCOUNT] = { "unknown_account", 200,
	    "No trusted record exists for this account, so no decision was made." },
	[KR_PROVIDER_TIMEOUT] = { "provider_timeout", 200,
	    "The model did not answer within the time allowed." },
	[KR_PROVIDER_UNAVAILABLE] = { "provider_unavailable", 200,
	    "The model service could not be reached or failed." },
	[KR_PROVIDER_RATE_LIMITED] = { "provider_rate_limited", 200,
	    "The model service is receiving too many requests right now." },
	[KR_PROVIDER_AUTH] = { "provider_auth", 200,
	    "keyrota's credentials for the model service were refused; an operator must fix this." },
	[KR_INVALID_DECISION] = { "invalid_decision", 200,
	    "The model's answer did not follow the required format or policy P-7, so it was discarded." },
	[KR_POLICY_CONFLICT] = { "policy_conflict", 200,
	    "The model called the key eligible, but the trusted key age is outside the P-7 window, so the answer was refused." },
	[KR_WORKER_LOST] = { "worker_lost", 200,
	    "The server handling this decision stopped before it finished." },
	[KR_INTERNAL_ERROR] = { "internal_error", 200,
	    "keyrota failed while recording this decision." },
	[KR_INVALID_REQUEST] = { "invalid_request", 422,
	    "Some fields are missing or invalid." },
	[KR_DATABASE_UNAVAILABLE] = { "database_unavailable", 503,
	    "The trace database is unavailable, so no decision was started. Retry shortly." },
	[KR_IDEMPOTENCY_CONFLICT] = { "idempotency_conflict", 409,
	    "This idempotency key was already used with a different request." },
	[KR_PAYLOAD_TOO_LARGE] = { "payload_too_large", 413,
	    "The request body is larger than 16 KiB." },
	[KR_UNSUPPORTED_MEDIA_TYPE] = { "unsupported_media_type", 415,
	    "Send application/json or a form." },
	[KR_CSRF_FAILED] = { "csrf_failed", 403,
	    "The form could not be verified. Reload the page and submit again." },
	[KR_OVERLOADED] = { "overloaded", 503,
	    "keyrota is handling as many decisions as it can right now, so this one was not started. Retry shortly." },
	[KR_RATE_LIMITED] = { "rate_limited", 429,
	    "Too many decisions were requested from your address, so this one was not started. Retry shortly." },
	[KR_MODEL_BUDGET_EXHAUSTED] = { "model_budget_exhausted", 503,
	    "The model-call budget for this minute is spent, so no decision was started. Retry after the minute rolls over." },
};

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
