#include "autoconfig.h"

#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "api.h"
#include "app.h"
#include "db_pool.h"
#include "decide.h"
#include "http.h"
#include "report.h"
#include "store_traces.h"

#define FAILED_MESSAGE "Decision unavailable; retry safely."
#define TRACE_DB_WAIT_MS 2000

struct json_object *
api_outcome_json(const struct decide_outcome *o)
{
	struct json_object *obj = json_object_new_object();
	struct json_object *ids = json_object_new_array();
	size_t i;

	json_object_object_add(obj, "trace_id",
	    json_object_new_string(o->trace_id));
	json_object_object_add(obj, "status", json_object_new_string(
	    store_traces_status_name(o->status)));
	json_object_object_add(obj, "decision", o->has_decision ?
	    json_object_new_string(answer_decision_name(o->decision)) : NULL);
	for (i = 0; i < o->nsources; i++)
		json_object_array_add(ids, json_object_new_string(o->sources[i]));
	json_object_object_add(obj, "source_line_ids", ids);
	json_object_object_add(obj, "error_code", o->status == TRACE_FAILED ?
	    json_object_new_string(kr_error_code(o->trace_error)) : NULL);
	json_object_object_add(obj, "error", o->status == TRACE_FAILED ?
	    json_object_new_string(FAILED_MESSAGE) : NULL);
	return obj;
}

static void
respond_invalid(struct http_request *req, const struct report_errors *errs)
{
	struct json_object *obj = json_object_new_object();
	struct json_object *fields = json_object_new_object();
	size_t i;

	json_object_object_add(obj, "error_code",
	    json_object_new_string(kr_error_code(KR_INVALID_REQUEST)));
	json_object_object_add(obj, "error",
	    json_object_new_string(kr_error_explain(KR_INVALID_REQUEST)));
	for (i = 0; i < errs->n; i++)
		json_object_object_add(fields, errs->e[i].field,
		    json_object_new_string(errs->e[i].message));
	json_object_object_add(obj, "fields", fields);
	http_respond_json(req, 422, obj, NULL);
	json_object_put(obj);
}

static void
decided(void *ctx, const struct decide_outcome *o)
{
	struct http_request *req = ctx;
	struct json_object *obj;
	char retry[HTTP_RETRY_AFTER_MAX];

	if (o->error != KR_OK) {
		http_retry_after(retry, sizeof(retry), o->retry_after_s);
		http_respond_error(req, kr_error_http_status(o->error),
		    kr_error_code(o->error), kr_error_explain(o->error), retry);
	} else {
		obj = api_outcome_json(o);
		/* A repeat of a decision still running answers its state. */
		if (o->status == TRACE_RUNNING)
			http_respond_json(req, 202, obj, "Retry-After: 1\r\n");
		else
			http_respond_json(req, 200, obj, NULL);
		json_object_put(obj);
	}
	http_request_finish(req);
}

enum handler_result
api_decide(struct app *app, struct http_request *req)
{
	struct report_errors errs;
	struct report report;
	const char *key = http_param(req, "HTTP_IDEMPOTENCY_KEY");

	if (report_from_json(buf_str(&req->body), req->body.len, &report,
	    &errs) != 0) {
		if (key != NULL && !decide_idempotency_key_valid(key) &&
		    errs.n < REPORT_MAX_ERRORS) {
			snprintf(errs.e[errs.n].field, sizeof(errs.e[0].field),
			    "Idempotency-Key");
			errs.e[errs.n++].message =
			    "must be 1 to 128 visible ASCII characters";
		}
		respond_invalid(req, &errs);
		return HANDLER_ANSWERED;
	}
	if (key != NULL && !decide_idempotency_key_valid(key)) {
		report_free(&report);
		errs.n = 1;
		snprintf(errs.e[0].field, sizeof(errs.e[0].field),
		    "Idempotency-Key");
		errs.e[0].message = "must be 1 to 128 visible ASCII characters";
		respond_invalid(req, &errs);
		return HANDLER_ANSWERED;
	}
	/* Parked: `decided` answers and finishes the request, maybe before
	 * decide_start returns. */
	decide_start(app, &report, key, NULL, decided, req);
	return HANDLER_PARKED;
}

enum handler_result
api_trace(struct app *app, struct http_request *req)
{
	struct trace_row row;
	struct decide_outcome o;
	struct json_object *obj;
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
	if (store_failed(r)) {
		http_respond_error(req, 503, kr_error_code(
		    KR_DATABASE_UNAVAILABLE), kr_error_explain(
		    KR_DATABASE_UNAVAILABLE), "Retry-After: 5\r\n");
		return HANDLER_ANSWERED;
	}
	if (r != STORE_OK) {
		http_respond_error(req, 404, "not_found",
		    "There is no trace with this id.", NULL);
		return HANDLER_ANSWERED;
	}
	decide_outcome_from_row(&row, &o);
	obj = api_outcome_json(&o);
	json_object_object_add(obj, "created_at",
	    json_object_new_string(row.created_at));
	json_object_object_add(obj, "finished_at", row.finished_at[0] ?
	    json_object_new_string(row.finished_at) : NULL);
	json_object_object_add(obj, "provider",
	    json_object_new_string(row.provider));
	http_respond_json(req, 200, obj, "Cache-Control: no-store\r\n");
	json_object_put(obj);
	return HANDLER_ANSWERED;
}
