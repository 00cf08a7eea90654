/* metrics: Prometheus counters shared by every process of one keyrota.
 *
 * The counters live in one anonymous shared mapping that the supervisor
 * creates before it forks, so every worker (and every replacement of a
 * worker) adds to the same numbers with atomic operations, and any worker
 * can render them for GET /metrics. Without metrics_init (tests, CLI
 * commands) every call is a no-op. The families, their types and labels
 * are listed in the README, "Metrics". */
#ifndef KEYROTA_METRICS_H
#define KEYROTA_METRICS_H

#include "buf.h"
#include "answer.h"
#include "errors.h"
#include "provider.h"
#include "store_traces.h"

#define METRICS_MAX_ROUTES 16
/* keyrota_eval_last_run_* is read from the database at most this often. */
#define METRICS_EVAL_REFRESH_S 30

/* What keyrota_build_info and the provider families are labelled with:
 * one provider and model per instance, from its configuration. */
struct metrics_info {
	const char *version;
	const char *prompt_version;
	const char *provider;
	const char *model;
};

/* Names the routes (by index; index -1 is "unmatched") and maps the shared
 * counters. Called in the supervisor, whose pid it records for the
 * process_* families. Returns 0, or -1 when the mapping fails. */
int  metrics_init(const char *const *route_names, int nroutes);

/* A response was written: its route, method, status and the seconds from
 * accept to the response handed to nginx. */
void metrics_request(int route_index, const char *method, int status,
         double seconds);
/* A trace reached a terminal state. */
void metrics_decision(enum trace_status status, int has_decision,
         enum decision decision, enum kr_error error);
/* The reaper failed n running traces as worker_lost: they count in
 * keyrota_decisions_total like any other terminal trace. */
void metrics_reaped(long n);
/* A decision's model calls ended: each attempt of res->log by its error
 * and duration, the retries among them, and the tokens used. */
void metrics_provider(const struct provider_result *res);
void metrics_in_flight(int delta);
/* Decisions in flight in every worker now (0 without metrics_init). */
long metrics_decisions_in_flight(void);
/* A worker process takes its share of the in-flight gauge; once it is
 * gone (reaped by the supervisor), whatever it still counted is taken out:
 * a worker that died never finishes those decisions. */
void metrics_process_start(int pid);
void metrics_process_gone(int pid);
/* This worker's database pool now: its connections idle and in use (or
 * being opened), and its size. keyrota_db_pool_* sums the live workers. */
void metrics_db_pool(unsigned idle, unsigned in_use, unsigned size);
/* The calling process (supervisor or worker) counts its open descriptors
 * for process_open_fds; each calls it on its periodic tick. */
void metrics_self_sample(void);
/* Admission (README, "Under load"). Takes one of the instance's cap
 * decisions in flight (this process's share included) and returns 0, or
 * returns -1 when cap are in flight already; cap 0 admits everything.
 * metrics_in_flight(-1) gives the slot back. */
int  metrics_admit_decision(long cap);
/* The model-call budget of the current wall-clock minute, shared by every
 * worker: takes one call (attempt) and returns 0 with *minute set to the
 * minute it counts in, or returns -1 with *retry_after_s set to the
 * seconds until the minute rolls over. budget 0 is unlimited. */
int  metrics_budget_take(unsigned budget, long *minute,
         unsigned *retry_after_s);
/* Gives back a call taken in minute that was never made (no-op once the
 * minute has rolled over). */
void metrics_budget_refund(long minute);
/* A request refused at admission, by its error (overloaded, ...). */
void metrics_refused(enum kr_error e);
/* accept() failed for lack of descriptors and the accept thread backed
 * off. */
void metrics_accept_backoff(void);
void metrics_worker_restart(void);
void metrics_db_connect_failure(void);
/* Rows the retention purge deleted. */
void metrics_expired(long traces, long eval_runs);

/* True for one caller per METRICS_EVAL_REFRESH_S in the whole instance:
 * that caller reads the newest eval run and reports it with
 * metrics_eval_last_run (or not at all when the database is down; the
 * next try is a period later). */
int  metrics_eval_refresh_due(void);
/* The newest eval run: its passed and failed cases and when it started
 * (seconds since the epoch). */
void metrics_eval_last_run(long passed, long failed, long long started_s);

/* Spans of the OTLP exporter (otlp.h), by what became of them. */
enum metrics_otlp {
	METRICS_OTLP_EXPORTED,       /* the collector took them (2xx) */
	METRICS_OTLP_DROPPED,        /* the queue was full */
	METRICS_OTLP_FAILED,         /* their export failed; not retried */
	METRICS_OTLP__MAX
};
void metrics_otlp(enum metrics_otlp what, long spans);

/* The Prometheus text exposition (format 0.0.4). */
void metrics_render(struct buf *out, const struct metrics_info *info);

#endif
