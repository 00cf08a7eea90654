/* The one renderer: what a view becomes on the wire, for a client that
 * asks for JSON and for a browser. The request is a real http_request whose
 * FastCGI output stream writes into memory; the pages are the real
 * templates. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcgiapp.h>
#include <json-c/json.h>

#include "app.h"
#include "buf.h"
#include "errors.h"
#include "http.h"
#include "pages.h"
#include "provider.h"
#include "report.h"
#include "respond.h"
#include "template.h"
#include "unit.h"

#ifndef TEMPLATE_DIR
#define TEMPLATE_DIR "templates"
#endif

static const struct provider_ops fixture_ops = { "fixture", NULL, NULL };

/* A request and where its answer lands. */
struct fake {
	struct http_request req;
	FCGX_Stream         out;
	unsigned char       chunk[512];   /* small: the stream flushes often */
	struct buf          wire;
	char               *env[8];
	char                accept[128];
	char                content_type[64];
	const char         *head;         /* into wire: the headers */
	const char         *body;         /* into wire: after the blank line */
};

static void
flush(FCGX_Stream *s, int close)
{
	struct fake *f = s->data;

	(void)close;
	buf_append(&f->wire, f->chunk, (size_t)(s->wrNext - f->chunk));
	s->wrNext = f->chunk;
}

static struct fake *
fake_new(const char *method, const char *accept, const char *content_type)
{
	struct fake *f = calloc(1, sizeof(*f));
	size_t n = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	f->out.wrNext = f->out.rdNext = f->out.stopUnget = f->chunk;
	f->out.stop = f->chunk + sizeof(f->chunk);
	f->out.emptyBuffProc = flush;
	f->out.data = f;
	buf_init(&f->wire, 1024 * 1024);
	if (accept != NULL) {
		snprintf(f->accept, sizeof(f->accept), "HTTP_ACCEPT=%s", accept);
		f->env[n++] = f->accept;
	}
	f->env[n] = NULL;
	snprintf(f->content_type, sizeof(f->content_type), "%s",
	    content_type != NULL ? content_type : "");
	f->req.fcgx = &f->req.fcgx_storage;
	f->req.fcgx->out = &f->out;
	f->req.fcgx->envp = f->env;
	f->req.method = method;
	f->req.path = "/";
	f->req.query = "";
	f->req.content_type = f->content_type;
	snprintf(f->req.request_id, sizeof(f->req.request_id), "%s",
	    "0123456789abcdef0123456789abcdef");
	return f;
}

/* Ends the answer: headers and body split at the blank line. */
static void
fake_done(struct fake *f)
{
	char *sep;

	flush(&f->out, 0);
	sep = strstr(f->wire.data != NULL ? f->wire.data : "", "\r\n\r\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(sep);
	*sep = '\0';
	f->head = buf_str(&f->wire);
	f->body = sep + 4;
}

static void
fake_free(struct fake *f)
{
	buf_free(&f->wire);
	free(f);
}

/* The value of a header line ("Name: value"), or NULL. */
static const char *
header(const struct fake *f, const char *name, char *out, size_t outlen)
{
	const char *p = f->head;
	size_t n = strlen(name);

	while (p != NULL && *p != '\0') {
		if (strncmp(p, name, n) == 0 && p[n] == ':') {
			const char *end = strstr(p, "\r\n");
			size_t len = end != NULL ? (size_t)(end - p) : strlen(p);

			snprintf(out, outlen, "%.*s", (int)(len - n - 2),
			    p + n + 2);
			return out;
		}
		p = strstr(p, "\r\n");
		if (p != NULL)
			p += 2;
	}
	return NULL;
}

/* Header name is want (NULL: absent). */
static void
assert_header(const struct fake *f, const char *name, const char *want)
{
	char v[512];
	const char *got = header(f, name, v, sizeof(v));

	if (want == NULL) {
		CU_ASSERT_PTR_NULL(got);
		return;
	}
	CU_ASSERT_PTR_NOT_NULL_FATAL(got);
	CU_ASSERT_STRING_EQUAL(got, want);
}

static struct app app;

/* The answer to a view, for a request of method and Accept. */
static struct fake *
answer(const char *method, const char *accept, const char *content_type,
    struct view *v)
{
	struct fake *f = fake_new(method, accept, content_type);

	respond(&f->req, &app, v);
	fake_done(f);
	return f;
}

/* The answer to an error of the product's table. */
static struct fake *
answer_error(const char *accept, const char *content_type, enum kr_error e,
    unsigned retry_after_s)
{
	struct view v = { .error = e, .retry_after_s = retry_after_s };

	return answer("POST", accept, content_type, &v);
}

static struct provider prov = { &fixture_ops, "keyrota-fixture-1", 0, NULL };

static int
setup(void)
{
	char err[256];

	app.provider = &prov;
	app.pages = pages_load(TEMPLATE_DIR, err, sizeof(err));
	if (app.pages == NULL)
		fprintf(stderr, "templates: %s\n", err);
	return app.pages == NULL;
}

static int
teardown(void)
{
	pages_free(app.pages);
	return 0;
}

/* The JSON of an error as its row states it. */
static void
assert_json_row(const char *body, const struct kr_error_row *row)
{
	struct json_object *obj = json_tokener_parse(body), *v;

	CU_ASSERT_PTR_NOT_NULL_FATAL(obj);
	CU_ASSERT_TRUE(json_object_object_get_ex(obj, "error_code", &v));
	CU_ASSERT_STRING_EQUAL(json_object_get_string(v), row->code);
	CU_ASSERT_TRUE(json_object_object_get_ex(obj, "error", &v));
	CU_ASSERT_STRING_EQUAL(json_object_get_string(v), row->explain);
	json_object_put(obj);
}

static void
assert_json_error(const char *body, enum kr_error e)
{
	assert_json_row(body, kr_error_row(e));
}

static void
test_error_as_json_carries_the_table_row(void)
{
	struct fake *f = answer_error("application/json", NULL, KR_OVERLOADED,
	    3);

	CU_ASSERT_EQUAL(f->req.status, 503);
	CU_ASSERT_PTR_NOT_NULL(strstr(f->head, "Status: 503 "));
	assert_header(f, "Content-Type", "application/json");
	assert_header(f, "Cache-Control", "no-store");
	assert_header(f, "Retry-After", "3");
	assert_header(f, "X-Request-Id", "0123456789abcdef0123456789abcdef");
	assert_json_error(f->body, KR_OVERLOADED);
	fake_free(f);
}

static void
test_error_as_html_is_the_error_page(void)
{
	/* No refinement: the table's own Retry-After. */
	struct fake *f = answer_error("text/html", NULL,
	    KR_DATABASE_UNAVAILABLE, 0);

	CU_ASSERT_EQUAL(f->req.status, 503);
	assert_header(f, "Content-Type", "text/html; charset=utf-8");
	assert_header(f, "Cache-Control", "no-store");
	assert_header(f, "Retry-After", "5");
	assert_header(f, "X-Content-Type-Options", "nosniff");
	CU_ASSERT_PTR_NOT_NULL(strstr(f->body,
	    "<code>database_unavailable</code>"));
	CU_ASSERT_PTR_NOT_NULL(strstr(f->body,
	    kr_error_explain(KR_DATABASE_UNAVAILABLE)));
	CU_ASSERT_PTR_NOT_NULL(strstr(f->body, "HTTP 503"));
	CU_ASSERT_PTR_NOT_NULL(strstr(f->body, "</html>"));
	fake_free(f);
}

/* A JSON body without Accept reads JSON back (curl's default); only the
 * errors whose row has a Retry-After carry one, whatever the caller
 * passed. */
static void
test_json_body_without_accept_gets_json(void)
{
	struct fake *f = answer_error(NULL, "application/json",
	    KR_IDEMPOTENCY_CONFLICT, 9);

	CU_ASSERT_EQUAL(f->req.status, 409);
	assert_header(f, "Content-Type", "application/json");
	assert_header(f, "Retry-After", NULL);
	assert_json_error(f->body, KR_IDEMPOTENCY_CONFLICT);
	fake_free(f);
}

static void
test_http_error_rows_and_extra_headers(void)
{
	struct view v = { .http_error = KR_HTTP_BAD_METHOD,
	    .headers = "Allow: GET\r\n" };
	struct fake *f = answer("DELETE", "application/json", NULL, &v);

	CU_ASSERT_EQUAL(f->req.status, 405);
	assert_header(f, "Allow", "GET");
	assert_header(f, "Cache-Control", "no-store");
	assert_json_row(f->body, kr_http_error_row(KR_HTTP_BAD_METHOD));
	fake_free(f);
}

/* A trace's error answered without a trace is the server's failure: a
 * 500, never a 200 that looks like success. */
static void
test_trace_error_without_a_trace_is_a_500(void)
{
	struct fake *f = answer_error("application/json", NULL,
	    KR_INTERNAL_ERROR, 0);

	CU_ASSERT_EQUAL(f->req.status, 500);
	assert_json_row(f->body, kr_http_error_row(KR_HTTP_SERVER_ERROR));
	fake_free(f);
}

static void
test_invalid_request_names_each_field(void)
{
	struct report_errors errs = { 0 };
	struct view v = { .error = KR_INVALID_REQUEST, .fields = &errs };
	struct fake *f;
	struct json_object *obj, *fields, *m;

	snprintf(errs.e[0].field, sizeof(errs.e[0].field), "account_id");
	errs.e[0].message = "looks like acct_12345 <here>";
	errs.n = 1;
	f = answer("POST", "application/json", NULL, &v);
	CU_ASSERT_EQUAL(f->req.status, 422);
	assert_json_error(f->body, KR_INVALID_REQUEST);
	obj = json_tokener_parse(f->body);
	CU_ASSERT_PTR_NOT_NULL_FATAL(obj);
	CU_ASSERT_TRUE(json_object_object_get_ex(obj, "fields", &fields));
	CU_ASSERT_TRUE(json_object_object_get_ex(fields, "account_id", &m));
	CU_ASSERT_STRING_EQUAL(json_object_get_string(m),
	    "looks like acct_12345 <here>");
	json_object_put(obj);
	fake_free(f);

	/* On the page, each field with its message, escaped. */
	f = answer("POST", "text/html", NULL, &v);
	CU_ASSERT_EQUAL(f->req.status, 422);
	CU_ASSERT_PTR_NOT_NULL(strstr(f->body, "<code>account_id</code>"));
	CU_ASSERT_PTR_NOT_NULL(strstr(f->body,
	    "looks like acct_12345 &lt;here&gt;"));
	CU_ASSERT_PTR_NULL(strstr(f->body, "<here>"));
	fake_free(f);
}

/* A view with JSON and no page is JSON-only; a page without an error is
 * HTML-only, whatever Accept says. respond() frees what the view holds. */
static void
test_json_only_and_page_only_views_ignore_accept(void)
{
	struct view v = { .json = json_object_new_object(),
	    .retry_after_s = 1, .status = 202 };
	struct fake *f;

	json_object_object_add(v.json, "status",
	    json_object_new_string("running"));
	f = answer("GET", "text/html", NULL, &v);
	CU_ASSERT_EQUAL(f->req.status, 202);
	assert_header(f, "Content-Type", "application/json");
	assert_header(f, "Retry-After", "1");
	CU_ASSERT_STRING_EQUAL(f->body, "{\"status\":\"running\"}");
	CU_ASSERT_PTR_NULL(v.json);
	fake_free(f);

	v = (struct view){ .page = PAGE_ERROR, .ctx = template_ctx_new(),
	    .title = "T" };
	template_set(v.ctx, "heading", "A heading");
	template_set(v.ctx, "message", "A message");
	template_set(v.ctx, "error_code", "none");
	template_set(v.ctx, "status", "200");
	template_set_bool(v.ctx, "has_fields", 0);
	template_list(v.ctx, "fields");
	f = answer("GET", "application/json", NULL, &v);
	CU_ASSERT_EQUAL(f->req.status, 200);
	assert_header(f, "Content-Type", "text/html; charset=utf-8");
	assert_header(f, "Cache-Control", "no-store");
	assert_header(f, "Retry-After", NULL);
	CU_ASSERT_PTR_NOT_NULL(strstr(f->body, "<title>T · keyrota</title>"));
	CU_ASSERT_PTR_NULL(v.ctx);
	fake_free(f);
}

/* A text body keeps its type; HEAD gets the headers alone. */
static void
test_text_view_and_head(void)
{
	static const char text[] = "# metrics\n";
	struct view v = { .text = text, .text_len = sizeof(text) - 1,
	    .text_type = "text/plain; version=0.0.4; charset=utf-8" };
	struct fake *f = answer("GET", "application/json", NULL, &v);

	assert_header(f, "Content-Type",
	    "text/plain; version=0.0.4; charset=utf-8");
	assert_header(f, "Cache-Control", "no-store");
	CU_ASSERT_STRING_EQUAL(f->body, text);
	fake_free(f);

	v = (struct view){ .http_error = KR_HTTP_NO_TRACE };
	f = answer("HEAD", "text/html", NULL, &v);
	CU_ASSERT_EQUAL(f->req.status, 404);
	CU_ASSERT_STRING_EQUAL(f->body, "");
	fake_free(f);
}

/* A view that says nothing (a handler's bug) is a 500, never an empty
 * 200. */
static void
test_empty_view_is_a_500(void)
{
	struct view v = { .page = PAGE_FORM };     /* a page without names */
	struct fake *f = answer("GET", "text/html", NULL, &v);

	CU_ASSERT_EQUAL(f->req.status, 500);
	CU_ASSERT_PTR_NOT_NULL(strstr(f->body, "<code>internal_error</code>"));
	fake_free(f);
}

/* Only the first answer of a request is written. */
static void
test_one_answer_per_request(void)
{
	struct fake *f = fake_new("GET", "application/json", NULL);

	respond_http_error(&f->req, &app, KR_HTTP_NO_PAGE, NULL);
	respond_error(&f->req, &app, KR_DATABASE_UNAVAILABLE, 0);
	fake_done(f);
	CU_ASSERT_EQUAL(f->req.status, 404);
	CU_ASSERT_PTR_NULL(strstr(f->body, "database_unavailable"));
	fake_free(f);
}

/* Both tables: every row has a code, a sentence and an error status; the
 * HTTP answers reuse no product code but internal_error, which names the
 * same failure. */
static void
test_error_tables_are_complete(void)
{
	const struct kr_error_row *row;
	int e;

	for (e = 1; e < KR_ERROR__MAX; e++) {
		row = kr_error_row((enum kr_error)e);
		CU_ASSERT_TRUE(*row->code != '\0' && *row->explain != '\0');
		CU_ASSERT_TRUE(kr_error_is_trace_error((enum kr_error)e) ?
		    row->http_status == 200 : row->http_status >= 400);
		/* Retry-After only on the 503s and the 429. */
		CU_ASSERT_TRUE(row->retry_after_s == 0 ||
		    row->http_status == 503 || row->http_status == 429);
	}
	for (e = 1; e < KR_HTTP_ERROR__MAX; e++) {
		row = kr_http_error_row((enum kr_http_error)e);
		CU_ASSERT_TRUE(*row->code != '\0' && *row->explain != '\0');
		CU_ASSERT_TRUE(row->http_status >= 400);
		CU_ASSERT_TRUE(strcmp(row->code, "internal_error") == 0 ||
		    kr_error_from_code(row->code) == KR_ERROR__MAX);
	}
}

void
suite_respond(void)
{
	CU_pSuite s = CU_add_suite("respond", setup, teardown);

	ADD_TEST(s, test_error_as_json_carries_the_table_row);
	ADD_TEST(s, test_error_as_html_is_the_error_page);
	ADD_TEST(s, test_json_body_without_accept_gets_json);
	ADD_TEST(s, test_http_error_rows_and_extra_headers);
	ADD_TEST(s, test_trace_error_without_a_trace_is_a_500);
	ADD_TEST(s, test_invalid_request_names_each_field);
	ADD_TEST(s, test_json_only_and_page_only_views_ignore_accept);
	ADD_TEST(s, test_text_view_and_head);
	ADD_TEST(s, test_empty_view_is_a_500);
	ADD_TEST(s, test_one_answer_per_request);
	ADD_TEST(s, test_error_tables_are_complete);
}
