/* errors: the closed set of named errors (docs/http-api.md, "Errors"). One
 * enum, one table: the code a client sees, the HTTP status it travels with,
 * and the words a person reads. The first group ends a trace as failed; the
 * second is answered without a trace. */
#ifndef KEYROTA_ERRORS_H
#define KEYROTA_ERRORS_H

enum kr_error {
	KR_OK = 0,
	/* a trace ends failed with one of these */
	KR_UNKNOWN_ACCOUNT,
	KR_PROVIDER_TIMEOUT,
	KR_PROVIDER_UNAVAILABLE,
	KR_PROVIDER_RATE_LIMITED,
	KR_PROVIDER_AUTH,
	KR_INVALID_DECISION,
	KR_POLICY_CONFLICT,
	KR_WORKER_LOST,
	KR_INTERNAL_ERROR,
	/* answered without a trace */
	KR_INVALID_REQUEST,
	KR_DATABASE_UNAVAILABLE,
	KR_IDEMPOTENCY_CONFLICT,
	KR_PAYLOAD_TOO_LARGE,
	KR_UNSUPPORTED_MEDIA_TYPE,
	KR_CSRF_FAILED,
	/* refused at admission, before anything is written (README,
	 * "Under load"); each answer carries Retry-After */
	KR_OVERLOADED,
	KR_RATE_LIMITED,
	KR_MODEL_BUDGET_EXHAUSTED,
	KR_ERROR__MAX
};

/* "provider_timeout", ...; "" for KR_OK. */
const char    *kr_error_code(enum kr_error e);
/* The error for a code string, or KR_ERROR__MAX when there is none. */
enum kr_error  kr_error_from_code(const char *code);
/* A sentence for people: what happened and what they can do. */
const char    *kr_error_explain(enum kr_error e);
/* The HTTP status of errors answered without a trace; 200 otherwise. */
int            kr_error_http_status(enum kr_error e);
/* True for the errors that end a trace as failed. */
int            kr_error_is_trace_error(enum kr_error e);

#endif
