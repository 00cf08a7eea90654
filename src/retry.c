#include "autoconfig.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>

#include <curl/curl.h>

#include "retry.h"

#define RETRY_AFTER_MAX_MS (24L * 3600 * 1000)

/* Set once per process before any call (retry_set_gate). */
static retry_gate_fn gate;
static void *gate_ctx;

void
retry_set_gate(retry_gate_fn fn, void *ctx)
{
	gate = fn;
	gate_ctx = ctx;
}

static int
retryable(const struct attempt_outcome *o)
{
	if (o->timed_out)
		return 0;
	if (o->transport_error)
		return 1;
	/* Credits and spend limits come back next month, not in a second. */
	if (o->insufficient_quota)
		return 0;
	switch (o->http_status) {
	case 408: case 409: case 429:
		return 1;
	default:
		return o->http_status >= 500 && o->http_status <= 599;
	}
}

enum kr_error
retry_error_for(const struct attempt_outcome *o)
{
	if (o->timed_out)
		return KR_PROVIDER_TIMEOUT;
	if (o->transport_error)
		return KR_PROVIDER_UNAVAILABLE;
	switch (o->http_status) {
	case 401: case 403:
		return KR_PROVIDER_AUTH;
	case 402: case 429:
		return KR_PROVIDER_RATE_LIMITED;
	default:
		/* A 400 that says the spend limit is reached (Anthropic), or
		 * a gateway's 5xx that says the credits ran out: waiting
		 * will not help, and the operator must pay, not page. */
		if (o->insufficient_quota && o->http_status >= 400)
			return KR_PROVIDER_RATE_LIMITED;
		return KR_PROVIDER_UNAVAILABLE;
	}
}

struct retry_plan
retry_plan(const struct attempt_outcome *o, double jitter)
{
	struct retry_plan p = { 0, 0, retry_error_for(o) };
	long wait;
	unsigned i;

	if (!retryable(o) || o->attempt >= o->max_attempts)
		return p;
	if (o->retry_after_ms >= 0)
		wait = o->retry_after_ms;
	else {
		wait = RETRY_BASE_MS;
		for (i = 1; i < o->attempt && wait < RETRY_CAP_MS; i++)
			wait *= 2;
		if (wait > RETRY_CAP_MS)
			wait = RETRY_CAP_MS;
		/* Full jitter on the upper half: between wait/2 and wait. */
		wait = wait / 2 + (long)(jitter * (double)(wait / 2));
	}
	/* Waiting only to run out of time would waste the caller's budget;
	 * leave room for the next attempt to do some work. */
	if (wait >= o->remaining_ms)
		return p;
	if (gate != NULL && gate(gate_ctx) != 0) {
		p.error = KR_PROVIDER_RATE_LIMITED;
		return p;
	}
	p.retry = 1;
	p.wait_ms = wait;
	return p;
}

long
retry_after_ms_parse(const char *value)
{
	char *end;
	long v;

	if (value == NULL || !isdigit((unsigned char)*value))
		return -1;
	errno = 0;
	v = strtol(value, &end, 10);
	while (*end == ' ' || *end == '\t')
		end++;
	if (errno != 0 || *end != '\0' || v > RETRY_AFTER_MAX_MS)
		return -1;
	return v;
}

long
retry_after_parse(const char *value, time_t now)
{
	time_t when;
	long secs;

	if (value == NULL)
		return -1;
	while (*value == ' ' || *value == '\t')
		value++;
	if (isdigit((unsigned char)*value)) {
		secs = retry_after_ms_parse(value);
		if (secs < 0 || secs > RETRY_AFTER_MAX_MS / 1000)
			return -1;
		return secs * 1000;
	}
	if ((when = curl_getdate(value, NULL)) == -1)
		return -1;
	if (when <= now)
		return 0;
	if (when - now > RETRY_AFTER_MAX_MS / 1000)
		return RETRY_AFTER_MAX_MS;
	return (long)(when - now) * 1000;
}
