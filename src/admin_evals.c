/* admin_evals: GET /admin/evals, the recorded eval runs over time with
 * their pass rates, and for one run (?run=ID) its cases and the cases that
 * changed against the previous run of the same eval file. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include "admin.h"
#include "app.h"
#include "db_pool.h"
#include "errors.h"
#include "form.h"
#include "http.h"
#include "log.h"
#include "pages.h"
#include "store_evals.h"
#include "template.h"
#include "token.h"

#define DB_WAIT_MS 2000

static int
valid_run_id(const char *s)
{
	return strncmp(s, "ev_", 3) == 0 && token_valid(s + 3, 22);
}

static void
database_unavailable(struct app *app, struct http_request *req)
{
	pages_error(app, req, 503, kr_error_code(KR_DATABASE_UNAVAILABLE),
	    kr_error_explain(KR_DATABASE_UNAVAILABLE), NULL);
}

static enum handler_result
show_runs(struct app *app, struct http_request *req, PGconn *conn)
{
	struct eval_run_row *runs;
	struct json_object *arr, *o;
	struct tctx *ctx, *row;
	enum store_result r = STORE_UNAVAILABLE;
	long total;
	size_t i, n = 0;

	if ((runs = calloc(EVAL_RUNS_SHOWN, sizeof(*runs))) != NULL)
		r = store_evals_runs(conn, runs, EVAL_RUNS_SHOWN, &n);
	db_pool_release(app->db, conn);
	if (r != STORE_OK) {
		database_unavailable(app, req);
		goto out;
	}
	if (http_wants_json(req)) {
		arr = json_object_new_array();
		for (i = 0; i < n; i++) {
			o = json_object_new_object();
			json_object_object_add(o, "run_id",
			    json_object_new_string(runs[i].run_id));
			json_object_object_add(o, "eval_file",
			    json_object_new_string(runs[i].eval_file));
			json_object_object_add(o, "gen_ai.system",
			    json_object_new_string(runs[i].provider));
			json_object_object_add(o, "gen_ai.request.model",
			    json_object_new_string(runs[i].model));
			json_object_object_add(o, "prompt_version",
			    json_object_new_string(runs[i].prompt_version));
			json_object_object_add(o, "started_at",
			    json_object_new_string(runs[i].started_at));
			json_object_object_add(o, "passed",
			    json_object_new_int((int)runs[i].passed));
			json_object_object_add(o, "total", json_object_new_int(
			    (int)(runs[i].passed + runs[i].failed)));
			json_object_array_add(arr, o);
		}
		o = json_object_new_object();
		json_object_object_add(o, "runs", arr);
		http_respond_json(req, 200, o, "Cache-Control: no-store\r\n");
		json_object_put(o);
		goto out;
	}
	ctx = tctx_new();
	tctx_set_bool(ctx, "runs", n > 0);
	tctx_list(ctx, "rows");
	for (i = 0; i < n; i++) {
		row = tctx_list_add(ctx, "rows");
		tctx_set(row, "run_id", runs[i].run_id);
		tctx_set(row, "eval_file", runs[i].eval_file);
		tctx_set(row, "provider", runs[i].provider);
		tctx_set(row, "model", runs[i].model);
		tctx_set(row, "prompt_version", runs[i].prompt_version);
		pages_set_time(row, "started", runs[i].started_at);
		total = runs[i].passed + runs[i].failed;
		tctx_setf(row, "passed", "%ld", runs[i].passed);
		tctx_setf(row, "total", "%ld", total);
		tctx_setf(row, "rate", "%ld", total > 0 ?
		    runs[i].passed * 100 / total : 0);
	}
	pages_send(app, req, 200, PAGE_ADMIN_EVALS, ctx, "Eval runs", NULL);
	tctx_free(ctx);
out:
	free(runs);
	return HANDLER_ANSWERED;
}

/* A case changed when it is new, or passes or answers differently than in
 * the previous run. */
static int
case_changed(const struct eval_run_row *run, const struct eval_case_row *c)
{
	return run->previous_run_id[0] != '\0' && (!c->had_previous ||
	    c->passed != c->previous_passed ||
	    strcmp(c->got, c->previous_got) != 0);
}

static void
run_json(struct http_request *req, const struct eval_run_row *run,
    const struct eval_case_row *cases, size_t n)
{
	struct json_object *o, *arr, *c;
	size_t i;

	o = json_object_new_object();
	arr = json_object_new_array();
	json_object_object_add(o, "run_id", json_object_new_string(run->run_id));
	json_object_object_add(o, "previous_run_id", run->previous_run_id[0] ?
	    json_object_new_string(run->previous_run_id) : NULL);
	json_object_object_add(o, "passed", json_object_new_int(
	    (int)run->passed));
	json_object_object_add(o, "failed", json_object_new_int(
	    (int)run->failed));
	for (i = 0; i < n; i++) {
		c = json_object_new_object();
		json_object_object_add(c, "name",
		    json_object_new_string(cases[i].name));
		json_object_object_add(c, "passed",
		    json_object_new_boolean(cases[i].passed));
		json_object_object_add(c, "expected",
		    json_object_new_string(cases[i].expected));
		json_object_object_add(c, "got",
		    json_object_new_string(cases[i].got));
		json_object_object_add(c, "changed",
		    json_object_new_boolean(case_changed(run, &cases[i])));
		json_object_array_add(arr, c);
	}
	json_object_object_add(o, "cases", arr);
	http_respond_json(req, 200, o, "Cache-Control: no-store\r\n");
	json_object_put(o);
}

static enum handler_result
show_run(struct app *app, struct http_request *req, PGconn *conn,
    const char *run_id)
{
	struct eval_run_row run;
	struct eval_case_row *cases = NULL, *c;
	struct tctx *ctx, *row;
	enum store_result r;
	size_t i, n = 0, nchanged = 0;

	r = store_evals_run(conn, run_id, &run);
	if (r == STORE_OK)
		r = store_evals_cases(conn, run_id, run.previous_run_id,
		    &cases, &n);
	db_pool_release(app->db, conn);
	if (r == STORE_NOT_FOUND) {
		pages_error(app, req, 404, "not_found",
		    "There is no eval run with this id.", NULL);
		goto out;
	}
	if (r != STORE_OK) {
		database_unavailable(app, req);
		goto out;
	}
	if (http_wants_json(req)) {
		run_json(req, &run, cases, n);
		goto out;
	}
	ctx = tctx_new();
	tctx_set(ctx, "run_id", run.run_id);
	tctx_set(ctx, "eval_file", run.eval_file);
	tctx_set(ctx, "provider", run.provider);
	tctx_set(ctx, "model", run.model);
	tctx_set(ctx, "prompt_version", run.prompt_version);
	pages_set_time(ctx, "started", run.started_at);
	tctx_setf(ctx, "passed", "%ld", run.passed);
	tctx_setf(ctx, "failed", "%ld", run.failed);
	tctx_set(ctx, "previous_id", run.previous_run_id);
	tctx_set_bool(ctx, "has_previous", run.previous_run_id[0] != '\0');
	tctx_list(ctx, "changes");
	tctx_list(ctx, "cases");
	for (i = 0; i < n; i++) {
		c = &cases[i];
		row = tctx_list_add(ctx, "cases");
		tctx_set(row, "case_name", c->name);
		tctx_set(row, "result", c->passed ? "PASS" : "FAIL");
		tctx_set(row, "expected", c->expected);
		tctx_set(row, "got", c->got);
		tctx_setf(row, "latency", "%ld", c->latency_ms);
		if (!case_changed(&run, c))
			continue;
		nchanged++;
		row = tctx_list_add(ctx, "changes");
		tctx_set(row, "case_name", c->name);
		tctx_setf(row, "before", "%s%s", c->had_previous ?
		    (c->previous_passed ? "PASS: " : "FAIL: ") : "",
		    c->had_previous ? c->previous_got : "(new case)");
		tctx_setf(row, "now", "%s: %s", c->passed ? "PASS" : "FAIL",
		    c->got);
	}
	tctx_set_bool(ctx, "changed", nchanged > 0);
	pages_send(app, req, 200, PAGE_ADMIN_EVAL_RUN, ctx, "Eval run", NULL);
	tctx_free(ctx);
out:
	free(cases);
	return HANDLER_ANSWERED;
}

enum handler_result
admin_evals(struct app *app, struct http_request *req)
{
	const char *run;
	struct form q;
	PGconn *conn;
	enum handler_result r;

	if (!admin_authenticated(app, req))
		return HANDLER_ANSWERED;
	if (form_parse(&q, req->query, strlen(req->query)) != FORM_OK) {
		pages_error(app, req, 422, "invalid_request",
		    "The address could not be read.", NULL);
		return HANDLER_ANSWERED;
	}
	run = form_get(&q, "run");
	if (run != NULL && *run != '\0' && !valid_run_id(run)) {
		form_free(&q);
		pages_error(app, req, 404, "not_found",
		    "There is no eval run with this id.", NULL);
		return HANDLER_ANSWERED;
	}
	if ((conn = db_pool_acquire(app->db, DB_WAIT_MS)) == NULL) {
		form_free(&q);
		database_unavailable(app, req);
		return HANDLER_ANSWERED;
	}
	r = run != NULL && *run != '\0' ? show_run(app, req, conn, run) :
	    show_runs(app, req, conn);
	form_free(&q);
	return r;
}
