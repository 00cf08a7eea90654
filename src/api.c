#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "alloc.h"
#include "api.h"
#include "app.h"
#include "db_pool.h"
#include "decide.h"
#include "http.h"
#include "report.h"
#include "respond.h"
#include "store_traces.h"

#define FAILED_MESSAGE "Decision unavailable; retry safely."
#define TRACE_DB_WAIT_MS 2000
/* Seconds a client waits before polling a decision still running. */
#define RUNNING_RETRY_AFTER_S 1

struct json_object *
api_outcome_json(const struct decide_outcome *o)
{
	struct json_object *obj = kr_json_object();
	struct json_object *ids = kr_json_array();
	size_t i;

	kr_json_add(obj, "trace_id",
	    kr_json_string(o->trace_id));
	kr_json_add(obj, "status", kr_json_string(
	    store_traces_status_name(o->status)));
	if (o->has_decision)
		kr_json_add(obj, "decision",
		    kr_json_string(answer_decision_name(o->decision)));
	else
		kr_json_add_null(obj, "decision");
	for (i = 0; i < o->nsources; i++)
		kr_json_push(ids, kr_json_string(o->sources[i]));
	kr_json_add(obj, "source_line_ids", ids);
	if (o->status == TRACE_FAILED)
		kr_json_add(obj, "error_code",
		    kr_json_string(kr_error_code(o->trace_error)));
	else
		kr_json_add_null(obj, "error_code");
	if (o->status == TRACE_FAILED)
		kr_json_add(obj, "error", kr_json_string(FAILED_MESSAGE));
	else
		kr_json_add_null(obj, "error");
	return obj;
}

/* A parked request's answer: the outcome, or the refusal. */
static void
decided(void *ctx, const struct decide_outcome *o)
{
	struct app_parked *flow = ctx;
	struct view v = { .error = o->error,
	    .retry_after_s = o->retry_after_s };

	if (o->error == KR_OK) {
		v.json = api_outcome_json(o);
		/* A repeat of a decision still running answers its state. */
		if (o->status == TRACE_RUNNING) {
			v.status = 202;
			v.retry_after_s = RUNNING_RETRY_AFTER_S;
		}
	}
	respond(flow->req, flow->app, &v);
	http_request_finish(flow->req);
	free(flow);
}

static void
key_invalid(struct report_errors *errs)
{
	if (errs->n == REPORT_MAX_ERRORS)
		return;
	snprintf(errs->e[errs->n].field, sizeof(errs->e[0].field),
	    "Idempotency-Key");
	errs->e[errs->n++].message = "must be 1 to 128 visible ASCII characters";
}

enum handler_result
api_decide(struct app *app, struct http_request *req)
{
	struct report_errors errs;
	struct report report;
	struct view v = { .error = KR_INVALID_REQUEST, .fields = &errs };
	const char *key = http_param(req, "HTTP_IDEMPOTENCY_KEY");
	int bad_key = key != NULL && !decide_idempotency_key_valid(key);

	if (report_from_json(buf_str(&req->body), req->body.len, &report,
	    &errs) != 0) {
		if (bad_key)
			key_invalid(&errs);
		respond(req, app, &v);
		return HANDLER_ANSWERED;
	}
	if (bad_key) {
		report_free(&report);
		errs.n = 0;
		key_invalid(&errs);
		respond(req, app, &v);
		return HANDLER_ANSWERED;
	}
	return app_park_on_decision(app, req, &report, key, NULL, decided);
}

enum handler_result
api_trace(struct app *app, struct http_request *req)
{
	struct trace_row row;
	struct decide_outcome o;
	struct view v = { 0 };
	enum store_result r = STORE_NOT_FOUND;
	PGconn *conn;

	if (trace_id_valid(req->route_param)) {
		if ((conn = db_pool_acquire(app->db, TRACE_DB_WAIT_MS)) == NULL)
			r = STORE_UNAVAILABLE;
		else {
			r = store_traces_get(conn, req->route_param, &row);
			db_pool_release(app->db, conn);
		}
	}
	if (r != STORE_OK) {
		respond_missing(req, app, store_failed(r), KR_HTTP_NO_TRACE);
		return HANDLER_ANSWERED;
	}
	decide_outcome_from_row(&row, &o);
	v.json = api_outcome_json(&o);
	kr_json_add(v.json, "created_at",
	    kr_json_string(row.created_at));
	if (row.finished_at[0])
		kr_json_add(v.json, "finished_at",
		    kr_json_string(row.finished_at));
	else
		kr_json_add_null(v.json, "finished_at");
	kr_json_add(v.json, "provider",
	    kr_json_string(row.provider));
	respond(req, app, &v);
	return HANDLER_ANSWERED;
}
