#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "app.h"
#include "csrf.h"
#include "db_pool.h"
#include "decide.h"
#include "form.h"
#include "http.h"
#include "log.h"
#include "pages.h"
#include "provider.h"
#include "report.h"
#include "respond.h"
#include "template.h"
#include "token.h"
#include "store_traces.h"

#define REQUEST_BYTES   16
#define DB_WAIT_MS      2000
/* Seconds between looks at a running trace, with or without the script. */
#define RUNNING_REFRESH_S 4

static const char *const page_files[PAGE__MAX] = {
	[PAGE_LAYOUT] = "layout.html",
	[PAGE_FORM] = "form.html",
	[PAGE_RUNNING] = "trace_running.html",
	[PAGE_COMPLETED] = "trace_completed.html",
	[PAGE_FAILED] = "trace_failed.html",
	[PAGE_ERROR] = "error.html",
	[PAGE_ADMIN_LIST] = "admin_list.html",
	[PAGE_ADMIN_DETAIL] = "admin_detail.html",
	[PAGE_ADMIN_EVALS] = "admin_evals.html",
	[PAGE_ADMIN_EVAL_RUN] = "admin_eval_run.html",
};

struct pages {
	struct template *t[PAGE__MAX];
};

struct pages *
pages_load(const char *dir, char *err, size_t errlen)
{
	struct pages *p;
	char path[512];
	int i;

	p = kr_calloc(1, sizeof(*p));
	for (i = 0; i < PAGE__MAX; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, page_files[i]);
		if ((p->t[i] = template_load(path, err, errlen)) == NULL) {
			pages_free(p);
			return NULL;
		}
	}
	return p;
}

void
pages_free(struct pages *p)
{
	int i;

	if (p == NULL)
		return;
	for (i = 0; i < PAGE__MAX; i++)
		template_free(p->t[i]);
	free(p);
}

int
pages_render(const struct app *app, enum page page, struct template_ctx *ctx,
    const char *title, struct buf *out)
{
	char err[256];

	template_set(ctx, "title", title);
	/* Admin tables need the room; the person's pages read better narrow. */
	template_set_bool(ctx, "wide", page >= PAGE_ADMIN_LIST);
	template_set(ctx, "provider_name", app->provider->ops->name);
	template_set(ctx, "model_name", app->provider->model);
	template_set_bool(ctx, "is_fixture",
	    strcmp(app->provider->ops->name, "fixture") == 0);
	if (template_render(app->pages->t[page], app->pages->t[PAGE_LAYOUT],
	    ctx, out, err, sizeof(err)) != 0) {
		log_error("rendering %s: %s", page_files[page], err);
		return -1;
	}
	return 0;
}

void
pages_set_time(struct template_ctx *ctx, const char *name, const char *iso)
{
	char key[64];

	/* iso is "YYYY-MM-DDTHH:MM:SS[.fff]Z" or "" (not yet). */
	snprintf(key, sizeof(key), "%s_iso", name);
	template_set(ctx, key, iso);
	snprintf(key, sizeof(key), "%s_text", name);
	if (strlen(iso) >= 19)
		template_setf(ctx, key, "%.10s %.8s UTC", iso, iso + 11);
	else
		template_set(ctx, key, iso);
}

static int
request_https(const struct http_request *req)
{
	return csrf_https(http_param(req, "HTTPS"),
	    http_param(req, "HTTP_X_FORWARDED_PROTO"));
}

/* The CSRF cookie of the request's scheme, into out. */
static int
csrf_cookie_get(const struct http_request *req, char *out, size_t outlen)
{
	return csrf_cookie_find(http_param(req, "HTTP_COOKIE"),
	    csrf_cookie_name(request_https(req)), out, outlen);
}

/* The form, empty or with the person's input and messages (e is then
 * KR_INVALID_REQUEST). */
static void
send_form(struct app *app, struct http_request *req, enum kr_error e,
    const struct form *input, const struct report_errors *errs,
    const char *form_error)
{
	struct view view = { .error = e, .fields = errs, .page = PAGE_FORM,
	    .title = "Report a stale key" };
	char csrf[CSRF_TOKEN_LEN + 1], request_token[TOKEN_LEN(REQUEST_BYTES) + 1];
	char cookie[256], name[64];
	struct template_ctx *ctx = template_ctx_new();
	const char *v;
	size_t i;
	static const char *const fields[] = { "account_id", "credential_report",
	    "item" };

	/* Keep a valid CSRF cookie the browser already has (another tab). */
	cookie[0] = '\0';
	if (csrf_cookie_get(req, csrf, sizeof(csrf)) != 0 ||
	    !token_valid(csrf, CSRF_TOKEN_LEN)) {
		if (token_random(csrf, sizeof(csrf), CSRF_BYTES) != 0 ||
		    csrf_set_cookie(cookie, sizeof(cookie), csrf,
		    request_https(req)) != 0) {
			template_ctx_free(ctx);
			respond_http_error(req, app, KR_HTTP_SERVER_ERROR,
			    NULL);
			return;
		}
	}
	token_random(request_token, sizeof(request_token), REQUEST_BYTES);
	template_set(ctx, "csrf_token", csrf);
	template_set(ctx, "request_token", request_token);
	for (i = 0; i < 3; i++) {
		v = input != NULL ? form_get(input, fields[i]) : NULL;
		template_set(ctx, fields[i], v != NULL ? v : "");
	}
	for (i = 0; errs != NULL && i < errs->n; i++) {
		snprintf(name, sizeof(name), "%s_error", errs->e[i].field);
		if (strcmp(errs->e[i].field, "account_id") == 0 ||
		    strcmp(errs->e[i].field, "credential_report") == 0 ||
		    strcmp(errs->e[i].field, "item") == 0)
			template_setf(ctx, name, "%s %s",
			    strcmp(errs->e[i].field, "account_id") == 0 ?
			    "The account ID" : strcmp(errs->e[i].field,
			    "item") == 0 ? "The credential name" : "The report",
			    errs->e[i].message);
		else if (form_error == NULL)
			form_error = "The form had unexpected fields; reload "
			    "the page and try again.";
	}
	if (form_error != NULL)
		template_set(ctx, "form_error", form_error);
	template_set_bool(ctx, "has_errors", form_error != NULL ||
	    (errs != NULL && errs->n > 0));
	view.ctx = ctx;
	view.headers = cookie;
	respond(req, app, &view);
}

enum handler_result
pages_index(struct app *app, struct http_request *req)
{
	send_form(app, req, KR_OK, NULL, NULL, NULL);
	return HANDLER_ANSWERED;
}

/* The request must come from a page of this site (see csrf.h). The Host
 * to compare an Origin with is the header as the browser sent it, port
 * included: nginx passes it as KEYROTA_HTTP_HOST, because Debian's
 * fastcgi_params replaces HTTP_HOST with $host, which drops the port. */
static int
same_origin(const struct http_request *req)
{
	struct csrf_request r;

	r.sec_fetch_site = http_param(req, "HTTP_SEC_FETCH_SITE");
	r.origin = http_param(req, "HTTP_ORIGIN");
	r.host = http_param(req, "KEYROTA_HTTP_HOST");
	if (r.host == NULL)
		r.host = http_param(req, "HTTP_HOST");
	r.https = request_https(req);
	return csrf_same_origin(&r);
}

/* Browsers send textarea line breaks as CRLF; the report rules allow
 * only LF, so CRLF (and a lone CR) become LF. */
static void
normalise_newlines(struct form *f)
{
	size_t i;
	char *r, *w;

	for (i = 0; i < f->n; i++) {
		for (r = w = f->fields[i].value; *r != '\0'; r++) {
			if (*r == '\r') {
				*w++ = '\n';
				if (r[1] == '\n')
					r++;
			} else
				*w++ = *r;
		}
		*w = '\0';
		f->fields[i].value_len = (size_t)(w - f->fields[i].value);
	}
}

static void
redirect_to_trace(struct app *app, struct http_request *req,
    const char *trace_id)
{
	static const char text[] = "See the trace page.\n";
	char location[512];
	struct view v = { .status = 303, .text = text,
	    .text_len = sizeof(text) - 1, .headers = location };

	snprintf(location, sizeof(location),
	    "Location: /rotation/traces/%s\r\n", trace_id);
	respond(req, app, &v);
}

/* The running row is committed: send the person to the trace page now;
 * the model call continues here, in the worker. */
static void
form_running(void *ctx, const struct decide_outcome *o)
{
	struct app_parked *flow = ctx;

	redirect_to_trace(flow->app, flow->req, o->trace_id);
	http_request_finish(flow->req);
	flow->req = NULL;
}

static void
form_done(void *ctx, const struct decide_outcome *o)
{
	struct app_parked *flow = ctx;

	if (flow->req != NULL) {
		if (o->error == KR_OK)          /* a double submit */
			redirect_to_trace(flow->app, flow->req, o->trace_id);
		else
			respond_error(flow->req, flow->app, o->error,
			    o->retry_after_s);
		http_request_finish(flow->req);
	}
	free(flow);
}

enum handler_result
pages_decide(struct app *app, struct http_request *req)
{
	static const char *const extra[] = { "csrf_token", "request_token",
	    NULL };
	char cookie[CSRF_TOKEN_LEN + 1], key[64];
	struct report_errors errs;
	struct report report;
	const char *field, *token;
	struct form f;

	if (form_parse(&f, buf_str(&req->body), req->body.len) != FORM_OK) {
		send_form(app, req, KR_INVALID_REQUEST, NULL, NULL,
		    "The form data could not be read; please try again.");
		return HANDLER_ANSWERED;
	}
	field = form_get(&f, "csrf_token");
	token = form_get(&f, "request_token");
	if (!same_origin(req) || field == NULL || form_count(&f,
	    "csrf_token") != 1 || csrf_cookie_get(req, cookie,
	    sizeof(cookie)) != 0 || !csrf_tokens_match(cookie, field) ||
	    token == NULL || form_count(&f, "request_token") != 1 ||
	    !token_valid(token, TOKEN_LEN(REQUEST_BYTES))) {
		form_free(&f);
		respond_error(req, app, KR_CSRF_FAILED, 0);
		return HANDLER_ANSWERED;
	}
	normalise_newlines(&f);
	if (report_from_form(&f, extra, &report, &errs) != 0) {
		send_form(app, req, KR_INVALID_REQUEST, &f, &errs, NULL);
		form_free(&f);
		return HANDLER_ANSWERED;
	}
	/* Form keys live apart from API Idempotency-Keys. */
	snprintf(key, sizeof(key), "form:%s", token);
	form_free(&f);
	return app_park_on_decision(app, req, &report, key, form_running,
	    form_done);
}

/* What each decision means to the person who reported the key. */
static const struct {
	const char *headline;
	const char *meaning;
} outcomes[DECISION__MAX] = {
	[DECISION_ELIGIBLE] = { "Eligible under " POLICY_LINE,
	    "Policy " POLICY_LINE " supports rotating this key: the report "
	    "describes a stale service-account key and the account's "
	    "trusted records put its age within the rotation window." },
	[DECISION_NOT_ELIGIBLE] = { "Not eligible under " POLICY_LINE,
	    "Policy " POLICY_LINE " does not support rotating this key on the "
	    "strength of this report." },
	[DECISION_NEEDS_REVIEW] = { "Needs review under " POLICY_LINE,
	    "The report does not give enough to decide under " POLICY_LINE
	    "; a person needs to review it." },
};

void
pages_set_lines(struct template_ctx *ctx, const struct trace_row *row,
    const struct policy_line *lines, size_t nlines)
{
	struct template_ctx *item;
	size_t i, j;

	template_list(ctx, "lines");
	for (i = 0; i < row->nsources; i++)
		for (j = 0; j < nlines; j++)
			if (strcmp(row->sources[i], lines[j].line_id) == 0) {
				item = template_list_add(ctx, "lines");
				template_set(item, "line_id", lines[j].line_id);
				template_set(item, "summary", lines[j].summary);
				template_setf(item, "window_days", "%d",
				    lines[j].rotation_window_days);
			}
}

/* Adds the cited policy lines, with their text, to ctx. */
static void
add_lines(PGconn *conn, const struct trace_row *row, struct template_ctx *ctx)
{
	struct policy_line lines[POLICY_MAX_LINES];
	size_t n = 0;
	int age;

	if (store_failed(store_traces_trusted(conn, row->account_id, lines,
	    POLICY_MAX_LINES, &n, &age)))
		n = 0;
	pages_set_lines(ctx, row, lines, n);
}

enum handler_result
pages_trace(struct app *app, struct http_request *req)
{
	struct trace_row row;
	enum store_result r = STORE_NOT_FOUND;
	struct view v = { .page = PAGE_RUNNING };
	enum decision d;
	PGconn *conn = NULL;

	if (trace_id_valid(req->route_param)) {
		if ((conn = db_pool_acquire(app->db, DB_WAIT_MS)) == NULL)
			r = STORE_UNAVAILABLE;
		else
			r = store_traces_get(conn, req->route_param, &row);
	}
	if (r != STORE_OK) {
		db_pool_release(app->db, conn);
		respond_missing(req, app, store_failed(r), KR_HTTP_NO_TRACE);
		return HANDLER_ANSWERED;
	}
	v.ctx = template_ctx_new();
	template_set(v.ctx, "trace_id", row.trace_id);
	pages_set_time(v.ctx, "created", row.created_at);
	pages_set_time(v.ctx, "finished", row.finished_at);
	if (row.status == TRACE_COMPLETED) {
		/* A completed trace without a readable decision needs a
		 * person, as its page says. */
		d = row.has_decision ? row.decision : DECISION_NEEDS_REVIEW;
		template_set(v.ctx, "decision", row.has_decision ?
		    answer_decision_name(row.decision) : "");
		template_set(v.ctx, "headline", outcomes[d].headline);
		template_set(v.ctx, "meaning", outcomes[d].meaning);
		add_lines(conn, &row, v.ctx);
		v.page = PAGE_COMPLETED;
		v.title = outcomes[d].headline;
	} else if (row.status == TRACE_FAILED) {
		template_set(v.ctx, "error_code", kr_error_code(row.error));
		template_set(v.ctx, "explanation", kr_error_explain(row.error));
		v.page = PAGE_FAILED;
		v.title = "Decision unavailable";
	} else {
		/* A calm interval, said the same way to scripts (the
		 * header, the data attribute) and to the noscript refresh. */
		template_setf(v.ctx, "refresh", "%d", RUNNING_REFRESH_S);
		v.title = "Checking policy " POLICY_LINE;
		v.retry_after_s = RUNNING_REFRESH_S;
	}
	db_pool_release(app->db, conn);
	respond(req, app, &v);
	return HANDLER_ANSWERED;
}
