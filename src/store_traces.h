/* store_traces: the statements a decision runs (a store file, see store.h):
 * start a trace, read it back, load the trusted rows, finish it, reap it.
 * Each call is its own committed statement, so a trace's `running` row is
 * durable before the model is called, and its terminal update applies only
 * to a row that is still running (docs/traces.md). */
#ifndef KEYROTA_STORE_TRACES_H
#define KEYROTA_STORE_TRACES_H

#include <stddef.h>

#include <libpq-fe.h>

#include "answer.h"
#include "errors.h"
#include "store.h"
#include "trace_id.h"

/* A trace's lifecycle (docs/traces.md). */
enum trace_status {
	TRACE_RUNNING,
	TRACE_COMPLETED,
	TRACE_FAILED,
	TRACE_STATUS__MAX
};

/* "running", "completed", "failed": the stored and the shown name. */
const char *store_traces_status_name(enum trace_status s);
/* 0 and *out set, or -1 when s names no status. */
int         store_traces_status_from_name(const char *s, enum trace_status *out);

/* A trace's outcome as stored (status, decision, error_code) as the
 * enums, converted once for every reader of trace rows. The CHECK
 * constraints admit no other names; an unknown status reads as running,
 * and a failed trace with an unknown code as internal_error. The decision
 * counts only on a completed trace, the code only on a failed one. */
struct trace_outcome {
	enum trace_status status;
	int               has_decision;
	enum decision     decision;
	enum kr_error     error;
};
void        store_traces_outcome(const char *status, const char *decision,
                const char *error_code, struct trace_outcome *out);

struct trace_new {
	const char *trace_id;
	const char *account_id;
	const char *prompt_version;
	const char *provider;
	const char *request_model;
	const char *idempotency_key;     /* NULL when none */
	const char *request_digest;      /* NULL when none */
	const char *input_fingerprint;
	const char *fingerprint_key_id;
	/* How long the starting instance waits for this trace (its
	 * provider's deadline plus the reaper grace), stored as deadline_at;
	 * 0 stores none and leaves the trace to the reapers' own settings. */
	unsigned    deadline_ms;
	/* A `keyrota eval` case, not a real report (README, "Evals"). */
	int         eval;
	/* The caller's W3C trace context its spans continue (32 and 16
	 * lowercase hex digits), or both NULL (docs/telemetry.md). */
	const char *otel_trace_id;
	const char *otel_parent_span_id;
};

/* The terminal state of a trace. */
struct trace_finish {
	enum trace_status     status;          /* completed or failed */
	enum kr_error         error;           /* failed only */
	const struct model_answer *answer;     /* completed only */
	int                   has_model_decision;
	enum decision         model_decision;  /* what the model said */
	const char           *response_model;  /* NULL when unknown */
	const char           *response_id;
	const char           *finish_reason;
	unsigned              attempts;
	long                  input_tokens;    /* -1 unknown */
	long                  output_tokens;
	long                  latency_ms;
};

/* A stored trace, as read back. Empty strings stand for NULL. */
struct trace_row {
	char     trace_id[TRACE_ID_SIZE];
	char     account_id[16];
	enum trace_status status;
	int      has_decision;                  /* completed only */
	enum decision decision;
	int      rotation_window_days;          /* -1 when NULL */
	size_t   nsources;
	char     sources[DECISION_MAX_SOURCES][POLICY_ID_MAX];
	enum kr_error error;                    /* failed only; else KR_OK */
	int      has_model_decision;
	enum decision model_decision;           /* what the model said */
	char     prompt_version[64];
	char     provider[16];
	char     request_model[128];
	char     response_model[128];
	int      provider_attempts;
	long     input_tokens;                  /* -1 when NULL */
	long     output_tokens;
	char     response_id[128];
	char     finish_reason[32];
	long     latency_ms;                    /* -1 when NULL */
	char     created_at[32];                /* ISO 8601, UTC */
	char     finished_at[32];
	char     idempotency_key[129];
	char     request_digest[65];
	char     input_fingerprint[16];
	char     fingerprint_key_id[64];
	char     deadline_at[32];               /* ISO 8601, UTC; "" = none */
	int      eval;                          /* made by `keyrota eval` */
	char     otel_trace_id[33];             /* "": its own (trace_id_to_w3c) */
	char     otel_parent_span_id[17];       /* "": none */
};

/* Prepares this file's statements (for store_prepare). */
int               store_traces_prepare(PGconn *conn);

/* STORE_CONFLICT when the idempotency key is already taken. */
enum store_result store_traces_insert_running(PGconn *conn,
                      const struct trace_new *t);
enum store_result store_traces_get(PGconn *conn, const char *trace_id,
                      struct trace_row *out);
enum store_result store_traces_get_by_idempotency_key(PGconn *conn,
                      const char *key, struct trace_row *out);
/* Loads the policy lines and the key age of account_id; STORE_NOT_FOUND
 * when the account is unknown (the lines are loaded all the same). With
 * account_id NULL only the lines are loaded (an eval brings its own age),
 * and the result is STORE_NOT_FOUND when they were. */
enum store_result store_traces_trusted(PGconn *conn, const char *account_id,
                      struct policy_line *lines, size_t max,
                      size_t *nlines, int *key_age_days);
/* Ends a running trace with f: STORE_OK when f is stored. When PostgreSQL
 * refuses f's data (STORE_DATA_ERROR, e.g. provider metadata it cannot
 * store), retrying would fail the same way: the trace is failed as
 * internal_error without the provider metadata instead, and the result is
 * STORE_NOT_RUNNING, as when someone else (the reaper) ended it first;
 * either way the caller reads the stored state back. Otherwise a database
 * error (store_failed). */
enum store_result store_traces_finish(PGconn *conn, const char *trace_id,
                      const struct trace_finish *f);
/* Fails as worker_lost, in one statement, every running trace whose
 * deadline_at has passed, and those stored without one that are older
 * than fallback_ms; safe when several keyrota instances run it at once.
 * Returns the number of traces reaped, or -1. */
long              store_traces_reap(PGconn *conn, unsigned fallback_ms);
/* Deletes at most batch finished traces and batch eval runs older than
 * days, oldest first, skipping rows another session holds (README, "Trace
 * retention"). Returns 0 with the counts, or -1 (logged; a database
 * without keyrota_expire says to run keyrota migrate). */
int               store_traces_expire(PGconn *conn, unsigned days,
                      unsigned batch, long *traces, long *eval_runs);

#endif
