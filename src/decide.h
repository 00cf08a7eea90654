/* decide: the decision service. One accepted report travels from a
 * validated report through the model boundary into a trace:
 *
 *   fingerprint -> `running` row committed -> trusted records loaded ->
 *   provider (no database connection held) -> answer parsed and verified ->
 *   exactly one terminal update.
 *
 * The database steps run on the process's executor (executor.h), never on
 * the caller's accept thread or on the loop thread. A terminal write that
 * fails is retried until the trace's deadline (model deadline + reaper
 * grace); the caller is answered by 5 s past the model deadline at the
 * latest, with the running trace if its write is still being retried.
 *
 * Route handlers, `keyrota eval` and the tests all come through here. */
#ifndef KEYROTA_DECIDE_H
#define KEYROTA_DECIDE_H

#include "answer.h"
#include "errors.h"
#include "trace_id.h"
#include "store_traces.h"

struct app;
struct report;

#define IDEMPOTENCY_KEY_MAX 128

struct decide_outcome {
	/* KR_OK when a trace exists; otherwise the error answered without
	 * one (database_unavailable, idempotency_conflict, internal_error,
	 * or a refusal at admission: overloaded, model_budget_exhausted). */
	enum kr_error     error;
	unsigned          retry_after_s;     /* with error; 0: no header */
	char              trace_id[TRACE_ID_SIZE];
	enum trace_status status;
	enum kr_error     trace_error;       /* failed only */
	int               has_decision;      /* completed only */
	enum decision     decision;
	int               rotation_window_days;
	size_t            nsources;
	char              sources[DECISION_MAX_SOURCES][POLICY_ID_MAX];
	int               replayed;          /* an idempotent repeat */
};

typedef void (*decide_fn)(void *ctx, const struct decide_outcome *o);

/* Starts a decision for a validated report, whose contents move into the
 * service (*report is left empty). Admission comes first (README, "Under
 * load"): past KEYROTA_MAX_IN_FLIGHT the outcome is overloaded, past
 * KEYROTA_MODEL_BUDGET_PER_MINUTE model_budget_exhausted; nothing is
 * written and the model is not called. An admitted decision holds one
 * model call of the minute's budget; it is given back when the model was
 * never called (unknown account, an idempotent repeat, no database). Each
 * retry takes one more call, or, when the minute's budget is spent, is not
 * made and the trace fails as provider_rate_limited (decide_retry_gate).
 *
 * traceparent (may be NULL) is the caller's W3C trace context header: a
 * valid version-00 value makes the exported spans continue the caller's
 * trace (docs/telemetry.md); anything else is ignored.
 *
 * on_running (may be NULL) runs once the
 * running row is committed, before the model is called; on_done runs
 * exactly once: when the trace is terminal, when no trace could be written
 * (error set), or with status running when its terminal write is still
 * being retried at the answer deadline. Either may run before decide_start
 * returns (CLI commands without an executor), on an executor thread or on
 * the loop thread. */
void decide_start(struct app *app, struct report *report,
         const char *idempotency_key, const char *traceparent,
         decide_fn on_running, decide_fn on_done, void *ctx);

/* decide_start for a `keyrota eval` case: the trusted key age is the
 * case's key_age_days (>= 0) instead of the accounts table, which is never
 * read or written, and the trace is marked as an eval. */
void decide_start_eval(struct app *app, struct report *report,
         int key_age_days, decide_fn on_done, void *ctx);

/* The retry gate (retry.h) of a worker whose instance has a model
 * budget: ctx is the process's struct config. */
int  decide_retry_gate(void *ctx);

/* An Idempotency-Key is 1 to 128 visible ASCII characters. */
int  decide_idempotency_key_valid(const char *key);

void decide_outcome_from_row(const struct trace_row *row,
         struct decide_outcome *o);

#endif
