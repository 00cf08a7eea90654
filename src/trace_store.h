/* trace_store: every SQL statement keyrota runs per request, in one table,
 * prepared once per connection and executed by name. Each call is its own
 * committed statement, so a trace's `running` row is durable before the
 * model is called, and its terminal update applies only to a row that is
 * still running. */
#ifndef KEYROTA_TRACE_STORE_H
#define KEYROTA_TRACE_STORE_H

#include <stddef.h>

#include <libpq-fe.h>

#include "decision.h"
#include "errors.h"
#include "trace_id.h"

enum store_result {
	STORE_OK,
	STORE_DUPLICATE,     /* the idempotency key is already taken */
	STORE_NOT_FOUND,
	STORE_NOT_RUNNING,   /* the trace was already terminal */
	STORE_UNAVAILABLE,   /* database error: see the log */
};

enum trace_status { TRACE_RUNNING, TRACE_COMPLETED, TRACE_FAILED };

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
	char     status[16];
	char     decision[16];
	int      rotation_window_days;          /* -1 when NULL */
	size_t   nsources;
	char     sources[DECISION_MAX_SOURCES][POLICY_ID_MAX];
	char     error_code[32];
	char     model_decision[16];
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
};

/* Prepares every statement on a new connection (a db_pool hook). */
int               trace_store_prepare(PGconn *conn);

enum store_result trace_store_insert_running(PGconn *conn,
                      const struct trace_new *t);
enum store_result trace_store_get(PGconn *conn, const char *trace_id,
                      struct trace_row *out);
enum store_result trace_store_get_by_idempotency_key(PGconn *conn,
                      const char *key, struct trace_row *out);
/* Loads the policy lines and the key age of account_id; STORE_NOT_FOUND
 * when the account is unknown (the lines are loaded all the same). */
enum store_result trace_store_trusted(PGconn *conn, const char *account_id,
                      struct policy_line *lines, size_t max,
                      size_t *nlines, int *key_age_days);
enum store_result trace_store_finish(PGconn *conn, const char *trace_id,
                      const struct trace_finish *f);
/* Fails every trace running longer than older_than_ms as worker_lost, in
 * one statement; safe when several keyrota instances run it at once.
 * Returns the number of traces reaped, or -1. */
long              trace_store_reap(PGconn *conn, unsigned older_than_ms);

#endif
