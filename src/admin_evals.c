/* admin_evals: GET /admin/evals, the recorded eval runs over time with
 * their pass rates, and for one run (?run=ID) its cases and the cases that
 * changed against the previous run of the same eval file. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <libpq-fe.h>

#include "admin.h"
#include "app.h"
#include "db_pool.h"
#include "errors.h"
#include "form.h"
#include "http.h"
#include "log.h"
#include "pages.h"
#include "template.h"
#include "token.h"

#define DB_WAIT_MS 2000

static const char runs_sql[] =
    "SELECT run_id, eval_file, provider, model, prompt_version, "
    "to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
    "passed, passed + failed FROM eval_runs "
    "ORDER BY started_at DESC, run_id DESC LIMIT 100";

static const char run_sql[] =
    "SELECT r.run_id, r.eval_file, r.provider, r.model, r.prompt_version, "
    "to_char(r.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
    "r.passed, r.failed, coalesce((SELECT p.run_id FROM eval_runs p "
    "WHERE p.eval_file = r.eval_file AND (p.started_at, p.run_id) < "
    "(r.started_at, r.run_id) ORDER BY p.started_at DESC, p.run_id DESC "
    "LIMIT 1), '') FROM eval_runs r WHERE r.run_id = $1";

/* Each case of the run with the same case of the previous run (if any). */
static const char cases_sql[] =
    "SELECT c.case_name, c.passed, c.expected, c.got, "
    "coalesce(c.latency_ms, 0), p.case_name IS NOT NULL, "
    "coalesce(p.passed, false), coalesce(p.got, '') "
    "FROM eval_case_results c LEFT JOIN eval_case_results p "
    "ON p.run_id = $2 AND p.case_name = c.case_name "
    "WHERE c.run_id = $1 ORDER BY c.case_name";

static int
valid_run_id(const char *s)
{
	return strncmp(s, "ev_", 3) == 0 && token_valid(s + 3, 22);
}

static enum handler_result
show_runs(struct app *app, struct http_request *req, PGconn *conn)
{
	PGresult *res = PQexecParams(conn, runs_sql, 0, NULL, NULL, NULL, NULL,
	    0);
	struct json_object *arr, *o;
	struct tctx *ctx, *row;
	long passed, total;
	int i;

	db_pool_release(app->db, conn);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		PQclear(res);
		pages_error(app, req, 503, "database_unavailable",
		    kr_error_explain(KR_DATABASE_UNAVAILABLE), NULL);
		return HANDLER_ANSWERED;
	}
	if (http_wants_json(req)) {
		arr = json_object_new_array();
		for (i = 0; i < PQntuples(res); i++) {
			o = json_object_new_object();
			json_object_object_add(o, "run_id",
			    json_object_new_string(PQgetvalue(res, i, 0)));
			json_object_object_add(o, "eval_file",
			    json_object_new_string(PQgetvalue(res, i, 1)));
			json_object_object_add(o, "gen_ai.system",
			    json_object_new_string(PQgetvalue(res, i, 2)));
			json_object_object_add(o, "gen_ai.request.model",
			    json_object_new_string(PQgetvalue(res, i, 3)));
			json_object_object_add(o, "prompt_version",
			    json_object_new_string(PQgetvalue(res, i, 4)));
			json_object_object_add(o, "started_at",
			    json_object_new_string(PQgetvalue(res, i, 5)));
			json_object_object_add(o, "passed", json_object_new_int(
			    (int)strtol(PQgetvalue(res, i, 6), NULL, 10)));
			json_object_object_add(o, "total", json_object_new_int(
			    (int)strtol(PQgetvalue(res, i, 7), NULL, 10)));
			json_object_array_add(arr, o);
		}
		o = json_object_new_object();
		json_object_object_add(o, "runs", arr);
		http_respond_json(req, 200, o, "Cache-Control: no-store\r\n");
		json_object_put(o);
		PQclear(res);
		return HANDLER_ANSWERED;
	}
	ctx = tctx_new();
	tctx_set_bool(ctx, "runs", PQntuples(res) > 0);
	tctx_list(ctx, "rows");
	for (i = 0; i < PQntuples(res); i++) {
		row = tctx_list_add(ctx, "rows");
		tctx_set(row, "run_id", PQgetvalue(res, i, 0));
		tctx_set(row, "eval_file", PQgetvalue(res, i, 1));
		tctx_set(row, "provider", PQgetvalue(res, i, 2));
		tctx_set(row, "model", PQgetvalue(res, i, 3));
		tctx_set(row, "prompt_version", PQgetvalue(res, i, 4));
		pages_set_time(row, "started", PQgetvalue(res, i, 5));
		passed = strtol(PQgetvalue(res, i, 6), NULL, 10);
		total = strtol(PQgetvalue(res, i, 7), NULL, 10);
		tctx_setf(row, "passed", "%ld", passed);
		tctx_setf(row, "total", "%ld", total);
		tctx_setf(row, "rate", "%ld", total > 0 ? passed * 100 / total : 0);
	}
	pages_send(app, req, 200, PAGE_ADMIN_EVALS, ctx, "Eval runs", NULL);
	tctx_free(ctx);
	PQclear(res);
	return HANDLER_ANSWERED;
}

static enum handler_result
show_run(struct app *app, struct http_request *req, PGconn *conn,
    const char *run_id)
{
	const char *p[2] = { run_id, NULL };
	PGresult *run, *cases = NULL;
	struct json_object *o, *arr, *c;
	struct tctx *ctx, *row;
	int i, nchanged = 0, had, changed;

	run = PQexecParams(conn, run_sql, 1, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(run) == PGRES_TUPLES_OK && PQntuples(run) == 1) {
		p[1] = PQgetvalue(run, 0, 8);
		cases = PQexecParams(conn, cases_sql, 2, NULL, p, NULL, NULL, 0);
	}
	db_pool_release(app->db, conn);
	if (PQresultStatus(run) != PGRES_TUPLES_OK || (cases != NULL &&
	    PQresultStatus(cases) != PGRES_TUPLES_OK)) {
		pages_error(app, req, 503, "database_unavailable",
		    kr_error_explain(KR_DATABASE_UNAVAILABLE), NULL);
		goto out;
	}
	if (PQntuples(run) != 1) {
		pages_error(app, req, 404, "not_found",
		    "There is no eval run with this id.", NULL);
		goto out;
	}
	if (http_wants_json(req)) {
		o = json_object_new_object();
		arr = json_object_new_array();
		json_object_object_add(o, "run_id",
		    json_object_new_string(PQgetvalue(run, 0, 0)));
		json_object_object_add(o, "previous_run_id", *PQgetvalue(run, 0, 8) ?
		    json_object_new_string(PQgetvalue(run, 0, 8)) : NULL);
		json_object_object_add(o, "passed",
		    json_object_new_int((int)strtol(PQgetvalue(run, 0, 6), NULL, 10)));
		json_object_object_add(o, "failed",
		    json_object_new_int((int)strtol(PQgetvalue(run, 0, 7), NULL, 10)));
		for (i = 0; i < PQntuples(cases); i++) {
			had = *PQgetvalue(cases, i, 5) == 't';
			changed = *PQgetvalue(run, 0, 8) && (!had ||
			    *PQgetvalue(cases, i, 1) != *PQgetvalue(cases, i, 6) ||
			    strcmp(PQgetvalue(cases, i, 3),
			    PQgetvalue(cases, i, 7)) != 0);
			c = json_object_new_object();
			json_object_object_add(c, "name",
			    json_object_new_string(PQgetvalue(cases, i, 0)));
			json_object_object_add(c, "passed", json_object_new_boolean(
			    *PQgetvalue(cases, i, 1) == 't'));
			json_object_object_add(c, "expected",
			    json_object_new_string(PQgetvalue(cases, i, 2)));
			json_object_object_add(c, "got",
			    json_object_new_string(PQgetvalue(cases, i, 3)));
			json_object_object_add(c, "changed",
			    json_object_new_boolean(changed));
			json_object_array_add(arr, c);
		}
		json_object_object_add(o, "cases", arr);
		http_respond_json(req, 200, o, "Cache-Control: no-store\r\n");
		json_object_put(o);
		goto out;
	}
	ctx = tctx_new();
	tctx_set(ctx, "run_id", PQgetvalue(run, 0, 0));
	tctx_set(ctx, "eval_file", PQgetvalue(run, 0, 1));
	tctx_set(ctx, "provider", PQgetvalue(run, 0, 2));
	tctx_set(ctx, "model", PQgetvalue(run, 0, 3));
	tctx_set(ctx, "prompt_version", PQgetvalue(run, 0, 4));
	pages_set_time(ctx, "started", PQgetvalue(run, 0, 5));
	tctx_set(ctx, "passed", PQgetvalue(run, 0, 6));
	tctx_set(ctx, "failed", PQgetvalue(run, 0, 7));
	tctx_set(ctx, "previous_id", PQgetvalue(run, 0, 8));
	tctx_set_bool(ctx, "has_previous", *PQgetvalue(run, 0, 8) != '\0');
	tctx_list(ctx, "changes");
	tctx_list(ctx, "cases");
	for (i = 0; i < PQntuples(cases); i++) {
		had = *PQgetvalue(cases, i, 5) == 't';
		row = tctx_list_add(ctx, "cases");
		tctx_set(row, "case_name", PQgetvalue(cases, i, 0));
		tctx_set(row, "result", *PQgetvalue(cases, i, 1) == 't' ?
		    "PASS" : "FAIL");
		tctx_set(row, "expected", PQgetvalue(cases, i, 2));
		tctx_set(row, "got", PQgetvalue(cases, i, 3));
		tctx_set(row, "latency", PQgetvalue(cases, i, 4));
		if (*PQgetvalue(run, 0, 8) == '\0')
			continue;
		if (had && *PQgetvalue(cases, i, 1) == *PQgetvalue(cases, i, 6) &&
		    strcmp(PQgetvalue(cases, i, 3), PQgetvalue(cases, i, 7)) == 0)
			continue;
		nchanged++;
		row = tctx_list_add(ctx, "changes");
		tctx_set(row, "case_name", PQgetvalue(cases, i, 0));
		tctx_setf(row, "before", "%s%s%s", had ?
		    (*PQgetvalue(cases, i, 6) == 't' ? "PASS: " : "FAIL: ") : "",
		    had ? PQgetvalue(cases, i, 7) : "(new case)", "");
		tctx_setf(row, "now", "%s: %s", *PQgetvalue(cases, i, 1) == 't' ?
		    "PASS" : "FAIL", PQgetvalue(cases, i, 3));
	}
	tctx_set_bool(ctx, "changed", nchanged > 0);
	pages_send(app, req, 200, PAGE_ADMIN_EVAL_RUN, ctx, "Eval run", NULL);
	tctx_free(ctx);
out:
	PQclear(run);
	PQclear(cases);
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
		pages_error(app, req, 503, "database_unavailable",
		    kr_error_explain(KR_DATABASE_UNAVAILABLE), NULL);
		return HANDLER_ANSWERED;
	}
	r = run != NULL && *run != '\0' ? show_run(app, req, conn, run) :
	    show_runs(app, req, conn);
	form_free(&q);
	return r;
}
