#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "clock.h"
#include "config.h"
#include "db_pool.h"
#include "decide.h"
#include "fingerprint.h"
#include "log.h"
#include "metrics.h"
#include "prompt.h"
#include "provider.h"
#include "report.h"

#define DB_WAIT_MS 3000
#define JOB_MAX_LINES 16

struct decide_job {
	struct app             *app;
	struct report           report;
	char                    trace_id[TRACE_ID_SIZE];
	struct timespec         started;
	struct timespec         provider_started;
	struct policy_line      lines[JOB_MAX_LINES];
	size_t                  nlines;
	int                     key_age_days;
	struct provider_call    call;
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
	if (strcmp(row->status, "completed") == 0) {
		o->status = TRACE_COMPLETED;
		o->has_decision = decision_from_name(row->decision,
		    &o->decision) == 0;
		o->rotation_window_days = row->rotation_window_days;
		o->nsources = row->nsources;
		for (i = 0; i < row->nsources; i++)
			memcpy(o->sources[i], row->sources[i], POLICY_ID_MAX);
	} else if (strcmp(row->status, "failed") == 0) {
		o->status = TRACE_FAILED;
		o->trace_error = kr_error_from_code(row->error_code);
		if (o->trace_error == KR_ERROR__MAX)
			o->trace_error = KR_INTERNAL_ERROR;
	} else
		o->status = TRACE_RUNNING;
}

static void
job_free(struct decide_job *job)
{
	report_free(&job->report);
	free(job);
}

/* Tells the caller the outcome; the job ends here. */
static void
job_end(struct decide_job *job, const struct decide_outcome *o)
{
	struct app *app = job->app;

	job->on_done(job->ctx, o);
	job_free(job);
	in_flight(app, -1);
}

/* Answers without a trace (or about one that could not be finished). */
static void
end_without_trace(struct decide_job *job, enum kr_error e)
{
	struct decide_outcome o;

	memset(&o, 0, sizeof(o));
	o.error = e;
	job_end(job, &o);
}

/* Acquires a connection; one that went stale while idle is replaced once
 * by the caller checking PQstatus after a failure. */
static PGconn *
acquire(struct app *app)
{
	return db_pool_acquire(app->db, DB_WAIT_MS);
}

/* Writes the terminal state, then tells the caller what is stored. */
static void
finish(struct decide_job *job, const struct trace_finish *f)
{
	struct app *app = job->app;
	struct decide_outcome o;
	struct trace_row row;
	enum store_result r = STORE_UNAVAILABLE;
	PGconn *conn;
	int attempt;
	size_t i;

	for (attempt = 0; attempt < 2 && r == STORE_UNAVAILABLE; attempt++) {
		if ((conn = acquire(app)) == NULL)
			break;
		r = trace_store_finish(conn, job->trace_id, f);
		if (r == STORE_NOT_RUNNING &&
		    trace_store_get(conn, job->trace_id, &row) != STORE_OK)
			r = STORE_UNAVAILABLE;
		db_pool_release(app->db, conn);
	}
	if (r == STORE_UNAVAILABLE) {
		/* The row stays running; the reaper will fail it. */
		log_trace(LOG_LEVEL_ERROR, job->trace_id,
		    "trace could not be finished");
		end_without_trace(job, KR_DATABASE_UNAVAILABLE);
		return;
	}
	if (r == STORE_NOT_RUNNING) {
		/* Someone else (the reaper) finished it first: theirs stands. */
		decide_outcome_from_row(&row, &o);
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
	metrics_decision(o.status, o.has_decision, o.decision, o.trace_error);
	job_end(job, &o);
}

static void
fail_trace(struct decide_job *job, enum kr_error e)
{
	struct trace_finish f;

	memset(&f, 0, sizeof(f));
	f.status = TRACE_FAILED;
	f.error = e;
	f.input_tokens = f.output_tokens = -1;
	f.latency_ms = clock_since_ms(&job->started);
	finish(job, &f);
}

/* The model answered (or failed): parse, verify, record. */
static void
provider_done(void *arg, struct provider_result *res)
{
	struct decide_job *job = arg;
	struct trusted_context t = { job->key_age_days, job->lines,
	    job->nlines };
	struct model_answer a;
	struct trace_finish f;
	enum kr_error e;

	memset(&f, 0, sizeof(f));
	f.response_model = res->response_model;
	f.response_id = res->response_id;
	f.finish_reason = res->finish_reason;
	f.attempts = res->attempts;
	f.input_tokens = res->input_tokens;
	f.output_tokens = res->output_tokens;

	metrics_provider(clock_since_ms(&job->provider_started), res->attempts);
	e = res->error;
	if (e == KR_OK)
		e = answer_parse(res->text, res->text_len, &a);
	if (e == KR_OK) {
		f.has_model_decision = 1;
		f.model_decision = a.decision;
		e = decision_verify(&a, &t);
	}
	f.latency_ms = clock_since_ms(&job->started);
	if (e == KR_OK) {
		f.status = TRACE_COMPLETED;
		f.answer = &a;
	} else {
		f.status = TRACE_FAILED;
		f.error = kr_error_is_trace_error(e) ? e : KR_INTERNAL_ERROR;
	}
	finish(job, &f);
}

/* Idempotent repeat or conflict: compare the stored request digest. */
static void
answer_repeat(struct decide_job *job, PGconn *conn, const char *key,
    const char *digest)
{
	struct decide_outcome o;
	struct trace_row row;
	enum store_result r;

	r = trace_store_get_by_idempotency_key(conn, key, &row);
	db_pool_release(job->app->db, conn);
	if (r != STORE_OK) {
		end_without_trace(job, KR_DATABASE_UNAVAILABLE);
		return;
	}
	if (strcmp(row.request_digest, digest) != 0) {
		end_without_trace(job, KR_IDEMPOTENCY_CONFLICT);
		return;
	}
	decide_outcome_from_row(&row, &o);
	o.replayed = 1;
	job_end(job, &o);
}

/* eval_age_days >= 0: an eval case, whose trusted key age it states
 * (the accounts table is not read); -1 for a real report. */
static void
start(struct app *app, struct report *report, const char *key,
    int eval_age_days, decide_fn on_running, decide_fn on_done, void *ctx)
{
	struct decide_job *job;
	struct trace_new tn;
	struct decide_outcome o;
	enum store_result r = STORE_UNAVAILABLE;
	char fp[FINGERPRINT_HEX + 1], digest[65];
	PGconn *conn = NULL;
	int attempt;

	in_flight(app, 1);
	if ((job = calloc(1, sizeof(*job))) == NULL) {
		report_free(report);
		memset(&o, 0, sizeof(o));
		o.error = KR_INTERNAL_ERROR;
		on_done(ctx, &o);
		in_flight(app, -1);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &job->started);
	job->app = app;
	job->report = *report;
	memset(report, 0, sizeof(*report));
	job->on_running = on_running;
	job->on_done = on_done;
	job->ctx = ctx;
	if (trace_id_new(job->trace_id) != 0) {
		end_without_trace(job, KR_INTERNAL_ERROR);
		return;
	}
	fingerprint_report(app->fingerprint_key, job->report.credential_report,
	    fp);
	fingerprint_request(app->fingerprint_key, job->report.account_id,
	    job->report.credential_report, job->report.item, digest);

	memset(&tn, 0, sizeof(tn));
	tn.trace_id = job->trace_id;
	tn.account_id = job->report.account_id;
	tn.prompt_version = PROMPT_VERSION;
	tn.provider = app->provider->ops->name;
	tn.request_model = app->provider->model;
	tn.idempotency_key = key;
	tn.request_digest = key != NULL ? digest : NULL;
	tn.input_fingerprint = fp;
	tn.fingerprint_key_id = app->fingerprint_key->id;
	tn.deadline_ms = app->provider->deadline_ms + app->cfg->reaper_grace_ms;
	tn.eval = eval_age_days >= 0;

	/* The running row is committed before anything else happens; a
	 * connection that went stale while idle gets one replacement. */
	for (attempt = 0; attempt < 2 && r == STORE_UNAVAILABLE; attempt++) {
		if (conn != NULL)
			db_pool_release(app->db, conn);
		if ((conn = acquire(app)) == NULL)
			break;
		r = trace_store_insert_running(conn, &tn);
		if (r == STORE_UNAVAILABLE && PQstatus(conn) == CONNECTION_OK)
			break;
	}
	if (r == STORE_DUPLICATE) {
		answer_repeat(job, conn, key, digest);
		return;
	}
	if (r != STORE_OK) {
		db_pool_release(app->db, conn);
		end_without_trace(job, KR_DATABASE_UNAVAILABLE);
		return;
	}
	r = trace_store_trusted(conn, tn.eval ? NULL : job->report.account_id,
	    job->lines, JOB_MAX_LINES, &job->nlines, &job->key_age_days);
	db_pool_release(app->db, conn);   /* never held across the model call */
	if (tn.eval && r == STORE_NOT_FOUND) {
		r = STORE_OK;
		job->key_age_days = eval_age_days;
	}

	if (on_running != NULL) {
		memset(&o, 0, sizeof(o));
		memcpy(o.trace_id, job->trace_id, sizeof(o.trace_id));
		o.status = TRACE_RUNNING;
		on_running(ctx, &o);
	}
	if (r == STORE_NOT_FOUND) {
		fail_trace(job, KR_UNKNOWN_ACCOUNT);
		return;
	}
	if (r != STORE_OK) {
		fail_trace(job, KR_INTERNAL_ERROR);
		return;
	}
	job->call.report = job->report.credential_report;
	job->call.item = job->report.item;
	job->call.lines = job->lines;
	job->call.nlines = job->nlines;
	clock_gettime(CLOCK_MONOTONIC, &job->provider_started);
	provider_decide(app->provider, &job->call, provider_done, job);
}

void
decide_start(struct app *app, struct report *report, const char *key,
    decide_fn on_running, decide_fn on_done, void *ctx)
{
	start(app, report, key, -1, on_running, on_done, ctx);
}

void
decide_start_eval(struct app *app, struct report *report, int key_age_days,
    decide_fn on_done, void *ctx)
{
	start(app, report, NULL, key_age_days, NULL, on_done, ctx);
}
