#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "app.h"
#include "clock.h"
#include "config.h"
#include "db_pool.h"
#include "decide.h"
#include "executor.h"
#include "fingerprint.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "otlp.h"
#include "policy_set.h"
#include "prompt.h"
#include "provider.h"
#include "report.h"

/* The database step that starts a decision (a connection, the running row,
 * the trusted records) gives up after this, queueing included: the wait a
 * client sees when PostgreSQL does not answer (README, "Faults"). */
#define DB_START_MS       2500
/* A start step that waited in the executor's queue until less than this
 * is left of DB_START_MS is refused as overloaded rather than tried: the
 * database pool would not wait for a connection that late
 * (DB_MIN_ATTEMPT_MS), and a queue that old means the worker is
 * saturated. Admission does not refuse on the queue's age: a client
 * refused at once sends again at once, and that churn of connections
 * took the CPU the queue needed (README, "Under load"); waiting its turn
 * paces it. */
#define START_QUEUED_MAX_MS (DB_START_MS - DB_MIN_ATTEMPT_MS - 100)
/* Something waiting on the database this long while nothing came back
 * means one that does not answer, not one that is busy (db_pool.h). */
#define DB_STALLED_MS       1000
/* One try of the terminal write. */
#define DB_ATTEMPT_MS     3000
/* Past the model deadline, a client whose trace cannot be written yet gets
 * the running trace, well before nginx's read timeout (model + 10 s). */
#define ANSWER_GRACE_MS   5000
#define RETRY_FIRST_MS    100
#define RETRY_MAX_MS      1000
/* An overloaded instance frees slots as decisions end, every moment. */
#define OVERLOADED_RETRY_AFTER_S 1

struct decide_job {
	struct app             *app;
	struct report           report;
	char                    trace_id[TRACE_ID_SIZE];
	char                    key[IDEMPOTENCY_KEY_MAX + 1];
	char                    fp[FINGERPRINT_HEX + 1];
	char                    digest[65];
	struct trace_new        tn;
	struct timespec         started;
	long long               start_ns;        /* wall clock, for spans */
	/* A caller's W3C trace context (traceparent), continued by the
	 * exported spans; "" when there was none. */
	char                    parent_trace[TRACE_ID_W3C_SIZE];
	char                    parent_span[OTLP_SPAN_ID_SIZE];
	struct provider_attempt log[PROVIDER_ATTEMPTS_MAX];
	unsigned                nlog;
	long long               start_by_ms;     /* the start step's deadline */
	long long               answer_by_ms;    /* the client's answer */
	long long               deadline_ms;     /* the trace's deadline */
	const struct policy_set *policy;         /* shared; NULL until loaded */
	int                     key_age_days;
	struct provider_call    call;
	/* Results of the database steps, written on executor threads. */
	enum store_result       start_result;
	enum store_result       trusted_result;
	enum store_result       finish_result;
	struct trace_row        row;
	/* The terminal state, owned by the job until it is written. */
	struct trace_finish     fin;
	struct model_answer     answer;
	char                    response_model[128];
	char                    response_id[128];
	char                    finish_reason[32];
	unsigned                retry_ms;
	long                    budget_minute;   /* its model call counts here */
	int                     model_called;
	int                     eval_age_days;   /* -1: not an eval case */
	int                     written;         /* the running row is */
	int                     answered;        /* on_done has run */
	int                     settled;         /* its budget is settled */
	decide_fn               on_running;
	decide_fn               on_done;
	void                   *ctx;
};

static void
in_flight(struct app *app, int delta)
{
	atomic_fetch_add(&app->decisions, delta);
	metrics_in_flight(delta);
}

int
decide_idempotency_key_valid(const char *key)
{
	size_t n = 0;

	for (; key[n] != '\0'; n++)
		if (key[n] < 0x21 || key[n] > 0x7e)
			return 0;
	return n >= 1 && n <= IDEMPOTENCY_KEY_MAX;
}

void
decide_outcome_from_row(const struct trace_row *row, struct decide_outcome *o)
{
	size_t i;

	memset(o, 0, sizeof(*o));
	memcpy(o->trace_id, row->trace_id, sizeof(o->trace_id));
	o->status = row->status;
	if (row->status == TRACE_COMPLETED) {
		o->has_decision = row->has_decision;
		o->decision = row->decision;
		o->rotation_window_days = row->rotation_window_days;
		o->nsources = row->nsources;
		for (i = 0; i < row->nsources; i++)
			memcpy(o->sources[i], row->sources[i], POLICY_ID_MAX);
	} else if (row->status == TRACE_FAILED)
		o->trace_error = row->error;
}

static void
job_free(struct decide_job *job)
{
	report_free(&job->report);
	policy_set_release(job->policy);
	free(job);
}

/* Tells the caller the outcome, once. */
static void
job_answer(struct decide_job *job, const struct decide_outcome *o)
{
	if (!job->answered) {
		job->answered = 1;
		job->on_done(job->ctx, o);
	}
}

/* Gives back, once, the model call admission took for the job when it was
 * never made, then tells the caller. */
static void
job_settle(struct decide_job *job, const struct decide_outcome *o)
{
	if (!job->settled && !job->model_called &&
	    job->app->cfg->model_budget_per_minute > 0)
		metrics_budget_refund(job->budget_minute);
	job->settled = 1;
	job_answer(job, o);
}

/* The job ends here; the caller has its answer. */
static void
job_end(struct decide_job *job, const struct decide_outcome *o)
{
	struct app *app = job->app;

	job_settle(job, o);
	job_free(job);
	in_flight(app, -1);
}

/* Answers without a trace. */
static void
end_without_trace(struct decide_job *job, enum kr_error e)
{
	struct decide_outcome o;

	memset(&o, 0, sizeof(o));
	o.error = e;
	if (e == KR_DATABASE_UNAVAILABLE)
		o.retry_after_s = 5;
	else if (e == KR_OVERLOADED)
		o.retry_after_s = OVERLOADED_RETRY_AFTER_S;
	job_end(job, &o);
}

/* The trace exists but is not terminal yet: the client gets its id. */
static void
running_outcome(const struct decide_job *job, struct decide_outcome *o)
{
	memset(o, 0, sizeof(*o));
	memcpy(o->trace_id, job->trace_id, sizeof(o->trace_id));
	o->status = TRACE_RUNNING;
}

/* urgent: a terminal write, which goes ahead of the start steps queued on
 * the executor (executor.h). */
static void
submit(struct decide_job *job, executor_fn fn, int urgent)
{
	struct decide_outcome o;

	/* CLI commands (eval) run without an executor: the step runs on the
	 * calling thread. */
	if (job->app->exec == NULL) {
		fn(job);
		return;
	}
	if ((urgent ? executor_submit_urgent : executor_submit)(job->app->exec,
	    fn, job) == 0)
		return;
	/* Stopping: the trace, if any, stays running and the reaper ends it
	 * at its deadline. */
	log_trace(LOG_LEVEL_ERROR, job->trace_id,
	    "cannot queue the decision's database step");
	if (job->written) {
		running_outcome(job, &o);
		job_end(job, &o);
	} else
		end_without_trace(job, KR_DATABASE_UNAVAILABLE);
}

static int
finish_op(PGconn *conn, void *arg)
{
	struct decide_job *job = arg;

	job->finish_result = store_traces_finish(conn, job->trace_id, &job->fin);
	if (job->finish_result == STORE_NOT_RUNNING &&
	    store_traces_get(conn, job->trace_id, &job->row) != STORE_OK)
		job->finish_result = STORE_UNAVAILABLE;
	return store_failed(job->finish_result) ? -1 : 0;
}

/* The route both the JSON API and the form post decisions on. */
#define DECIDE_SPAN_NAME "POST /rotation/decide"

/* Hands a trace this job finished to the exporter (docs/telemetry.md):
 * copies only, never the report. row: the stored trace when another
 * write than this job's stood (the store's internal_error fallback, which
 * drops the model's metadata, or a reaper); its values are exported. */
static void
export_trace(const struct decide_job *job, const struct decide_outcome *o,
    const struct trace_row *row)
{
	struct otlp_trace t;
	struct timespec now;

	if (job->app->otlp == NULL)
		return;
	memset(&t, 0, sizeof(t));
	memcpy(t.trace_id, job->trace_id, sizeof(t.trace_id));
	if (job->parent_trace[0] != '\0') {
		memcpy(t.otel_trace_id, job->parent_trace,
		    sizeof(t.otel_trace_id));
		memcpy(t.parent_span_id, job->parent_span,
		    sizeof(t.parent_span_id));
	} else if (trace_id_to_w3c(job->trace_id, t.otel_trace_id) != 0)
		return;
	snprintf(t.route, sizeof(t.route), "%s", DECIDE_SPAN_NAME);
	clock_gettime(CLOCK_REALTIME, &now);
	t.start_ns = job->start_ns;
	t.end_ns = (long long)now.tv_sec * 1000000000LL + now.tv_nsec;
	t.status = o->status;
	t.has_decision = o->has_decision;
	t.decision = o->decision;
	t.error = o->trace_error;
	t.provider = job->app->provider->ops->name;
	snprintf(t.request_model, sizeof(t.request_model), "%s",
	    job->app->provider->model);
	if (row != NULL) {
		snprintf(t.response_model, sizeof(t.response_model), "%s",
		    row->response_model);
		snprintf(t.response_id, sizeof(t.response_id), "%s",
		    row->response_id);
		snprintf(t.finish_reason, sizeof(t.finish_reason), "%s",
		    row->finish_reason);
		t.input_tokens = row->input_tokens;
		t.output_tokens = row->output_tokens;
	} else {
		memcpy(t.response_model, job->response_model,
		    sizeof(t.response_model));
		memcpy(t.response_id, job->response_id, sizeof(t.response_id));
		memcpy(t.finish_reason, job->finish_reason,
		    sizeof(t.finish_reason));
		t.input_tokens = job->fin.input_tokens;
		t.output_tokens = job->fin.output_tokens;
	}
	memcpy(t.log, job->log, sizeof(t.log));
	t.nlog = job->nlog;
	otlp_submit(job->app->otlp, &t);
}

static void finish_step(void *arg);

static void
finish_retry(void *arg)
{
	submit(arg, finish_step, 1);
}

/* On an executor thread: writes the terminal state. A write that fails is
 * tried again, on a new connection when the old one broke, until the
 * trace's deadline; the client is answered by answer_by_ms either way. */
static void
finish_step(void *arg)
{
	struct decide_job *job = arg;
	struct decide_outcome o;
	const struct trace_finish *f = &job->fin;
	long long now = clock_now_ms(), by;
	enum db_run_result r;
	size_t i;

	if (!job->answered && now + RETRY_FIRST_MS >= job->answer_by_ms) {
		running_outcome(job, &o);
		job_answer(job, &o);
	}
	by = now + DB_ATTEMPT_MS;
	if (by > job->deadline_ms)
		by = job->deadline_ms;
	if (!job->answered && by > job->answer_by_ms)
		by = job->answer_by_ms;
	r = db_pool_run(job->app->db, by, DB_RUN_REPEATABLE, finish_op,
	    job);
	if (r != DB_RUN_OK) {
		now = clock_now_ms();
		if (now + job->retry_ms < job->deadline_ms) {
			loop_after(job->app->loop, job->retry_ms, finish_retry,
			    job);
			job->retry_ms = job->retry_ms * 2 > RETRY_MAX_MS ?
			    RETRY_MAX_MS : job->retry_ms * 2;
			return;
		}
		/* The row stays running; a reaper ends it at its deadline. */
		log_trace(LOG_LEVEL_ERROR, job->trace_id,
		    "trace could not be finished before its deadline");
		running_outcome(job, &o);
		job_end(job, &o);
		return;
	}
	if (job->finish_result == STORE_NOT_RUNNING) {
		/* Someone else (the reaper) finished it first: theirs stands. */
		decide_outcome_from_row(&job->row, &o);
	} else {
		memset(&o, 0, sizeof(o));
		memcpy(o.trace_id, job->trace_id, sizeof(o.trace_id));
		o.status = f->status;
		if (f->status == TRACE_COMPLETED) {
			o.has_decision = 1;
			o.decision = f->answer->decision;
			o.rotation_window_days = f->answer->rotation_window_days;
			o.nsources = f->answer->nsources;
			for (i = 0; i < o.nsources; i++)
				memcpy(o.sources[i], f->answer->sources[i],
				    POLICY_ID_MAX);
		} else
			o.trace_error = f->error;
	}
	/* A reaper that ended the trace first has counted it (worker_lost);
	 * the store's own fallback (internal_error) has not. */
	if (!(job->finish_result == STORE_NOT_RUNNING &&
	    o.status == TRACE_FAILED && o.trace_error == KR_WORKER_LOST))
		metrics_decision(o.status, o.has_decision, o.decision,
		    o.trace_error);
	/* Whoever wrote the terminal state, this worker exports it: the
	 * reaper exports nothing. The caller is answered first: the export
	 * is a copy into a queue, never in the answer's way. */
	job_settle(job, &o);
	export_trace(job, &o, job->finish_result == STORE_NOT_RUNNING ?
	    &job->row : NULL);
	job_end(job, &o);
}

/* Hands the terminal state in job->fin to the executor. */
static void
finish(struct decide_job *job)
{
	long long least = clock_now_ms() + DB_ATTEMPT_MS;

	/* A provider slower than the model deadline (a long fixture delay)
	 * still gets one whole try at the write. */
	if (job->deadline_ms < least)
		job->deadline_ms = least;
	if (job->answer_by_ms < least)
		job->answer_by_ms = least;
	job->retry_ms = RETRY_FIRST_MS;
	submit(job, finish_step, 1);
}

static void
fail_trace(struct decide_job *job, enum kr_error e)
{
	memset(&job->fin, 0, sizeof(job->fin));
	job->fin.status = TRACE_FAILED;
	job->fin.error = e;
	job->fin.input_tokens = job->fin.output_tokens = -1;
	job->fin.latency_ms = clock_since_ms(&job->started);
	finish(job);
}

/* The model answered (or failed): parse, verify, record. The result is
 * the provider's only while this runs, so what is kept is copied. */
static void
provider_done(void *arg, struct provider_result *res)
{
	struct decide_job *job = arg;
	struct trusted_context t = { job->key_age_days, job->policy->lines,
	    job->policy->n };
	struct trace_finish *f = &job->fin;
	enum kr_error e;

	memset(f, 0, sizeof(*f));
	memcpy(job->response_model, res->response_model,
	    sizeof(job->response_model));
	memcpy(job->response_id, res->response_id, sizeof(job->response_id));
	memcpy(job->finish_reason, res->finish_reason,
	    sizeof(job->finish_reason));
	f->response_model = job->response_model;
	f->response_id = job->response_id;
	f->finish_reason = job->finish_reason;
	f->attempts = res->attempts;
	job->nlog = res->nlog < PROVIDER_ATTEMPTS_MAX ? res->nlog :
	    PROVIDER_ATTEMPTS_MAX;
	memcpy(job->log, res->log, sizeof(job->log[0]) * job->nlog);
	f->input_tokens = res->input_tokens;
	f->output_tokens = res->output_tokens;

	metrics_provider(res);
	e = res->error;
	if (e == KR_OK)
		e = answer_parse(res->text, res->text_len, &job->answer);
	if (e == KR_OK) {
		f->has_model_decision = 1;
		f->model_decision = job->answer.decision;
		e = answer_verify(&job->answer, &t);
	}
	f->latency_ms = clock_since_ms(&job->started);
	if (e == KR_OK) {
		f->status = TRACE_COMPLETED;
		f->answer = &job->answer;
	} else {
		f->status = TRACE_FAILED;
		f->error = kr_error_is_trace_error(e) ? e : KR_INTERNAL_ERROR;
	}
	finish(job);
}

/* The running row, then the trusted records, on one connection; a repeat
 * of an idempotency key reads the stored trace instead. Safe to run twice:
 * an insert that had committed is recognised as ours. */
static int
start_op(PGconn *conn, void *arg)
{
	struct decide_job *job = arg;
	/* Loaded here (an executor thread's stack), kept as the worker's
	 * shared copy. */
	struct policy_line lines[POLICY_MAX_LINES];
	size_t nlines = 0;

	job->trusted_result = STORE_UNAVAILABLE;
	job->start_result = store_traces_insert_running(conn, &job->tn);
	if (job->start_result == STORE_CONFLICT) {
		if (store_traces_get_by_idempotency_key(conn, job->key,
		    &job->row) != STORE_OK)
			job->start_result = STORE_UNAVAILABLE;
		return job->start_result == STORE_UNAVAILABLE ? -1 : 0;
	}
	if (job->start_result != STORE_OK)
		return -1;
	job->trusted_result = store_traces_trusted(conn, job->tn.eval ? NULL :
	    job->report.account_id, lines, POLICY_MAX_LINES, &nlines,
	    &job->key_age_days);
	if (job->trusted_result == STORE_OK ||
	    job->trusted_result == STORE_NOT_FOUND) {
		policy_set_release(job->policy);    /* a second try */
		job->policy = policy_set_share(lines, nlines);
	}
	return job->trusted_result == STORE_RETRY ? -1 : 0;
}

/* Idempotent repeat or conflict: compare the stored request digest. */
static void
answer_repeat(struct decide_job *job)
{
	struct decide_outcome o;

	if (strcmp(job->row.request_digest, job->digest) != 0) {
		end_without_trace(job, KR_IDEMPOTENCY_CONFLICT);
		return;
	}
	decide_outcome_from_row(&job->row, &o);
	o.replayed = 1;
	job_end(job, &o);
}

/* On an executor thread: the running row is committed before anything
 * else happens, then the model is called without a connection held. */
static void
start_step(void *arg)
{
	struct decide_job *job = arg;
	struct app *app = job->app;
	struct decide_outcome o;

	if (app->exec != NULL && clock_now_ms() - (job->start_by_ms -
	    DB_START_MS) > START_QUEUED_MAX_MS) {
		/* It waited its start budget away in the executor's queue,
		 * before anything was written or a connection taken: behind
		 * steps stuck on a database that does not answer, or behind
		 * other decisions of a saturated instance (refused like
		 * admission). */
		if (db_pool_stalled(app->db, DB_STALLED_MS)) {
			end_without_trace(job, KR_DATABASE_UNAVAILABLE);
			return;
		}
		metrics_refused(KR_OVERLOADED);
		end_without_trace(job, KR_OVERLOADED);
		return;
	}
	job->start_result = STORE_UNAVAILABLE;
	if (db_pool_run(app->db, job->start_by_ms, DB_RUN_REPEATABLE,
	    start_op, job) ==
	    DB_RUN_UNAVAILABLE && job->start_result != STORE_OK) {
		end_without_trace(job, KR_DATABASE_UNAVAILABLE);
		return;
	}
	if (job->start_result == STORE_CONFLICT) {
		answer_repeat(job);
		return;
	}
	if (job->start_result != STORE_OK) {
		end_without_trace(job, KR_DATABASE_UNAVAILABLE);
		return;
	}
	job->written = 1;
	if (job->tn.eval && job->trusted_result == STORE_NOT_FOUND) {
		/* An eval case brings its own key age. */
		job->trusted_result = STORE_OK;
		job->key_age_days = job->eval_age_days;
	}
	if (job->on_running != NULL) {
		running_outcome(job, &o);
		job->on_running(job->ctx, &o);
	}
	if (job->trusted_result == STORE_NOT_FOUND) {
		fail_trace(job, KR_UNKNOWN_ACCOUNT);
		return;
	}
	if (job->trusted_result != STORE_OK) {
		fail_trace(job, KR_INTERNAL_ERROR);
		return;
	}
	job->call.report = job->report.credential_report;
	job->call.item = job->report.item;
	job->call.lines = job->policy->lines;
	job->call.nlines = job->policy->n;
	job->model_called = 1;
	provider_decide(app->provider, &job->call, provider_done, job);
}

int
decide_retry_gate(void *ctx)
{
	const struct config *cfg = ctx;
	unsigned retry_after_s;
	long minute;

	if (metrics_budget_take(cfg->model_budget_per_minute, &minute,
	    &retry_after_s) == 0)
		return 0;
	log_warn("model budget of %u calls a minute spent; no retry",
	    cfg->model_budget_per_minute);
	return -1;
}

/* Admission, before anything is written: a slot of the instance's cap on
 * decisions in flight, then one model call of the minute's budget.
 * Returns 0 with both taken, or -1 with o set to the refusal. */
static int
admit(struct app *app, long *minute, struct decide_outcome *o)
{
	unsigned retry_after_s = 0;

	if (metrics_admit_decision(app->cfg->max_in_flight) != 0) {
		metrics_refused(KR_OVERLOADED);
		o->error = KR_OVERLOADED;
		o->retry_after_s = OVERLOADED_RETRY_AFTER_S;
		return -1;
	}
	if (metrics_budget_take(app->cfg->model_budget_per_minute, minute,
	    &retry_after_s) != 0) {
		metrics_in_flight(-1);
		metrics_refused(KR_MODEL_BUDGET_EXHAUSTED);
		o->error = KR_MODEL_BUDGET_EXHAUSTED;
		o->retry_after_s = retry_after_s;
		return -1;
	}
	atomic_fetch_add(&app->decisions, 1);
	return 0;
}

/* eval_age_days >= 0: an eval case, whose trusted key age it states
 * (the accounts table is not read); -1 for a real report. */
static void
start(struct app *app, struct report *report, const char *key,
    const char *traceparent, int eval_age_days, decide_fn on_running,
    decide_fn on_done, void *ctx)
{
	struct decide_job *job;
	struct decide_outcome o;
	struct timespec wall;
	long long now = clock_now_ms(), newest;
	long minute = 0;

	memset(&o, 0, sizeof(o));
	if (admit(app, &minute, &o) != 0) {
		report_free(report);
		on_done(ctx, &o);
		return;
	}
	job = kr_calloc(1, sizeof(*job));
	job->budget_minute = minute;
	clock_gettime(CLOCK_MONOTONIC, &job->started);
	clock_gettime(CLOCK_REALTIME, &wall);
	job->start_ns = (long long)wall.tv_sec * 1000000000LL + wall.tv_nsec;
	/* Anything but a valid version-00 traceparent is ignored. */
	(void)otlp_traceparent_parse(traceparent, job->parent_trace,
	    job->parent_span);
	job->app = app;
	job->report = *report;
	memset(report, 0, sizeof(*report));
	job->on_running = on_running;
	job->on_done = on_done;
	job->ctx = ctx;
	/* The trace's deadline is its provider's deadline plus the reaper's
	 * grace, as stored with the trace (deadline_at); a drain waits that
	 * long. */
	job->start_by_ms = now + DB_START_MS;
	/* nginx's read timeout rests on the model timeout. */
	job->answer_by_ms = now + app->cfg->model_timeout_ms + ANSWER_GRACE_MS;
	job->deadline_ms = now + app->provider->deadline_ms +
	    app->cfg->reaper_grace_ms;
	newest = atomic_load(&app->newest_deadline_ms);
	while (newest < job->deadline_ms + DB_ATTEMPT_MS &&
	    !atomic_compare_exchange_weak(&app->newest_deadline_ms, &newest,
	    job->deadline_ms + DB_ATTEMPT_MS))
		;
	if (trace_id_new(job->trace_id) != 0) {
		end_without_trace(job, KR_INTERNAL_ERROR);
		return;
	}
	if (key != NULL)
		snprintf(job->key, sizeof(job->key), "%s", key);
	fingerprint_report(app->fingerprint_key, job->report.credential_report,
	    job->fp);
	fingerprint_request(app->fingerprint_key, job->report.account_id,
	    job->report.credential_report, job->report.item, job->digest);

	job->tn.trace_id = job->trace_id;
	job->tn.account_id = job->report.account_id;
	job->tn.prompt_version = PROMPT_VERSION;
	job->tn.provider = app->provider->ops->name;
	job->tn.request_model = app->provider->model;
	job->tn.idempotency_key = key != NULL ? job->key : NULL;
	job->tn.request_digest = key != NULL ? job->digest : NULL;
	job->tn.input_fingerprint = job->fp;
	job->tn.fingerprint_key_id = app->fingerprint_key->id;
	/* Never 0, which the store takes for "no deadline" (older rows). */
	job->tn.deadline_ms = app->provider->deadline_ms +
	    app->cfg->reaper_grace_ms;
	if (job->tn.deadline_ms == 0)
		job->tn.deadline_ms = 1;
	job->tn.eval = eval_age_days >= 0;
	if (job->parent_trace[0] != '\0') {
		job->tn.otel_trace_id = job->parent_trace;
		job->tn.otel_parent_span_id = job->parent_span;
	}
	job->eval_age_days = eval_age_days;

	/* Parked: the database step runs on the executor, never here. */
	submit(job, start_step, 0);
}

void
decide_start(struct app *app, struct report *report, const char *key,
    const char *traceparent, decide_fn on_running, decide_fn on_done,
    void *ctx)
{
	start(app, report, key, traceparent, -1, on_running, on_done, ctx);
}

void
decide_start_eval(struct app *app, struct report *report, int key_age_days,
    decide_fn on_done, void *ctx)
{
	start(app, report, NULL, NULL, key_age_days, NULL, on_done, ctx);
}
