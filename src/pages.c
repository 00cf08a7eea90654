#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
#include "template.h"
#include "token.h"
#include "store_traces.h"

#define PAGE_MAX        (256 * 1024)
#define REQUEST_BYTES   16
#define DB_WAIT_MS      2000
/* Seconds between looks at a running trace, with or without the script. */
#define RUNNING_REFRESH_S 4
#define STR_(x)         #x
#define STR(x)          STR_(x)

/* Every HTML response: no inline script or style anywhere. */
#define HTML_HEADERS \
	"Content-Security-Policy: default-src 'self'; script-src 'self'; " \
	"style-src 'self'; object-src 'none'; base-uri 'none'; " \
	"frame-ancestors 'none'; form-action 'self'\r\n" \
	"X-Content-Type-Options: nosniff\r\n" \
	"Referrer-Policy: no-referrer\r\n" \
	"Cache-Control: no-store\r\n"

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

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
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

void
pages_send(struct app *app, struct http_request *req, int status,
    enum page page, struct tctx *ctx, const char *title,
    const char *extra_headers)
{
	struct buf out, headers;
	char err[256];

	tctx_set(ctx, "title", title);
	/* Admin tables need the room; the person's pages read better narrow. */
	tctx_set_bool(ctx, "wide", page >= PAGE_ADMIN_LIST);
	tctx_set(ctx, "provider_name", app->provider->ops->name);
	tctx_set(ctx, "model_name", app->provider->model);
	tctx_set_bool(ctx, "is_fixture",
	    strcmp(app->provider->ops->name, "fixture") == 0);
	buf_init(&out, PAGE_MAX);
	buf_init(&headers, 4096);
	buf_puts(&headers, HTML_HEADERS);
	if (extra_headers != NULL)
		buf_puts(&headers, extra_headers);
	if (template_render(app->pages->t[page], app->pages->t[PAGE_LAYOUT],
	    ctx, &out, err, sizeof(err)) != 0) {
		log_error("rendering %s: %s", page_files[page], err);
		http_respond(req, 500, "text/plain; charset=utf-8",
		    HTML_HEADERS, "internal error\n", 15);
	} else
		http_respond(req, status, "text/html; charset=utf-8",
		    buf_str(&headers), buf_str(&out), out.len);
	buf_free(&headers);
	buf_free(&out);
}

void
pages_set_time(struct tctx *ctx, const char *name, const char *iso)
{
	char key[64];

	/* iso is "YYYY-MM-DDTHH:MM:SS[.fff]Z" or "" (not yet). */
	snprintf(key, sizeof(key), "%s_iso", name);
	tctx_set(ctx, key, iso);
	snprintf(key, sizeof(key), "%s_text", name);
	if (strlen(iso) >= 19)
		tctx_setf(ctx, key, "%.10s %.8s UTC", iso, iso + 11);
	else
		tctx_set(ctx, key, iso);
}

static const char *
status_heading(int status)
{
	switch (status) {
	case 403: return "This form could not be verified";
	case 404: return "Not found";
	case 405: return "Method not allowed";
	case 409: return "This request was already used";
	case 413: return "Too much text";
	case 415: return "Unsupported request";
	case 422: return "Please check the form";
	case 429: return "Too many requests";
	case 503: return "Temporarily unavailable";
	default:  return "Something went wrong";
	}
}

void
pages_error(struct app *app, struct http_request *req, int status,
    const char *code, const char *message, const char *extra_headers)
{
	struct tctx *ctx;

	if (http_wants_json(req) || app->pages == NULL) {
		http_respond_error(req, status, code, message, extra_headers);
		return;
	}
	ctx = tctx_new();
	tctx_set(ctx, "heading", status_heading(status));
	tctx_set(ctx, "message", message);
	tctx_set(ctx, "error_code", code);
	tctx_setf(ctx, "status", "%d", status);
	pages_send(app, req, status, PAGE_ERROR, ctx, status_heading(status),
	    extra_headers);
	tctx_free(ctx);
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

/* The form, empty or with the person's input and messages. */
static void
send_form(struct app *app, struct http_request *req, int status,
    const struct form *input, const struct report_errors *errs,
    const char *form_error)
{
	char csrf[CSRF_TOKEN_LEN + 1], request_token[TOKEN_LEN(REQUEST_BYTES) + 1];
	char cookie[256], name[64];
	struct tctx *ctx = tctx_new();
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
			tctx_free(ctx);
			pages_error(app, req, 500, "internal_error",
			    "The form could not be prepared.", NULL);
			return;
		}
	}
	token_random(request_token, sizeof(request_token), REQUEST_BYTES);
	tctx_set(ctx, "csrf_token", csrf);
	tctx_set(ctx, "request_token", request_token);
	for (i = 0; i < 3; i++) {
		v = input != NULL ? form_get(input, fields[i]) : NULL;
		tctx_set(ctx, fields[i], v != NULL ? v : "");
	}
	for (i = 0; errs != NULL && i < errs->n; i++) {
		snprintf(name, sizeof(name), "%s_error", errs->e[i].field);
		if (strcmp(errs->e[i].field, "account_id") == 0 ||
		    strcmp(errs->e[i].field, "credential_report") == 0 ||
		    strcmp(errs->e[i].field, "item") == 0)
			tctx_setf(ctx, name, "%s %s",
			    strcmp(errs->e[i].field, "account_id") == 0 ?
			    "The account ID" : strcmp(errs->e[i].field,
			    "item") == 0 ? "The credential name" : "The report",
			    errs->e[i].message);
		else if (form_error == NULL)
			form_error = "The form had unexpected fields; reload "
			    "the page and try again.";
	}
	if (form_error != NULL)
		tctx_set(ctx, "form_error", form_error);
	tctx_set_bool(ctx, "has_errors", form_error != NULL ||
	    (errs != NULL && errs->n > 0));
	pages_send(app, req, status, PAGE_FORM, ctx, "Report a stale key",
	    cookie);
	tctx_free(ctx);
}

enum handler_result
pages_index(struct app *app, struct http_request *req)
{
	send_form(app, req, 200, NULL, NULL, NULL);
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

struct form_flow {
	struct app          *app;
	struct http_request *req;    /* NULL once answered */
};

static void
redirect_to_trace(struct http_request *req, const char *trace_id)
{
	char location[512];

	snprintf(location, sizeof(location),
	    "Location: /rotation/traces/%s\r\n" HTML_HEADERS, trace_id);
	http_respond(req, 303, "text/plain; charset=utf-8", location,
	    "See the trace page.\n", 20);
}

/* The running row is committed: send the person to the trace page now;
 * the model call continues here, in the worker. */
static void
form_running(void *ctx, const struct decide_outcome *o)
{
	struct form_flow *flow = ctx;

	redirect_to_trace(flow->req, o->trace_id);
	http_request_finish(flow->req);
	flow->req = NULL;
}

static void
form_done(void *ctx, const struct decide_outcome *o)
{
	struct form_flow *flow = ctx;
	char retry[HTTP_RETRY_AFTER_MAX];

	if (flow->req != NULL) {
		if (o->error == KR_OK)          /* a double submit */
			redirect_to_trace(flow->req, o->trace_id);
		else {
			http_retry_after(retry, sizeof(retry),
			    o->retry_after_s);
			pages_error(flow->app, flow->req,
			    kr_error_http_status(o->error),
			    kr_error_code(o->error), kr_error_explain(o->error),
			    retry);
		}
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
	struct form_flow *flow;
	const char *field, *token;
	struct form f;

	if (form_parse(&f, buf_str(&req->body), req->body.len) != FORM_OK) {
		send_form(app, req, 422, NULL, NULL,
		    "The form data could not be read; please try again.");
		return HANDLER_ANSWERED;
	}
	field = form_get(&f, "csrf_token");
	if (!same_origin(req) || field == NULL || form_count(&f,
	    "csrf_token") != 1 || csrf_cookie_get(req, cookie,
	    sizeof(cookie)) != 0 || !csrf_tokens_match(cookie, field)) {
		form_free(&f);
		pages_error(app, req, 403, kr_error_code(KR_CSRF_FAILED),
		    kr_error_explain(KR_CSRF_FAILED), NULL);
		return HANDLER_ANSWERED;
	}
	token = form_get(&f, "request_token");
	if (token == NULL || form_count(&f, "request_token") != 1 ||
	    !token_valid(token, TOKEN_LEN(REQUEST_BYTES))) {
		form_free(&f);
		pages_error(app, req, 403, kr_error_code(KR_CSRF_FAILED),
		    kr_error_explain(KR_CSRF_FAILED), NULL);
		return HANDLER_ANSWERED;
	}
	normalise_newlines(&f);
	if (report_from_form(&f, extra, &report, &errs) != 0) {
		send_form(app, req, 422, &f, &errs, NULL);
		form_free(&f);
		return HANDLER_ANSWERED;
	}
	/* Form keys live apart from API Idempotency-Keys. */
	snprintf(key, sizeof(key), "form:%s", token);
	form_free(&f);
	if ((flow = calloc(1, sizeof(*flow))) == NULL) {
		report_free(&report);
		pages_error(app, req, 500, "internal_error",
		    kr_error_explain(KR_INTERNAL_ERROR), NULL);
		return HANDLER_ANSWERED;
	}
	flow->app = app;
	flow->req = req;
	decide_start(app, &report, key, form_running, form_done, flow);
	return HANDLER_PARKED;
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

/* Adds the cited policy lines, with their text, to ctx. */
static void
add_lines(PGconn *conn, const struct trace_row *row, struct tctx *ctx)
{
	struct policy_line lines[POLICY_MAX_LINES];
	struct tctx *item;
	size_t n = 0, i, j;
	int age;

	tctx_list(ctx, "lines");
	if (store_failed(store_traces_trusted(conn, row->account_id, lines,
	    POLICY_MAX_LINES, &n, &age)))
		n = 0;
	for (i = 0; i < row->nsources; i++)
		for (j = 0; j < n; j++)
			if (strcmp(row->sources[i], lines[j].line_id) == 0) {
				item = tctx_list_add(ctx, "lines");
				tctx_set(item, "line_id", lines[j].line_id);
				tctx_set(item, "summary", lines[j].summary);
				tctx_setf(item, "window_days", "%d",
				    lines[j].rotation_window_days);
			}
}

enum handler_result
pages_trace(struct app *app, struct http_request *req)
{
	struct trace_row row;
	enum store_result r = STORE_NOT_FOUND;
	struct tctx *ctx;
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
		if (store_failed(r))
			pages_error(app, req, 503,
			    kr_error_code(KR_DATABASE_UNAVAILABLE),
			    kr_error_explain(KR_DATABASE_UNAVAILABLE),
			    "Retry-After: 5\r\n");
		else
			pages_error(app, req, 404, "not_found",
			    "There is no trace with this id.", NULL);
		return HANDLER_ANSWERED;
	}
	ctx = tctx_new();
	tctx_set(ctx, "trace_id", row.trace_id);
	pages_set_time(ctx, "created", row.created_at);
	pages_set_time(ctx, "finished", row.finished_at);
	if (row.status == TRACE_COMPLETED) {
		/* A completed trace without a readable decision needs a
		 * person, as its page says. */
		d = row.has_decision ? row.decision : DECISION_NEEDS_REVIEW;
		tctx_set(ctx, "decision", row.has_decision ?
		    answer_decision_name(row.decision) : "");
		tctx_set(ctx, "headline", outcomes[d].headline);
		tctx_set(ctx, "meaning", outcomes[d].meaning);
		add_lines(conn, &row, ctx);
		db_pool_release(app->db, conn);
		pages_send(app, req, 200, PAGE_COMPLETED, ctx,
		    outcomes[d].headline, NULL);
	} else if (row.status == TRACE_FAILED) {
		db_pool_release(app->db, conn);
		tctx_set(ctx, "error_code", kr_error_code(row.error));
		tctx_set(ctx, "explanation", kr_error_explain(row.error));
		pages_send(app, req, 200, PAGE_FAILED, ctx,
		    "Decision unavailable", NULL);
	} else {
		db_pool_release(app->db, conn);
		/* A calm interval, said the same way to scripts (the
		 * header, the data attribute) and to the noscript refresh. */
		tctx_setf(ctx, "refresh", "%d", RUNNING_REFRESH_S);
		pages_send(app, req, 200, PAGE_RUNNING, ctx,
		    "Checking policy " POLICY_LINE, "Retry-After: "
		    STR(RUNNING_REFRESH_S) "\r\n");
	}
	tctx_free(ctx);
	return HANDLER_ANSWERED;
}
