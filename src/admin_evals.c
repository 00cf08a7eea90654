/* admin_evals: GET /admin/evals, the recorded eval runs over time with
 * their pass rates, and for one run (?run=ID) its cases and the cases that
 * changed against the previous run of the same eval file. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include "admin.h"
#include "alloc.h"
#include "app.h"
#include "db_pool.h"
#include "errors.h"
#include "eval_json.h"
#include "form.h"
#include "http.h"
#include "log.h"
#include "pages.h"
#include "report.h"
#include "respond.h"
#include "store_evals.h"
#include "template.h"
#include "token.h"

#define DB_WAIT_MS 2000

static int
valid_run_id(const char *s)
{
	return strncmp(s, "ev_", 3) == 0 && token_valid(s + 3, 22);
}

/* A run's text, named as in its JSON (NULL: given by eval_json_run
 * instead) and as on its pages: the same in the list and for one
 * run. */
struct run_text {
	const char *json, *page, *value;
};
#define RUN_TEXTS 5

static void
run_texts(const struct eval_run_row *run, struct run_text t[RUN_TEXTS])
{
	t[0] = (struct run_text){ "run_id", "run_id", run->run_id };
	t[1] = (struct run_text){ "eval_file", "eval_file", run->eval_file };
	t[2] = (struct run_text){ NULL, "provider", run->provider };
	t[3] = (struct run_text){ NULL, "model", run->model };
	t[4] = (struct run_text){ NULL, "prompt_version",
	    run->prompt_version };
}

static struct json_object *
run_object(const struct config *cfg, const struct eval_run_row *run)
{
	struct json_object *o;
	struct run_text t[RUN_TEXTS];
	size_t i;

	o = eval_json_run(cfg, run->provider, run->model, run->prompt_version,
	    run->passed, run->failed);
	run_texts(run, t);
	for (i = 0; i < RUN_TEXTS; i++)
		if (t[i].json != NULL)
			kr_json_add(o, t[i].json,
			    kr_json_string(t[i].value));
	kr_json_add(o, "started_at",
	    kr_json_string(run->started_at));
	kr_json_add(o, "total", kr_json_int(
	    (int)(run->passed + run->failed)));
	return o;
}

static void
run_names(struct template_ctx *ctx, const struct eval_run_row *run)
{
	struct run_text t[RUN_TEXTS];
	size_t i;

	run_texts(run, t);
	for (i = 0; i < RUN_TEXTS; i++)
		template_set(ctx, t[i].page, t[i].value);
	pages_set_time(ctx, "started", run->started_at);
	template_setf(ctx, "passed", "%ld", run->passed);
	template_setf(ctx, "failed", "%ld", run->failed);
}

static enum handler_result
show_runs(struct app *app, struct http_request *req, PGconn *conn)
{
	struct eval_run_row *runs;
	struct view v = { .page = PAGE_ADMIN_EVALS, .title = "Eval runs" };
	struct json_object *arr;
	struct template_ctx *row;
	enum store_result r = STORE_UNAVAILABLE;
	long total;
	size_t i, n = 0;

	runs = kr_calloc(EVAL_RUNS_SHOWN, sizeof(*runs));
	r = store_evals_runs(conn, runs, EVAL_RUNS_SHOWN, &n);
	db_pool_release(app->db, conn);
	if (r != STORE_OK) {
		respond_error(req, app, KR_DATABASE_UNAVAILABLE, 0);
		goto out;
	}
	if (http_wants_json(req)) {
		v.page = PAGE_LAYOUT;
		v.json = kr_json_object();
		arr = kr_json_array();
		for (i = 0; i < n; i++)
			kr_json_push(arr, run_object(app->cfg, &runs[i]));
		kr_json_add(v.json, "runs", arr);
	} else {
		v.ctx = template_ctx_new();
		template_set_bool(v.ctx, "runs", n > 0);
		template_list(v.ctx, "rows");
		for (i = 0; i < n; i++) {
			row = template_list_add(v.ctx, "rows");
			run_names(row, &runs[i]);
			total = runs[i].passed + runs[i].failed;
			template_setf(row, "total", "%ld", total);
			template_setf(row, "rate", "%ld", total > 0 ?
			    runs[i].passed * 100 / total : 0);
		}
	}
	respond(req, app, &v);
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

static struct json_object *
run_json(const struct config *cfg, const struct eval_run_row *run,
    const struct eval_case_row *cases, size_t n)
{
	struct json_object *o, *arr, *c;
	size_t i;

	o = run_object(cfg, run);
	arr = kr_json_array();
	if (run->previous_run_id[0])
		kr_json_add(o, "previous_run_id",
		    kr_json_string(run->previous_run_id));
	else
		kr_json_add_null(o, "previous_run_id");
	for (i = 0; i < n; i++) {
		c = eval_json_case(cases[i].name, cases[i].passed,
		    cases[i].expected, cases[i].got);
		kr_json_add(c, "changed",
		    kr_json_bool(case_changed(run, &cases[i])));
		kr_json_push(arr, c);
	}
	kr_json_add(o, "cases", arr);
	return o;
}

/* The run's cases, and those that changed since the previous run. */
static void
run_page(struct template_ctx *ctx, const struct eval_run_row *run,
    const struct eval_case_row *cases, size_t n)
{
	const struct eval_case_row *c;
	struct template_ctx *row;
	size_t i, nchanged = 0;

	run_names(ctx, run);
	template_set(ctx, "previous_id", run->previous_run_id);
	template_set_bool(ctx, "has_previous", run->previous_run_id[0] != '\0');
	template_list(ctx, "changes");
	template_list(ctx, "cases");
	for (i = 0; i < n; i++) {
		c = &cases[i];
		row = template_list_add(ctx, "cases");
		template_set(row, "case_name", c->name);
		template_set(row, "result", c->passed ? "PASS" : "FAIL");
		template_set(row, "expected", c->expected);
		template_set(row, "got", c->got);
		template_setf(row, "latency", "%ld", c->latency_ms);
		if (!case_changed(run, c))
			continue;
		nchanged++;
		row = template_list_add(ctx, "changes");
		template_set(row, "case_name", c->name);
		template_setf(row, "before", "%s%s", c->had_previous ?
		    (c->previous_passed ? "PASS: " : "FAIL: ") : "",
		    c->had_previous ? c->previous_got : "(new case)");
		template_setf(row, "now", "%s: %s", c->passed ? "PASS" : "FAIL",
		    c->got);
	}
	template_set_bool(ctx, "changed", nchanged > 0);
}

static enum handler_result
show_run(struct app *app, struct http_request *req, PGconn *conn,
    const char *run_id)
{
	struct eval_run_row run;
	struct eval_case_row *cases = NULL;
	struct view v = { .page = PAGE_ADMIN_EVAL_RUN, .title = "Eval run" };
	enum store_result r;
	size_t n = 0;

	r = store_evals_run(conn, run_id, &run);
	if (r == STORE_OK)
		r = store_evals_cases(conn, run_id, run.previous_run_id,
		    &cases, &n);
	db_pool_release(app->db, conn);
	if (r != STORE_OK) {
		respond_missing(req, app, r != STORE_NOT_FOUND,
		    KR_HTTP_NO_EVAL_RUN);
		goto out;
	}
	if (http_wants_json(req)) {
		v.page = PAGE_LAYOUT;
		v.json = run_json(app->cfg, &run, cases, n);
	} else {
		v.ctx = template_ctx_new();
		run_page(v.ctx, &run, cases, n);
	}
	respond(req, app, &v);
out:
	free(cases);
	return HANDLER_ANSWERED;
}

enum handler_result
admin_evals(struct app *app, struct http_request *req)
{
	const char *run;
	struct form q;
	struct report_errors errs;
	struct view invalid = { .error = KR_INVALID_REQUEST, .fields = &errs };
	PGconn *conn;
	enum handler_result r;

	if (!admin_authenticated(app, req))
		return HANDLER_ANSWERED;
	if (form_parse(&q, req->query, strlen(req->query)) != FORM_OK) {
		snprintf(errs.e[0].field, sizeof(errs.e[0].field), "query");
		errs.e[0].message = "The address could not be read.";
		errs.n = 1;
		respond(req, app, &invalid);
		return HANDLER_ANSWERED;
	}
	run = form_get(&q, "run");
	if (run != NULL && *run != '\0' && !valid_run_id(run)) {
		form_free(&q);
		respond_http_error(req, app, KR_HTTP_NO_EVAL_RUN, NULL);
		return HANDLER_ANSWERED;
	}
	if ((conn = db_pool_acquire(app->db, DB_WAIT_MS)) == NULL) {
		form_free(&q);
		respond_error(req, app, KR_DATABASE_UNAVAILABLE, 0);
		return HANDLER_ANSWERED;
	}
	r = run != NULL && *run != '\0' ? show_run(app, req, conn, run) :
	    show_runs(app, req, conn);
	form_free(&q);
	return r;
}
