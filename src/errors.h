/* errors: the closed set of named errors (docs/http-api.md, "Errors"). One
 * enum, one table: the code a client sees, the HTTP status it travels with,
 * the Retry-After it suggests, and the words a person reads. The first group
 * ends a trace as failed; the second is answered without a trace.
 *
 * Beside it, in the same table shape, the HTTP answers that are no product
 * error (no trace ends with them, the schema does not know them): an
 * unknown path, trace or eval run, a wrong method, a missing login. Every
 * error keyrota answers comes from one of the two tables (respond.h). */
#ifndef KEYROTA_ERRORS_H
#define KEYROTA_ERRORS_H

#include <stddef.h>

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

/* The HTTP answers that are not product errors (docs/http-api.md). */
enum kr_http_error {
	KR_HTTP_NONE = 0,
	KR_HTTP_NO_PAGE,            /* not_found: no route at this path */
	KR_HTTP_NO_TRACE,           /* not_found: no trace with this id */
	KR_HTTP_NO_EVAL_RUN,        /* not_found: no eval run with this id */
	KR_HTTP_BAD_METHOD,         /* method_not_allowed */
	KR_HTTP_UNREADABLE_BODY,    /* bad_request */
	KR_HTTP_UNAUTHORIZED,       /* unauthorized: an admin page, no login */
	KR_HTTP_SERVER_ERROR,       /* internal_error, 500: nothing answered */
	KR_HTTP_ERROR__MAX
};

/* One row of either table. retry_after_s is 0 for the errors that carry
 * no Retry-After; for the others it is the default the caller may refine
 * (the rest of the minute, the rate nginx allows). */
struct kr_error_row {
	const char *code;
	int         http_status;
	unsigned    retry_after_s;
	const char *explain;
};

/* The rows; out-of-range values give the server-error row. */
const struct kr_error_row *kr_error_row(enum kr_error e);
const struct kr_error_row *kr_http_error_row(enum kr_http_error e);

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

/* For the functions that explain a failure to their caller in a buffer
 * (err, errlen): formats the message into it and returns -1, so a check
 * reads `return kr_errorf(err, errlen, "...", ...);`. */
int            kr_errorf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
