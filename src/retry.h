/* retry: when to try a model call again, as a pure function of what the
 * last attempt returned and how much of the decision's deadline is left.
 *
 * Retried: connection failures, 408, 409, 429 and 5xx (529 included).
 * Never retried: 400, 401, 402, 403, 404, 422, a timeout, an answer that
 * arrived, or an error that says a quota, credit or spend limit is used
 * up (insufficient_quota; provider_rate_limited, like a 402). A server's Retry-After / retry-after-ms is honoured when
 * the wait fits the remaining budget; otherwise keyrota stops at once.
 * Without a hint the wait is exponential with jitter. */
#ifndef KEYROTA_RETRY_H
#define KEYROTA_RETRY_H

#include <time.h>

#include "errors.h"

#define RETRY_BASE_MS 250
#define RETRY_CAP_MS  4000

struct attempt_outcome {
	unsigned attempt;            /* 1 for the first */
	unsigned max_attempts;
	int      transport_error;    /* no HTTP answer (refused, reset, ...) */
	int      timed_out;          /* the deadline passed */
	long     http_status;        /* 0 without an answer */
	int      insufficient_quota; /* an error waiting will not cure
	                                (provider_error.h) */
	long     retry_after_ms;     /* the server's hint; -1 without one */
	long     remaining_ms;       /* budget left of the decision */
};

struct retry_plan {
	int           retry;         /* 1: wait wait_ms, then try again */
	long          wait_ms;
	enum kr_error error;         /* the error to report if not retrying */
};

/* jitter is a number in [0, 1) supplied by the caller (tests fix it). */
struct retry_plan retry_plan(const struct attempt_outcome *o, double jitter);

/* Asked by retry_plan before it plans a retry: 0 lets the retry go ahead
 * (the gate has counted it), -1 refuses it and the call ends as
 * provider_rate_limited. A worker sets one when the instance has a model
 * budget (README, "Under load"), before any call starts; NULL (the
 * default) allows every retry. */
typedef int (*retry_gate_fn)(void *ctx);
void retry_set_gate(retry_gate_fn gate, void *ctx);

/* The error an HTTP status or transport failure maps to. */
enum kr_error retry_error_for(const struct attempt_outcome *o);

/* Parses a Retry-After value (delta-seconds or an HTTP-date, compared with
 * now) into milliseconds; -1 when it is neither. */
long retry_after_parse(const char *value, time_t now);
/* Parses retry-after-ms; -1 when invalid. */
long retry_after_ms_parse(const char *value);

#endif
