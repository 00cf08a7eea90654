#include "autoconfig.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "admin.h"
#include "alloc.h"
#include "app.h"
#include "config.h"
#include "db_pool.h"
#include "answer.h"
#include "errors.h"
#include "export.h"
#include "form.h"
#include "genai.h"
#include "http.h"
#include "log.h"
#include "pages.h"
#include "report.h"
#include "respond.h"
#include "template.h"
#include "store_admin.h"
#include "store_traces.h"

#define DB_WAIT_MS  2000

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
parse_cursor(const char *in, struct trace_cursor *c)
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
	memcpy(c->ts, in, n);
	c->ts[n] = '\0';
	memcpy(c->id, bar + 1, TRACE_ID_SIZE);
	return 0;
}

/* The quick ranges: the last 15 minutes, hour, day or week. */
static const struct {
	const char *name;
	const char *label;
	long        seconds;
} ranges[] = {
	{ "15m", "Last 15 minutes", 15 * 60 },
	{ "1h", "Last hour", 60 * 60 },
	{ "24h", "Last 24 hours", 24 * 60 * 60 },
	{ "7d", "Last 7 days", 7 * 24 * 60 * 60 },
};
#define NRANGES (sizeof(ranges) / sizeof(ranges[0]))

/* A quick range becomes a fixed "from" (now minus the range, UTC) and no
 * "to", so the links of its pages keep showing the same stretch. */
static int
range_from(const char *name, char *out, size_t outlen)
{
	struct tm tm;
	time_t t;
	size_t i;

	for (i = 0; i < NRANGES; i++)
		if (strcmp(name, ranges[i].name) == 0)
			break;
	if (i == NRANGES)
		return -1;
	t = time(NULL) - ranges[i].seconds;
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(out, outlen, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		return -1;
	return 0;
}

static void
copy_echo(char *dst, size_t len, const char *v)
{
	snprintf(dst, len, "%s", v != NULL ? v : "");
}

/* The time filter called name: for the query (where) and as typed (echo). */
static void
time_filter(const struct form *q, const char *name, char *where,
    size_t wherelen, char *echo, size_t echolen, struct report_errors *errs)
{
	const char *v = form_get(q, name);

	if (v == NULL || *v == '\0')
		return;
	if (parse_time(v, where, wherelen) != 0)
		add_error(errs, name, "Times look like 2026-11-26 or "
		    "2026-11-26T09:30 (UTC).");
	else
		copy_echo(echo, echolen, v);
}

int
admin_filter_parse(const char *query, struct admin_filter *f,
    struct report_errors *errs)
{
	struct form q;
	const char *v;
	enum kr_error e;
	enum trace_origin o;

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
			copy_echo(f->where.trace_id, sizeof(f->where.trace_id),
			    v);
	}
	if ((v = form_get(&q, "account_id")) != NULL && *v != '\0') {
		if (!report_account_id_valid(v))
			add_error(errs, "account_id",
			    "An account ID looks like acct_12345.");
		else
			copy_echo(f->where.account_id,
			    sizeof(f->where.account_id), v);
	}
	if ((v = form_get(&q, "status")) != NULL && *v != '\0') {
		if (store_traces_status_from_name(v, &f->where.status) != 0)
			add_error(errs, "status",
			    "Status is running, completed or failed.");
		else
			f->where.has_status = 1;
	}
	if ((v = form_get(&q, "error_code")) != NULL && *v != '\0') {
		e = kr_error_from_code(v);
		if (e == KR_ERROR__MAX || !kr_error_is_trace_error(e))
			add_error(errs, "error_code",
			    "That is not an error code a trace can end with.");
		else
			f->where.error = e;
	}
	if ((v = form_get(&q, "origin")) != NULL && *v != '\0') {
		if (store_admin_origin_from_name(v, &o) != 0)
			add_error(errs, "origin",
			    "Origin is reports, evals or all.");
		else {
			f->where.origin = o;
			copy_echo(f->origin, sizeof(f->origin), v);
		}
	}
	time_filter(&q, "from", f->where.from, sizeof(f->where.from), f->from,
	    sizeof(f->from), errs);
	time_filter(&q, "to", f->where.to, sizeof(f->where.to), f->to,
	    sizeof(f->to), errs);
	if ((v = form_get(&q, "range")) != NULL && *v != '\0') {
		if (range_from(v, f->from, sizeof(f->from)) != 0 ||
		    parse_time(f->from, f->where.from,
		    sizeof(f->where.from)) != 0)
			add_error(errs, "range", "Quick ranges are 15m, 1h, 24h "
			    "or 7d.");
		f->to[0] = f->where.to[0] = '\0';
	}
	if ((v = form_get(&q, "after")) != NULL && *v != '\0' &&
	    parse_cursor(v, &f->after) != 0)
		add_error(errs, "after", "The page link is damaged; start from "
		    "the newest traces.");
	if ((v = form_get(&q, "before")) != NULL && *v != '\0' &&
	    (parse_cursor(v, &f->before) != 0 || f->after.ts[0] != '\0'))
		add_error(errs, "before", "The page link is damaged; start from "
		    "the newest traces.");
	if ((v = form_get(&q, "pos")) != NULL && *v != '\0' &&
	    (strlen(v) > 9 || (f->pos = digits(v, strlen(v), 0,
	    999999999)) < 0))
		add_error(errs, "pos", "The page link is damaged; start from "
		    "the newest traces.");
	if ((v = form_get(&q, "format")) != NULL && *v != '\0' &&
	    (f->format = export_format_parse(v)) == EXPORT_NONE)
		add_error(errs, "format", "Exports are format=csv or "
		    "format=json.");
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
	respond_http_error(req, app, KR_HTTP_UNAUTHORIZED,
	    "WWW-Authenticate: Basic realm=\"keyrota admin\"\r\n");
	return 0;
}

/* The status counts of the list, in the order shown. */
static const enum trace_status count_order[] = { TRACE_RUNNING,
	TRACE_COMPLETED, TRACE_FAILED };
#define NCOUNTS (sizeof(count_order) / sizeof(count_order[0]))

/* Each count as shown: a number, or ADMIN_COUNT_CAP+ past the cap. */
static int
count_by_status(PGconn *conn, const struct trace_filter *f,
    char out[NCOUNTS][32])
{
	size_t i;
	long n;

	for (i = 0; i < NCOUNTS; i++) {
		if (store_admin_count(conn, f, count_order[i], &n) != STORE_OK)
			return -1;
		if (n > ADMIN_COUNT_CAP)
			snprintf(out[i], sizeof(out[i]), "%d+",
			    ADMIN_COUNT_CAP);
		else
			snprintf(out[i], sizeof(out[i]), "%ld", n);
	}
	return 0;
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

/* The filters as a query string; the time range only when with_time. */
static void
filter_query(struct buf *b, const struct admin_filter *f, int with_time)
{
	query_add(b, "trace_id", f->where.trace_id);
	query_add(b, "account_id", f->where.account_id);
	query_add(b, "status", f->where.has_status ?
	    store_traces_status_name(f->where.status) : "");
	query_add(b, "error_code", kr_error_code(f->where.error));
	query_add(b, "origin", f->origin);
	if (with_time) {
		query_add(b, "from", f->from);
		query_add(b, "to", f->to);
	}
}

/* "/admin/traces?<filters>&<name>=<value>...", the pairs NULL-ended. */
static void
set_link(struct template_ctx *ctx, const char *key,
    const struct admin_filter *f, int with_time, ...)
{
	struct buf b;
	const char *name, *value;
	va_list ap;

	buf_init(&b, 4096);
	filter_query(&b, f, with_time);
	va_start(ap, with_time);
	while ((name = va_arg(ap, const char *)) != NULL) {
		value = va_arg(ap, const char *);
		query_add(&b, name, value);
	}
	va_end(ap);
	template_setf(ctx, key, "/admin/traces%s", buf_str(&b));
	buf_free(&b);
}

/* The retention in force, so nobody looks for a trace that has expired
 * (README, "Trace retention"). */
static void
retention_text(struct template_ctx *ctx, const struct config *cfg)
{
	if (cfg->retention_days == 0)
		template_set(ctx, "retention", "Traces are kept until an "
		    "operator deletes them (no retention period is set).");
	else
		template_setf(ctx, "retention",
		    "Traces and eval runs are deleted "
		    "%u days after they were made.", cfg->retention_days);
}

/* The filter form: what was typed when it was invalid (escaped by the
 * template, so a bad value can be fixed), else the validated filters,
 * with the quick range turned into its "from". */
static void
echo_filters(struct template_ctx *ctx, const char *query,
    const struct admin_filter *f)
{
	static const char *const names[] = { "trace_id", "account_id",
	    "status", "error_code", "origin", "from", "to" };
	const char *valid[7] = { NULL };
	struct template_ctx *item;
	char key[32];
	struct form q;
	enum trace_status st;
	const char *v;
	size_t i;
	int e, has_st;

	if (f != NULL) {
		valid[0] = f->where.trace_id;
		valid[1] = f->where.account_id;
		valid[2] = f->where.has_status ?
		    store_traces_status_name(f->where.status) : "";
		valid[3] = kr_error_code(f->where.error);
		valid[4] = f->origin;
		valid[5] = f->from;
		valid[6] = f->to;
	}
	if (form_parse(&q, query, strlen(query)) != FORM_OK)
		q.n = 0;
	for (i = 0; i < 7; i++) {
		v = f != NULL ? valid[i] : q.n ? form_get(&q, names[i]) : NULL;
		snprintf(key, sizeof(key), "f_%s", names[i]);
		template_set(ctx, key, v != NULL ? v : "");
		valid[i] = v != NULL ? v : "";
	}
	/* The closed sets as <select> options, the chosen one selected. */
	has_st = store_traces_status_from_name(valid[2], &st) == 0;
	template_list(ctx, "status_options");
	for (i = 0; i < NCOUNTS; i++) {
		item = template_list_add(ctx, "status_options");
		template_set(item, "value",
		    store_traces_status_name(count_order[i]));
		template_set_bool(item, "selected",
		    has_st && st == count_order[i]);
	}
	template_list(ctx, "error_options");
	for (e = 0; e < KR_ERROR__MAX; e++) {
		if (!kr_error_is_trace_error((enum kr_error)e))
			continue;
		item = template_list_add(ctx, "error_options");
		template_set(item, "value", kr_error_code((enum kr_error)e));
		template_set_bool(item, "selected", *valid[3] != '\0' &&
		    kr_error_from_code(valid[3]) == (enum kr_error)e);
	}
	/* Reports when none is named. */
	template_list(ctx, "origin_options");
	for (i = 0; i < ORIGIN__MAX; i++) {
		item = template_list_add(ctx, "origin_options");
		template_set(item, "value",
		    store_admin_origin_name((enum trace_origin)i));
		template_set_bool(item, "selected",
		    strcmp(*valid[4] ? valid[4] :
		    store_admin_origin_name(ORIGIN_REPORTS),
		    store_admin_origin_name((enum trace_origin)i)) == 0);
	}
	form_free(&q);
}

/* The quick-range links keep every filter but the time range. */
static void
range_links(struct template_ctx *ctx, const struct admin_filter *f)
{
	struct template_ctx *item;
	size_t i;

	template_list(ctx, "ranges");
	for (i = 0; i < NRANGES; i++) {
		item = template_list_add(ctx, "ranges");
		template_set(item, "label", ranges[i].label);
		set_link(item, "href", f != NULL ? f : &(struct admin_filter){0},
		    0, "range", ranges[i].name, (const char *)NULL);
	}
}

/* 422: JSON names each bad field; the page shows the filters again, as
 * typed, with the messages. */
static enum handler_result
list_invalid(struct app *app, struct http_request *req,
    const struct report_errors *errs)
{
	struct view v = { .error = KR_INVALID_REQUEST, .fields = errs,
	    .page = PAGE_ADMIN_LIST, .title = "Traces" };
	struct buf msg;
	size_t i;

	v.ctx = template_ctx_new();
	buf_init(&msg, 4096);
	for (i = 0; i < errs->n; i++)
		buf_printf(&msg, "%s%s", i ? " " : "", errs->e[i].message);
	template_set(v.ctx, "filter_error", buf_str(&msg));
	echo_filters(v.ctx, req->query, NULL);
	range_links(v.ctx, NULL);
	template_set(v.ctx, "count_running", "-");
	template_set(v.ctx, "count_completed", "-");
	template_set(v.ctx, "count_failed", "-");
	template_set_bool(v.ctx, "traces", 0);
	template_set(v.ctx, "position", "");
	template_set(v.ctx, "first_link", "");
	template_set(v.ctx, "newer_link", "");
	template_set(v.ctx, "next_link", "");
	template_set(v.ctx, "csv_link", "");
	template_set(v.ctx, "json_link", "");
	retention_text(v.ctx, app->cfg);
	respond(req, app, &v);
	buf_free(&msg);
	return HANDLER_ANSWERED;
}

/* Out-of-range dates (Feb 30) pass parse_time; PostgreSQL refuses them
 * (STORE_DATA_ERROR), and they are the person's to fix. */
static enum handler_result
list_bad_date(struct app *app, struct http_request *req)
{
	struct report_errors errs = { 0 };

	add_error(&errs, "from", "That date does not exist.");
	return list_invalid(app, req, &errs);
}

/* An export in progress: the response is started at the first row (or at
 * the end, when there is none). */
struct export_state {
	struct http_request *req;
	const struct config *cfg;
	struct buf           row;
	int                  csv;
	int                  started;
	int                  gone;       /* the client went away */
	int                  failed;     /* a row could not be written */
	int                  truncated;
	long                 n;
};

static void
export_start(struct export_state *x)
{
	x->started = 1;
	respond_stream_start(x->req, x->csv ? "text/csv; charset=utf-8" :
	    "application/json", x->csv ?
	    "Content-Disposition: attachment; "
	    "filename=\"keyrota-traces.csv\"\r\n" :
	    "Content-Disposition: attachment; "
	    "filename=\"keyrota-traces.json\"\r\n");
	buf_reset(&x->row);
	if (x->csv)
		export_csv_header(&x->row);
	else
		buf_puts(&x->row, "{\"traces\":[");
	x->gone = http_stream_write(x->req, buf_str(&x->row), x->row.len) != 0;
}

/* One exported row; non-zero stops the export. */
static int
export_row(void *arg, const char *const *v)
{
	struct export_state *x = arg;

	if (!x->started)
		export_start(x);
	if (x->gone)
		return 1;
	if (x->n == EXPORT_ROW_CAP) {
		x->truncated = 1;
		return 1;
	}
	buf_reset(&x->row);
	if (!x->csv && x->n > 0)
		buf_putc(&x->row, ',');
	if ((x->csv ? export_csv_row(&x->row, v) :
	    export_json_row(&x->row, v, x->cfg)) != BUF_OK) {
		/* Never a silently shorter export. */
		log_error("admin export: row %s too long", v[0]);
		x->failed = 1;
		return 1;
	}
	x->gone = http_stream_write(x->req, buf_str(&x->row), x->row.len) != 0;
	x->n++;
	return 0;
}

/* Streams the filtered list, newest first, as CSV or JSON: memory stays
 * that of one row however long the export. At most EXPORT_ROW_CAP rows;
 * the export says when the cap cut it. */
static enum handler_result
list_export(struct app *app, struct http_request *req,
    const struct admin_filter *f)
{
	struct export_state x;
	enum handler_result hr = HANDLER_ANSWERED;
	enum store_result r;
	PGconn *conn;

	if ((conn = db_pool_acquire(app->db, DB_WAIT_MS)) == NULL) {
		respond_error(req, app, KR_DATABASE_UNAVAILABLE, 0);
		return HANDLER_ANSWERED;
	}
	memset(&x, 0, sizeof(x));
	x.req = req;
	x.cfg = app->cfg;
	x.csv = f->format == EXPORT_CSV;
	buf_init(&x.row, 64 * 1024);
	r = store_admin_export(conn, &f->where, EXPORT_ROW_CAP + 1,
	    export_row, &x);
	db_pool_release(app->db, conn);
	if (r == STORE_OK && !x.started)
		export_start(&x);
	if (store_failed(r))
		x.failed = 1;
	if (x.started && !x.failed && !x.gone && !x.csv) {
		buf_reset(&x.row);
		buf_printf(&x.row, "],\"row_cap\":%d,\"truncated\":%s}\n",
		    EXPORT_ROW_CAP, x.truncated ? "true" : "false");
		http_stream_write(req, buf_str(&x.row), x.row.len);
	} else if (x.started && !x.failed && !x.gone && x.truncated) {
		/* A CSV has no envelope: the last line says it was cut. */
		buf_reset(&x.row);
		buf_printf(&x.row, "# truncated at the export cap of %d rows; "
		    "narrow the filters for the rest\r\n", EXPORT_ROW_CAP);
		http_stream_write(req, buf_str(&x.row), x.row.len);
	} else if (x.started && x.failed) {
		/* JSON stays unclosed, so no parser takes it for whole; a CSV
		 * says so in its last line. */
		log_error("admin export: cut after %ld rows", x.n);
		if (x.csv && !x.gone) {
			buf_reset(&x.row);
			buf_printf(&x.row, "# export incomplete after %ld rows: "
			    "the database failed; retry\r\n", x.n);
			http_stream_write(req, buf_str(&x.row), x.row.len);
		}
	} else if (!x.started && r == STORE_DATA_ERROR)
		hr = list_bad_date(app, req);
	else if (!x.started)
		respond_error(req, app, KR_DATABASE_UNAVAILABLE, 0);
	buf_free(&x.row);
	return hr;
}

/* The cursor of a row: its creation time and id. */
static void
row_cursor(const struct trace_summary *t, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s|%s", t->created_at, t->trace_id);
}

/* A negative count or an empty string is written as JSON null. */
static void
add_long_or_null(struct json_object *o, const char *key, long v)
{
	if (v >= 0)
		kr_json_add(o, key, kr_json_int64(v));
	else
		kr_json_add_null(o, key);
}

static void
add_str_or_null(struct json_object *o, const char *key, const char *s)
{
	if (*s != '\0')
		kr_json_add(o, key, kr_json_string(s));
	else
		kr_json_add_null(o, key);
}

/* A decision the row has, else JSON null. */
static void
add_decision_or_null(struct json_object *o, const char *key, int has,
    enum decision d)
{
	add_str_or_null(o, key, has ? answer_decision_name(d) : "");
}

static struct json_object *
list_json(struct trace_summary *const *rows, size_t n, const char *older,
    const char *newer, char counts[NCOUNTS][32])
{
	struct json_object *obj, *arr, *item, *cobj;
	const struct trace_summary *t;
	size_t i;

	obj = kr_json_object();
	arr = kr_json_array();
	for (i = 0; i < n; i++) {
		t = rows[i];
		item = kr_json_object();
		kr_json_add(item, "trace_id",
		    kr_json_string(t->trace_id));
		kr_json_add(item, "account_id",
		    kr_json_string(t->account_id));
		kr_json_add(item, "status",
		    kr_json_string(store_traces_status_name(t->status)));
		add_decision_or_null(item, "decision", t->has_decision,
		    t->decision);
		add_str_or_null(item, "error.type", kr_error_code(t->error));
		kr_json_add(item, "created_at",
		    kr_json_string(t->created_at));
		add_long_or_null(item, "latency_ms", t->latency_ms);
		add_long_or_null(item, "provider_attempts", t->attempts);
		add_long_or_null(item, "gen_ai.usage.input_tokens",
		    t->input_tokens);
		add_long_or_null(item, "gen_ai.usage.output_tokens",
		    t->output_tokens);
		kr_json_add(item, "eval",
		    kr_json_bool(t->eval));
		kr_json_push(arr, item);
	}
	kr_json_add(obj, "traces", arr);
	add_str_or_null(obj, "next", older);
	add_str_or_null(obj, "previous", newer);
	cobj = kr_json_object();
	for (i = 0; i < NCOUNTS; i++)
		kr_json_add(cobj, store_traces_status_name(count_order[i]),
		    kr_json_string(counts[i]));
	kr_json_add(obj, "counts", cobj);
	return obj;
}

/* The list page's rows: the outcome is the decision of a completed trace,
 * the error of a failed one. */
static void
list_rows(struct template_ctx *ctx, struct trace_summary *const *rows, size_t n)
{
	const struct trace_summary *t;
	struct template_ctx *row;
	size_t i;

	template_list(ctx, "rows");
	for (i = 0; i < n; i++) {
		t = rows[i];
		row = template_list_add(ctx, "rows");
		template_set(row, "trace_id", t->trace_id);
		template_set(row, "account_id", t->account_id);
		template_set(row, "status",
		    store_traces_status_name(t->status));
		pages_set_time(row, "created", t->created_at);
		template_set(row, "outcome", t->status == TRACE_COMPLETED ?
		    (t->has_decision ? answer_decision_name(t->decision) : "") :
		    kr_error_code(t->error));
		if (t->latency_ms >= 0)
			template_setf(row, "latency", "%ld ms", t->latency_ms);
		else
			template_set(row, "latency", "");
		template_setf(row, "attempts", "%ld", t->attempts);
		if (t->input_tokens >= 0 || t->output_tokens >= 0) {
			char in[24] = "?", out[24] = "?";

			if (t->input_tokens >= 0)
				snprintf(in, sizeof(in), "%ld",
				    t->input_tokens);
			if (t->output_tokens >= 0)
				snprintf(out, sizeof(out), "%ld",
				    t->output_tokens);
			template_setf(row, "tokens", "%s / %s", in, out);
		} else
			template_set(row, "tokens", "");
	}
}

enum handler_result
admin_list(struct app *app, struct http_request *req)
{
	struct admin_filter f;
	struct report_errors errs;
	/* One past a page tells whether an older page exists. */
	struct trace_summary *rows = NULL, *shown[ADMIN_PAGE_SIZE];
	struct view v = { .page = PAGE_ADMIN_LIST, .title = "Traces" };
	struct template_ctx *ctx;
	char counts[NCOUNTS][32], older[80] = "", newer[80] = "", pos[24];
	size_t i, n = 0, nrows = 0;
	int newer_page;
	enum store_result r = STORE_OK;
	PGconn *conn;

	if (!admin_authenticated(app, req))
		return HANDLER_ANSWERED;
	if (admin_filter_parse(req->query, &f, &errs) != 0)
		return list_invalid(app, req, &errs);
	if (f.format != EXPORT_NONE)
		return list_export(app, req, &f);
	rows = kr_calloc(ADMIN_PAGE_SIZE + 1, sizeof(*rows));
	if ((conn = db_pool_acquire(app->db, DB_WAIT_MS)) == NULL) {
		respond_error(req, app, KR_DATABASE_UNAVAILABLE, 0);
		goto out;
	}
	newer_page = f.before.ts[0] != '\0';
	if (newer_page) {
		r = store_admin_list(conn, &f.where, &f.before, 1, rows,
		    ADMIN_PAGE_SIZE + 1, &nrows);
		/* At the top already: the newest page, as it is now. */
		if (r == STORE_OK && nrows <= ADMIN_PAGE_SIZE) {
			newer_page = 0;
			f.pos = 0;
		}
	}
	if (r == STORE_OK && !newer_page)
		r = store_admin_list(conn, &f.where, f.after.ts[0] ? &f.after :
		    NULL, 0, rows, ADMIN_PAGE_SIZE + 1, &nrows);
	if (r == STORE_OK && count_by_status(conn, &f.where, counts) != 0)
		r = STORE_UNAVAILABLE;
	db_pool_release(app->db, conn);
	if (r == STORE_DATA_ERROR) {
		free(rows);
		return list_bad_date(app, req);
	}
	if (r != STORE_OK) {
		respond_error(req, app, KR_DATABASE_UNAVAILABLE, 0);
		goto out;
	}

	/* The rows in display order, newest first; and the cursors of the
	 * pages either side (older: after the last row shown; newer: before
	 * the first, on every page but the newest). */
	n = nrows > ADMIN_PAGE_SIZE ? ADMIN_PAGE_SIZE : nrows;
	for (i = 0; i < n; i++)
		shown[i] = &rows[newer_page ? n - 1 - i : i];
	if (n > 0 && (newer_page || nrows > ADMIN_PAGE_SIZE))
		row_cursor(shown[n - 1], older, sizeof(older));
	if (n > 0 && (newer_page || f.after.ts[0] != '\0'))
		row_cursor(shown[0], newer, sizeof(newer));

	if (http_wants_json(req)) {
		v.page = PAGE_LAYOUT;
		v.json = list_json(shown, n, older, newer, counts);
		respond(req, app, &v);
		goto out;
	}
	ctx = v.ctx = template_ctx_new();
	echo_filters(ctx, req->query, &f);
	range_links(ctx, &f);
	for (i = 0; i < NCOUNTS; i++) {
		char key[32];

		snprintf(key, sizeof(key), "count_%s",
		    store_traces_status_name(count_order[i]));
		template_set(ctx, key, counts[i]);
	}
	template_set_bool(ctx, "traces", n > 0);
	list_rows(ctx, shown, n);
	if (n > 0)
		template_setf(ctx, "position", "%ld–%ld", f.pos + 1,
		    f.pos + (long)n);
	else
		template_set(ctx, "position", "");
	template_set(ctx, "next_link", "");
	template_set(ctx, "newer_link", "");
	if (*older) {
		snprintf(pos, sizeof(pos), "%ld", f.pos + (long)n);
		set_link(ctx, "next_link", &f, 1, "after", older, "pos", pos,
		    (const char *)NULL);
	}
	if (*newer) {
		snprintf(pos, sizeof(pos), "%ld", f.pos > ADMIN_PAGE_SIZE ?
		    f.pos - ADMIN_PAGE_SIZE : 0);
		set_link(ctx, "newer_link", &f, 1, "before", newer, "pos", pos,
		    (const char *)NULL);
	}
	if (*newer)
		set_link(ctx, "first_link", &f, 1, (const char *)NULL);
	else
		template_set(ctx, "first_link", "");
	set_link(ctx, "csv_link", &f, 1, "format", "csv", (const char *)NULL);
	set_link(ctx, "json_link", &f, 1, "format", "json", (const char *)NULL);
	retention_text(ctx, app->cfg);
	respond(req, app, &v);
out:
	free(rows);
	return HANDLER_ANSWERED;
}

static void
set_long(struct template_ctx *ctx, const char *name, long v, const char *unit)
{
	if (v < 0)
		template_set(ctx, name, "unknown");
	else
		template_setf(ctx, name, "%ld%s", v, unit);
}

/* The W3C trace id of a trace's exported spans: the caller's it
 * continued, else its own 128 bits (docs/telemetry.md). */
static int
span_trace_id(const struct trace_row *t, char out[TRACE_ID_W3C_SIZE])
{
	if (t->otel_trace_id[0] != '\0') {
		snprintf(out, TRACE_ID_W3C_SIZE, "%s", t->otel_trace_id);
		return 0;
	}
	return trace_id_to_w3c(t->trace_id, out);
}

/* Every stored field, under OpenTelemetry GenAI names where one exists. */
static struct json_object *
detail_json(const struct config *cfg, const struct trace_row *t)
{
	struct json_object *o = kr_json_object(), *ids, *reasons;
	char w3c[TRACE_ID_W3C_SIZE];
	struct genai g;
	size_t i;

	kr_json_add(o, "trace_id", kr_json_string(t->trace_id));
	kr_json_add(o, "account_id",
	    kr_json_string(t->account_id));
	kr_json_add(o, "status", kr_json_string(
	    store_traces_status_name(t->status)));
	kr_json_add(o, "eval", kr_json_bool(t->eval));
	add_str_or_null(o, "deadline_at", t->deadline_at);
	if (t->has_decision)
		kr_json_add(o, "decision",
		    kr_json_string(answer_decision_name(t->decision)));
	else
		kr_json_add_null(o, "decision");
	add_long_or_null(o, "rotation_window_days", t->rotation_window_days);
	ids = kr_json_array();
	for (i = 0; i < t->nsources; i++)
		kr_json_push(ids, kr_json_string(t->sources[i]));
	kr_json_add(o, "source_line_ids", ids);
	add_decision_or_null(o, "model_decision", t->has_model_decision,
	    t->model_decision);
	add_str_or_null(o, "error.type", kr_error_code(t->error));
	genai_describe(&g, t->provider, t->request_model,
	    genai_base_url(cfg, t->provider), t->prompt_version);
	genai_json_add(o, &g);
	add_str_or_null(o, "gen_ai.response.model", t->response_model);
	add_str_or_null(o, "gen_ai.response.id", t->response_id);
	reasons = kr_json_array();
	if (*t->finish_reason)
		kr_json_push(reasons,
		    kr_json_string(t->finish_reason));
	kr_json_add(o, "gen_ai.response.finish_reasons", reasons);
	add_long_or_null(o, "gen_ai.usage.input_tokens", t->input_tokens);
	add_long_or_null(o, "gen_ai.usage.output_tokens", t->output_tokens);
	kr_json_add(o, "provider_attempts",
	    kr_json_int(t->provider_attempts));
	add_long_or_null(o, "latency_ms", t->latency_ms);
	kr_json_add(o, "created_at", kr_json_string(t->created_at));
	add_str_or_null(o, "finished_at", t->finished_at);
	add_str_or_null(o, "idempotency_key", t->idempotency_key);
	kr_json_add(o, "input_fingerprint",
	    kr_json_string(t->input_fingerprint));
	kr_json_add(o, "fingerprint_key_id",
	    kr_json_string(t->fingerprint_key_id));
	kr_json_add(o, "prompt_version",
	    kr_json_string(t->prompt_version));
	if (span_trace_id(t, w3c) == 0)
		kr_json_add(o, "w3c_trace_id", kr_json_string(w3c));
	else
		kr_json_add_null(o, "w3c_trace_id");
	add_str_or_null(o, "otel.parent_span_id", t->otel_parent_span_id);
	return o;
}

enum handler_result
admin_detail(struct app *app, struct http_request *req)
{
	struct policy_line lines[POLICY_MAX_LINES];
	struct trace_row t;
	struct view v = { .page = PAGE_ADMIN_DETAIL, .title = "Trace" };
	struct template_ctx *ctx;
	enum store_result r = STORE_NOT_FOUND;
	PGconn *conn = NULL;
	size_t nlines = 0;
	char headers[256], w3c[TRACE_ID_W3C_SIZE];
	int age;

	if (!admin_authenticated(app, req))
		return HANDLER_ANSWERED;
	if (trace_id_valid(req->route_param)) {
		if ((conn = db_pool_acquire(app->db, DB_WAIT_MS)) == NULL)
			r = STORE_UNAVAILABLE;
		else if ((r = store_traces_get(conn, req->route_param, &t)) ==
		    STORE_OK && store_failed(store_traces_trusted(conn,
		    t.account_id, lines, POLICY_MAX_LINES, &nlines, &age)))
			nlines = 0;
		db_pool_release(app->db, conn);
	}
	if (r != STORE_OK) {
		respond_missing(req, app, store_failed(r), KR_HTTP_NO_TRACE);
		return HANDLER_ANSWERED;
	}
	/* ?format=json: the same JSON, as a file to keep. */
	if (strcmp(req->query, "format=json") == 0) {
		snprintf(headers, sizeof(headers), "Content-Disposition: "
		    "attachment; filename=\"keyrota-%s.json\"\r\n",
		    t.trace_id);
		v.headers = headers;
		v.page = PAGE_LAYOUT;
	}
	if (http_wants_json(req) || v.page == PAGE_LAYOUT) {
		v.page = PAGE_LAYOUT;
		v.json = detail_json(app->cfg, &t);
		respond(req, app, &v);
		return HANDLER_ANSWERED;
	}
	ctx = v.ctx = template_ctx_new();
	template_set(ctx, "trace_id", t.trace_id);
	template_set(ctx, "status", store_traces_status_name(t.status));
	template_set(ctx, "origin", t.eval ?
	    "keyrota eval (the key age came from the eval case)" : "report");
	template_set(ctx, "account_id", t.account_id);
	template_set(ctx, "decision", t.has_decision ?
	    answer_decision_name(t.decision) : "none");
	set_long(ctx, "window", t.rotation_window_days, " days");
	pages_set_lines(ctx, &t, lines, nlines);
	template_set(ctx, "model_decision", t.has_model_decision ?
	    answer_decision_name(t.model_decision) : "nothing usable");
	template_set(ctx, "error_code", t.error != KR_OK ?
	    kr_error_code(t.error) : "none");
	template_set(ctx, "provider", t.provider);
	template_set(ctx, "request_model", t.request_model);
	template_set(ctx, "response_model", *t.response_model ?
	    t.response_model : "unknown");
	template_setf(ctx, "attempts", "%d", t.provider_attempts);
	set_long(ctx, "input_tokens", t.input_tokens, "");
	set_long(ctx, "output_tokens", t.output_tokens, "");
	template_set(ctx, "response_id",
	    *t.response_id ? t.response_id : "none");
	template_set(ctx, "finish_reason", *t.finish_reason ? t.finish_reason :
	    "none");
	set_long(ctx, "latency", t.latency_ms, " ms");
	pages_set_time(ctx, "created", t.created_at);
	pages_set_time(ctx, "finished", t.finished_at);
	pages_set_time(ctx, "deadline", t.deadline_at);
	template_set_bool(ctx, "has_w3c", span_trace_id(&t, w3c) == 0);
	template_set(ctx, "w3c_trace_id", w3c);
	template_set(ctx, "parent_span_id", t.otel_parent_span_id);
	template_set(ctx, "input_fingerprint", t.input_fingerprint);
	template_set(ctx, "fingerprint_key_id", t.fingerprint_key_id);
	template_set(ctx, "idempotency_key", *t.idempotency_key ?
	    t.idempotency_key : "none");
	template_set(ctx, "prompt_version", t.prompt_version);
	respond(req, app, &v);
	return HANDLER_ANSWERED;
}
