#include "autoconfig.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <libpq-fe.h>

#include "admin.h"
#include "app.h"
#include "config.h"
#include "db_pool.h"
#include "decision.h"
#include "errors.h"
#include "form.h"
#include "http.h"
#include "log.h"
#include "pages.h"
#include "report.h"
#include "template.h"
#include "trace_store.h"

#define DB_WAIT_MS  2000
#define COUNT_CAP   10000      /* counts above this show as "10000+" */

static void
add_error(struct report_errors *errs, const char *field, const char *msg)
{
	if (errs->n == REPORT_MAX_ERRORS)
		return;
	snprintf(errs->e[errs->n].field, sizeof(errs->e[0].field), "%s", field);
	errs->e[errs->n++].message = msg;
}

static int
digits(const char *s, size_t n, int min, int max)
{
	int v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v >= min && v <= max ? v : -1;
}

/* YYYY-MM-DD, YYYY-MM-DDTHH:MM or YYYY-MM-DDTHH:MM:SS, taken as UTC. */
static int
parse_time(const char *in, char *out, size_t outlen)
{
	size_t n = strlen(in);
	int sec = 0;

	if ((n != 10 && n != 16 && n != 19) || in[4] != '-' || in[7] != '-' ||
	    digits(in, 4, 1970, 9999) < 0 || digits(in + 5, 2, 1, 12) < 0 ||
	    digits(in + 8, 2, 1, 31) < 0)
		return -1;
	if (n == 10) {
		snprintf(out, outlen, "%.10s 00:00:00+00", in);
		return 0;
	}
	if ((in[10] != 'T' && in[10] != ' ') || in[13] != ':' ||
	    digits(in + 11, 2, 0, 23) < 0 || digits(in + 14, 2, 0, 59) < 0)
		return -1;
	if (n == 19 && (in[16] != ':' || (sec = digits(in + 17, 2, 0, 59)) < 0))
		return -1;
	snprintf(out, outlen, "%.10s %.5s:%02d+00", in, in + 11, sec);
	return 0;
}

/* The cursor: "<created_at with microseconds>Z|<trace_id>". */
static int
parse_cursor(const char *in, struct admin_filter *f)
{
	const char *bar = strrchr(in, '|');
	size_t n;

	if (bar == NULL || !trace_id_valid(bar + 1))
		return -1;
	n = (size_t)(bar - in);
	/* 2026-11-26T21:00:00.123456Z */
	if (n != 27 || in[4] != '-' || in[10] != 'T' || in[19] != '.' ||
	    in[26] != 'Z' || digits(in, 4, 1970, 9999) < 0 ||
	    digits(in + 20, 6, 0, 999999) < 0)
		return -1;
	memcpy(f->after_ts, in, n);
	f->after_ts[n] = '\0';
	memcpy(f->after_id, bar + 1, TRACE_ID_SIZE);
	return 0;
}

static void
copy_echo(char *dst, size_t len, const char *v)
{
	snprintf(dst, len, "%s", v != NULL ? v : "");
}

int
admin_filter_parse(const char *query, struct admin_filter *f,
    struct report_errors *errs)
{
	struct form q;
	const char *v;
	enum kr_error e;

	memset(f, 0, sizeof(*f));
	errs->n = 0;
	if (form_parse(&q, query, strlen(query)) != FORM_OK) {
		add_error(errs, "query", "The address could not be read.");
		return -1;
	}
	if ((v = form_get(&q, "trace_id")) != NULL && *v != '\0') {
		if (!trace_id_valid(v))
			add_error(errs, "trace_id",
			    "A trace ID looks like tr_ and 22 letters, digits, - or _.");
		else
			copy_echo(f->trace_id, sizeof(f->trace_id), v);
	}
	if ((v = form_get(&q, "account_id")) != NULL && *v != '\0') {
		if (!report_account_id_valid(v))
			add_error(errs, "account_id",
			    "An account ID looks like acct_12345.");
		else
			copy_echo(f->account_id, sizeof(f->account_id), v);
	}
	if ((v = form_get(&q, "status")) != NULL && *v != '\0') {
		if (strcmp(v, "running") != 0 && strcmp(v, "completed") != 0 &&
		    strcmp(v, "failed") != 0)
			add_error(errs, "status",
			    "Status is running, completed or failed.");
		else
			copy_echo(f->status, sizeof(f->status), v);
	}
	if ((v = form_get(&q, "error_code")) != NULL && *v != '\0') {
		e = kr_error_from_code(v);
		if (e == KR_ERROR__MAX || !kr_error_is_trace_error(e))
			add_error(errs, "error_code",
			    "That is not an error code a trace can end with.");
		else
			copy_echo(f->error_code, sizeof(f->error_code), v);
	}
	if ((v = form_get(&q, "origin")) != NULL && *v != '\0') {
		if (strcmp(v, "reports") != 0 && strcmp(v, "evals") != 0 &&
		    strcmp(v, "all") != 0)
			add_error(errs, "origin",
			    "Origin is reports, evals or all.");
		else
			copy_echo(f->origin, sizeof(f->origin), v);
	}
	if ((v = form_get(&q, "from")) != NULL && *v != '\0') {
		if (parse_time(v, f->from_sql, sizeof(f->from_sql)) != 0)
			add_error(errs, "from", "Times look like 2026-11-26 or "
			    "2026-11-26T09:30 (UTC).");
		else
			copy_echo(f->from, sizeof(f->from), v);
	}
	if ((v = form_get(&q, "to")) != NULL && *v != '\0') {
		if (parse_time(v, f->to_sql, sizeof(f->to_sql)) != 0)
			add_error(errs, "to", "Times look like 2026-11-26 or "
			    "2026-11-26T09:30 (UTC).");
		else
			copy_echo(f->to, sizeof(f->to), v);
	}
	if ((v = form_get(&q, "after")) != NULL && *v != '\0' &&
	    parse_cursor(v, f) != 0)
		add_error(errs, "after", "The page link is damaged; start from "
		    "the newest traces.");
	form_free(&q);
	return errs->n == 0 ? 0 : -1;
}

int
admin_authenticated(struct app *app, struct http_request *req)
{
	/* Only nginx's admin location sets this parameter, after auth_basic;
	 * REMOTE_USER is not used: Debian's fastcgi_params fills it from any
	 * Authorization header on every location. */
	const char *user = http_param(req, "KEYROTA_AUTH_USER");

	if (user != NULL && strcmp(user, app->cfg->admin_user) == 0)
		return 1;
	pages_error(app, req, 401, "unauthorized",
	    "The admin pages need the operator's login.",
	    "WWW-Authenticate: Basic realm=\"keyrota admin\"\r\n");
	return 0;
}

#define FILTERS \
	"WHERE ($1::text IS NULL OR trace_id = $1) " \
	"AND ($2::text IS NULL OR account_id = $2) " \
	"AND ($3::text IS NULL OR status = $3) " \
	"AND ($4::text IS NULL OR error_code = $4) " \
	"AND ($5::timestamptz IS NULL OR created_at >= $5::timestamptz) " \
	"AND ($6::timestamptz IS NULL OR created_at < $6::timestamptz) " \
	"AND (CASE $7::text WHEN 'all' THEN true WHEN 'evals' THEN eval " \
	"ELSE NOT eval END) "

/* Parameters are given as values, so PostgreSQL plans each query for its
 * filters (a custom plan: the unused conditions fold away and the matching
 * index is chosen). */
static const char list_sql[] =
    "SELECT trace_id, account_id, status, coalesce(decision, ''), "
    "coalesce(error_code, ''), "
    "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
    "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), eval "
    "FROM traces " FILTERS
    "AND ($8::timestamptz IS NULL OR "
    "(created_at, trace_id) < ($8::timestamptz, $9::text)) "
    "ORDER BY created_at DESC, trace_id DESC LIMIT 51";

/* One count per status, each stopping at COUNT_CAP + 1 rows and each with
 * a constant status, so PostgreSQL plans it for that status. */
#define COUNT_SQL(status) "SELECT count(*) FROM (SELECT 1 FROM traces " \
	FILTERS "AND status = '" status "' LIMIT 10001) x"
static const char *const count_names[] = { "running", "completed", "failed" };
static const char *const count_sql[] = { COUNT_SQL("running"),
	COUNT_SQL("completed"), COUNT_SQL("failed") };
/* With an error code, every match is failed (the CHECK constraints say so),
 * and without the status test the error-code index answers alone. */
static const char count_failed_by_error_sql[] =
    "SELECT count(*) FROM (SELECT 1 FROM traces " FILTERS "LIMIT 10001) x";

/* Counts by status into out (as text). A status the filters rule out is 0
 * without a query: a status filter names one status, and the schema's
 * CHECK constraints let only failed traces carry an error code. */
static int
count_by_status(PGconn *conn, const struct admin_filter *f,
    const char **params, char out[3][32])
{
	PGresult *res;
	int i, ok = 1;

	for (i = 0; i < 3 && ok; i++) {
		snprintf(out[i], sizeof(out[i]), "0");
		if ((f->status[0] && strcmp(f->status, count_names[i]) != 0) ||
		    (f->error_code[0] && strcmp(count_names[i], "failed") != 0))
			continue;
		res = PQexecParams(conn, f->error_code[0] ?
		    count_failed_by_error_sql : count_sql[i], 7, NULL, params,
		    NULL, NULL, 0);
		ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
		if (ok && strtol(PQgetvalue(res, 0, 0), NULL, 10) > COUNT_CAP)
			snprintf(out[i], sizeof(out[i]), "%d+", COUNT_CAP);
		else if (ok)
			snprintf(out[i], sizeof(out[i]), "%s", PQgetvalue(res, 0, 0));
		PQclear(res);
	}
	return ok ? 0 : -1;
}

static const char *
nz(const char *s)
{
	return *s != '\0' ? s : NULL;
}

static void
filter_params(const struct admin_filter *f, const char **p)
{
	p[0] = nz(f->trace_id);
	p[1] = nz(f->account_id);
	p[2] = nz(f->status);
	p[3] = nz(f->error_code);
	p[4] = nz(f->from_sql);
	p[5] = nz(f->to_sql);
	/* Traces of `keyrota eval` only when asked for. */
	p[6] = *f->origin ? f->origin : "reports";
	p[7] = nz(f->after_ts);
	p[8] = nz(f->after_id);
}

/* Appends name=value to a query string, percent-encoding the value. */
static void
query_add(struct buf *b, const char *name, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;

	if (*value == '\0')
		return;
	buf_puts(b, b->len == 0 ? "?" : "&");
	buf_puts(b, name);
	buf_putc(b, '=');
	for (p = (const unsigned char *)value; *p != '\0'; p++) {
		if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.')
			buf_putc(b, (char)*p);
		else {
			buf_putc(b, '%');
			buf_putc(b, hex[*p >> 4]);
			buf_putc(b, hex[*p & 15]);
		}
	}
}

static void
filter_query(struct buf *b, const struct admin_filter *f)
{
	query_add(b, "trace_id", f->trace_id);
	query_add(b, "account_id", f->account_id);
	query_add(b, "status", f->status);
	query_add(b, "error_code", f->error_code);
	query_add(b, "origin", f->origin);
	query_add(b, "from", f->from);
	query_add(b, "to", f->to);
}

static void
echo_filters(struct tctx *ctx, const char *query)
{
	static const char *const names[] = { "trace_id", "account_id",
	    "status", "error_code", "origin", "from", "to" };
	char key[32];
	struct form q;
	const char *v;
	size_t i;

	/* The raw values, escaped by the template, so a bad one can be fixed. */
	if (form_parse(&q, query, strlen(query)) != FORM_OK)
		q.n = 0;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		v = q.n ? form_get(&q, names[i]) : NULL;
		snprintf(key, sizeof(key), "f_%s", names[i]);
		tctx_set(ctx, key, v != NULL ? v : "");
	}
	form_free(&q);
}

static enum handler_result
list_invalid(struct app *app, struct http_request *req,
    const struct report_errors *errs)
{
	struct json_object *obj, *fields;
	struct tctx *ctx;
	struct buf msg;
	size_t i;

	if (http_wants_json(req)) {
		obj = json_object_new_object();
		fields = json_object_new_object();
		json_object_object_add(obj, "error_code",
		    json_object_new_string("invalid_request"));
		json_object_object_add(obj, "error",
		    json_object_new_string("Some filters are invalid."));
		for (i = 0; i < errs->n; i++)
			json_object_object_add(fields, errs->e[i].field,
			    json_object_new_string(errs->e[i].message));
		json_object_object_add(obj, "fields", fields);
		http_respond_json(req, 422, obj, "Cache-Control: no-store\r\n");
		json_object_put(obj);
		return HANDLER_ANSWERED;
	}
	ctx = tctx_new();
	buf_init(&msg, 4096);
	for (i = 0; i < errs->n; i++)
		buf_printf(&msg, "%s%s", i ? " " : "", errs->e[i].message);
	tctx_set(ctx, "filter_error", buf_str(&msg));
	echo_filters(ctx, req->query);
	tctx_set(ctx, "count_running", "-");
	tctx_set(ctx, "count_completed", "-");
	tctx_set(ctx, "count_failed", "-");
	tctx_set_bool(ctx, "traces", 0);
	tctx_set(ctx, "first_link", "");
	tctx_set(ctx, "next_link", "");
	pages_send(app, req, 422, PAGE_ADMIN_LIST, ctx, "Traces", NULL);
	buf_free(&msg);
	tctx_free(ctx);
	return HANDLER_ANSWERED;
}

enum handler_result
admin_list(struct app *app, struct http_request *req)
{
	struct admin_filter f;
	struct report_errors errs;
	const char *params[9];
	PGresult *rows = NULL;
	struct json_object *obj = NULL, *arr, *item, *cobj;
	struct tctx *ctx = NULL, *row;
	struct buf link;
	char key[32], counts[3][32], cursor[80];
	PGconn *conn;
	int i, n, more;

	if (!admin_authenticated(app, req))
		return HANDLER_ANSWERED;
	if (admin_filter_parse(req->query, &f, &errs) != 0)
		return list_invalid(app, req, &errs);
	if ((conn = db_pool_acquire(app->db, DB_WAIT_MS)) == NULL) {
		pages_error(app, req, 503, "database_unavailable",
		    kr_error_explain(KR_DATABASE_UNAVAILABLE), NULL);
		return HANDLER_ANSWERED;
	}
	filter_params(&f, params);
	rows = PQexecParams(conn, list_sql, 9, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(rows) != PGRES_TUPLES_OK ||
	    count_by_status(conn, &f, params, counts) != 0) {
		log_error("admin list: %s", PQerrorMessage(conn));
		db_pool_release(app->db, conn);
		/* Out-of-range dates (Feb 30) are the person's to fix. */
		if (PQresultStatus(rows) == PGRES_FATAL_ERROR && strncmp(
		    PQresultErrorField(rows, PG_DIAG_SQLSTATE) ?: "", "22", 2) == 0) {
			errs.n = 0;
			add_error(&errs, "from", "That date does not exist.");
			PQclear(rows);
			return list_invalid(app, req, &errs);
		}
		PQclear(rows);
		pages_error(app, req, 503, "database_unavailable",
		    kr_error_explain(KR_DATABASE_UNAVAILABLE), NULL);
		return HANDLER_ANSWERED;
	}
	db_pool_release(app->db, conn);
	n = PQntuples(rows);
	more = n > ADMIN_PAGE_SIZE;
	if (more)
		n = ADMIN_PAGE_SIZE;

	/* The next page: the same filters, after the last row shown. */
	buf_init(&link, 4096);
	filter_query(&link, &f);
	cursor[0] = '\0';
	if (more) {
		snprintf(cursor, sizeof(cursor), "%s|%s",
		    PQgetvalue(rows, n - 1, 5), PQgetvalue(rows, n - 1, 0));
		query_add(&link, "after", cursor);
	}

	if (http_wants_json(req)) {
		obj = json_object_new_object();
		arr = json_object_new_array();
		for (i = 0; i < n; i++) {
			item = json_object_new_object();
			json_object_object_add(item, "trace_id",
			    json_object_new_string(PQgetvalue(rows, i, 0)));
			json_object_object_add(item, "account_id",
			    json_object_new_string(PQgetvalue(rows, i, 1)));
			json_object_object_add(item, "status",
			    json_object_new_string(PQgetvalue(rows, i, 2)));
			json_object_object_add(item, "decision",
			    *PQgetvalue(rows, i, 3) ? json_object_new_string(
			    PQgetvalue(rows, i, 3)) : NULL);
			json_object_object_add(item, "error.type",
			    *PQgetvalue(rows, i, 4) ? json_object_new_string(
			    PQgetvalue(rows, i, 4)) : NULL);
			json_object_object_add(item, "created_at",
			    json_object_new_string(PQgetvalue(rows, i, 5)));
			json_object_object_add(item, "eval",
			    json_object_new_boolean(*PQgetvalue(rows, i, 7) ==
			    't'));
			json_object_array_add(arr, item);
		}
		json_object_object_add(obj, "traces", arr);
		json_object_object_add(obj, "next", more ?
		    json_object_new_string(cursor) : NULL);
		cobj = json_object_new_object();
		for (i = 0; i < 3; i++)
			json_object_object_add(cobj, count_names[i],
			    json_object_new_string(counts[i]));
		json_object_object_add(obj, "counts", cobj);
		http_respond_json(req, 200, obj, "Cache-Control: no-store\r\n");
		json_object_put(obj);
		goto out;
	}
	ctx = tctx_new();
	echo_filters(ctx, req->query);
	for (i = 0; i < 3; i++) {
		snprintf(key, sizeof(key), "count_%s", count_names[i]);
		tctx_set(ctx, key, counts[i]);
	}
	tctx_set_bool(ctx, "traces", n > 0);
	tctx_list(ctx, "rows");
	for (i = 0; i < n; i++) {
		const char *status = PQgetvalue(rows, i, 2);

		row = tctx_list_add(ctx, "rows");
		tctx_set(row, "trace_id", PQgetvalue(rows, i, 0));
		tctx_set(row, "account_id", PQgetvalue(rows, i, 1));
		tctx_set(row, "status", status);
		tctx_set(row, "created", PQgetvalue(rows, i, 6));
		tctx_set(row, "outcome", strcmp(status, "completed") == 0 ?
		    PQgetvalue(rows, i, 3) : PQgetvalue(rows, i, 4));
	}
	if (more)
		tctx_setf(ctx, "next_link", "/admin/traces%s", buf_str(&link));
	else
		tctx_set(ctx, "next_link", "");
	tctx_set(ctx, "first_link", f.after_ts[0] ? "/admin/traces" : "");
	pages_send(app, req, 200, PAGE_ADMIN_LIST, ctx, "Traces", NULL);
	tctx_free(ctx);
out:
	buf_free(&link);
	PQclear(rows);
	return HANDLER_ANSWERED;
}

static void
set_long(struct tctx *ctx, const char *name, long v, const char *unit)
{
	if (v < 0)
		tctx_set(ctx, name, "unknown");
	else
		tctx_setf(ctx, name, "%ld%s", v, unit);
}

static struct json_object *
str_or_null(const char *s)
{
	return *s != '\0' ? json_object_new_string(s) : NULL;
}

static struct json_object *
long_or_null(long v)
{
	return v >= 0 ? json_object_new_int64(v) : NULL;
}

/* Every stored field, under OpenTelemetry GenAI names where one exists. */
static struct json_object *
detail_json(const struct trace_row *t)
{
	struct json_object *o = json_object_new_object(), *ids, *reasons;
	size_t i;

	json_object_object_add(o, "trace_id", json_object_new_string(t->trace_id));
	json_object_object_add(o, "account_id",
	    json_object_new_string(t->account_id));
	json_object_object_add(o, "status", json_object_new_string(t->status));
	json_object_object_add(o, "eval", json_object_new_boolean(t->eval));
	json_object_object_add(o, "deadline_at", str_or_null(t->deadline_at));
	json_object_object_add(o, "decision", str_or_null(t->decision));
	json_object_object_add(o, "rotation_window_days",
	    long_or_null(t->rotation_window_days));
	ids = json_object_new_array();
	for (i = 0; i < t->nsources; i++)
		json_object_array_add(ids, json_object_new_string(t->sources[i]));
	json_object_object_add(o, "source_line_ids", ids);
	json_object_object_add(o, "model_decision", str_or_null(t->model_decision));
	json_object_object_add(o, "error.type", str_or_null(t->error_code));
	json_object_object_add(o, "gen_ai.system", json_object_new_string(
	    t->provider));
	json_object_object_add(o, "gen_ai.request.model",
	    json_object_new_string(t->request_model));
	json_object_object_add(o, "gen_ai.response.model",
	    str_or_null(t->response_model));
	json_object_object_add(o, "gen_ai.response.id", str_or_null(t->response_id));
	reasons = json_object_new_array();
	if (*t->finish_reason)
		json_object_array_add(reasons,
		    json_object_new_string(t->finish_reason));
	json_object_object_add(o, "gen_ai.response.finish_reasons", reasons);
	json_object_object_add(o, "gen_ai.usage.input_tokens",
	    long_or_null(t->input_tokens));
	json_object_object_add(o, "gen_ai.usage.output_tokens",
	    long_or_null(t->output_tokens));
	json_object_object_add(o, "provider_attempts",
	    json_object_new_int(t->provider_attempts));
	json_object_object_add(o, "latency_ms", long_or_null(t->latency_ms));
	json_object_object_add(o, "created_at", json_object_new_string(t->created_at));
	json_object_object_add(o, "finished_at", str_or_null(t->finished_at));
	json_object_object_add(o, "idempotency_key", str_or_null(t->idempotency_key));
	json_object_object_add(o, "input_fingerprint",
	    json_object_new_string(t->input_fingerprint));
	json_object_object_add(o, "fingerprint_key_id",
	    json_object_new_string(t->fingerprint_key_id));
	json_object_object_add(o, "prompt_version",
	    json_object_new_string(t->prompt_version));
	return o;
}

enum handler_result
admin_detail(struct app *app, struct http_request *req)
{
	struct policy_line lines[16];
	struct trace_row t;
	struct tctx *ctx, *item;
	struct json_object *obj;
	enum store_result r = STORE_NOT_FOUND;
	PGconn *conn = NULL;
	size_t nlines = 0, i, j;
	int age;

	if (!admin_authenticated(app, req))
		return HANDLER_ANSWERED;
	if (trace_id_valid(req->route_param)) {
		if ((conn = db_pool_acquire(app->db, DB_WAIT_MS)) == NULL)
			r = STORE_UNAVAILABLE;
		else if ((r = trace_store_get(conn, req->route_param, &t)) ==
		    STORE_OK && trace_store_trusted(conn, t.account_id, lines,
		    16, &nlines, &age) == STORE_UNAVAILABLE)
			nlines = 0;
		db_pool_release(app->db, conn);
	}
	if (r != STORE_OK) {
		pages_error(app, req, r == STORE_UNAVAILABLE ? 503 : 404,
		    r == STORE_UNAVAILABLE ? "database_unavailable" : "not_found",
		    r == STORE_UNAVAILABLE ? kr_error_explain(
		    KR_DATABASE_UNAVAILABLE) : "There is no trace with this id.",
		    NULL);
		return HANDLER_ANSWERED;
	}
	if (http_wants_json(req)) {
		obj = detail_json(&t);
		http_respond_json(req, 200, obj, "Cache-Control: no-store\r\n");
		json_object_put(obj);
		return HANDLER_ANSWERED;
	}
	ctx = tctx_new();
	tctx_set(ctx, "trace_id", t.trace_id);
	tctx_set(ctx, "status", t.status);
	tctx_set(ctx, "origin", t.eval ? "keyrota eval (the key age came from "
	    "the eval case)" : "report");
	tctx_set(ctx, "account_id", t.account_id);
	tctx_set(ctx, "decision", *t.decision ? t.decision : "none");
	set_long(ctx, "window", t.rotation_window_days, " days");
	tctx_list(ctx, "lines");
	for (i = 0; i < t.nsources; i++)
		for (j = 0; j < nlines; j++)
			if (strcmp(t.sources[i], lines[j].line_id) == 0) {
				item = tctx_list_add(ctx, "lines");
				tctx_set(item, "line_id", lines[j].line_id);
				tctx_set(item, "summary", lines[j].summary);
				tctx_setf(item, "window_days", "%d",
				    lines[j].rotation_window_days);
			}
	tctx_set(ctx, "model_decision", *t.model_decision ? t.model_decision :
	    "nothing usable");
	tctx_set(ctx, "error_code", *t.error_code ? t.error_code : "none");
	tctx_set(ctx, "provider", t.provider);
	tctx_set(ctx, "request_model", t.request_model);
	tctx_set(ctx, "response_model", *t.response_model ? t.response_model :
	    "unknown");
	tctx_setf(ctx, "attempts", "%d", t.provider_attempts);
	set_long(ctx, "input_tokens", t.input_tokens, "");
	set_long(ctx, "output_tokens", t.output_tokens, "");
	tctx_set(ctx, "response_id", *t.response_id ? t.response_id : "none");
	tctx_set(ctx, "finish_reason", *t.finish_reason ? t.finish_reason :
	    "none");
	set_long(ctx, "latency", t.latency_ms, " ms");
	tctx_set(ctx, "created_at", t.created_at);
	tctx_set(ctx, "finished_at", *t.finished_at ? t.finished_at : "not yet");
	tctx_set(ctx, "deadline_at", *t.deadline_at ? t.deadline_at : "none");
	tctx_set(ctx, "input_fingerprint", t.input_fingerprint);
	tctx_set(ctx, "fingerprint_key_id", t.fingerprint_key_id);
	tctx_set(ctx, "idempotency_key", *t.idempotency_key ? t.idempotency_key :
	    "none");
	tctx_set(ctx, "prompt_version", t.prompt_version);
	pages_send(app, req, 200, PAGE_ADMIN_DETAIL, ctx, "Trace", NULL);
	tctx_free(ctx);
	return HANDLER_ANSWERED;
}
