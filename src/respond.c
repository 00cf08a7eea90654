/* respond: one renderer for every answer (respond.h). */
#include "autoconfig.h"

#include <string.h>

#include <json-c/json.h>

#include "alloc.h"
#include "app.h"
#include "buf.h"
#include "http.h"
#include "log.h"
#include "report.h"
#include "respond.h"
#include "template.h"

#define PAGE_MAX (256 * 1024)
#define HEADERS_MAX 8192

/* Every answer: nothing keyrota says may be kept by a cache. */
#define NO_STORE "Cache-Control: no-store\r\n"

/* Every page and plain answer: no inline script or style anywhere. */
#define PAGE_HEADERS \
	"Content-Security-Policy: default-src 'self'; script-src 'self'; " \
	"style-src 'self'; object-src 'none'; base-uri 'none'; " \
	"frame-ancestors 'none'; form-action 'self'\r\n" \
	"X-Content-Type-Options: nosniff\r\n" \
	"Referrer-Policy: no-referrer\r\n"

/* The view's error row. A trace's error has no trace to carry it here
 * (the decision could not even start): that is the server's failure. */
static const struct kr_error_row *
view_error(const struct view *v)
{
	if (v->error != KR_OK)
		return kr_error_is_trace_error(v->error) ?
		    kr_http_error_row(KR_HTTP_SERVER_ERROR) :
		    kr_error_row(v->error);
	if (v->http_error != KR_HTTP_NONE)
		return kr_http_error_row(v->http_error);
	return NULL;
}

static int
has_page(const struct view *v)
{
	return v->page != PAGE_LAYOUT && v->ctx != NULL;
}

static int
view_is_json(const struct http_request *req, const struct app *app,
    const struct view *v, const struct kr_error_row *err)
{
	if (v->json != NULL && !has_page(v))
		return 1;
	if (v->json == NULL && err == NULL)
		return 0;
	/* Templates are always loaded while serving; without them JSON is
	 * the only form left. */
	return http_wants_json(req) || app == NULL || app->pages == NULL;
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

/* {"error_code","error"[,"fields"]} added to the view's JSON, if any. */
static int
json_body(const struct view *v, const struct kr_error_row *err,
    struct buf *out)
{
	struct json_object *obj, *fields;
	const char *s;
	size_t i, len;
	int rc;

	obj = v->json != NULL ? json_object_get(v->json) :
	    kr_json_object();
	if (err != NULL) {
		kr_json_add(obj, "error_code",
		    kr_json_string(err->code));
		kr_json_add(obj, "error",
		    kr_json_string(err->explain));
	}
	if (err != NULL && v->fields != NULL) {
		fields = kr_json_object();
		for (i = 0; i < v->fields->n; i++)
			kr_json_add(fields, v->fields->e[i].field,
			    kr_json_string(v->fields->e[i].message));
		kr_json_add(obj, "fields", fields);
	}
	s = kr_json_text(obj, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	rc = buf_append(out, s, len) == BUF_OK ? 0 : -1;
	json_object_put(obj);
	return rc;
}

/* The view's page, or the error page, inside the layout. */
static int
html_body(const struct app *app, const struct view *v,
    const struct kr_error_row *err, int status, struct buf *out)
{
	struct template_ctx *ctx = NULL, *item;
	size_t i;
	int rc;

	if (has_page(v))
		return pages_render(app, v->page, v->ctx, v->title != NULL ?
		    v->title : status_heading(status), out);
	ctx = template_ctx_new();
	template_set(ctx, "heading", status_heading(status));
	template_set(ctx, "message", err->explain);
	template_set(ctx, "error_code", err->code);
	template_setf(ctx, "status", "%d", status);
	template_set_bool(ctx, "has_fields", v->fields != NULL &&
	    v->fields->n > 0);
	template_list(ctx, "fields");
	for (i = 0; v->fields != NULL && i < v->fields->n; i++) {
		item = template_list_add(ctx, "fields");
		template_set(item, "field", v->fields->e[i].field);
		template_set(item, "message", v->fields->e[i].message);
	}
	rc = pages_render(app, PAGE_ERROR, ctx, v->title != NULL ? v->title :
	    status_heading(status), out);
	template_ctx_free(ctx);
	return rc;
}

void
respond(struct http_request *req, const struct app *app, struct view *v)
{
	const struct kr_error_row *err = view_error(v);
	const char *type, *body;
	struct buf headers, page;
	unsigned retry = v->retry_after_s;
	size_t len;
	int status, rc = 0;

	status = v->status != 0 ? v->status : err != NULL ?
	    err->http_status : 200;
	/* A view with nothing to say is the server's failure. */
	if (err == NULL && v->text == NULL && v->json == NULL &&
	    !has_page(v)) {
		err = kr_http_error_row(KR_HTTP_SERVER_ERROR);
		status = err->http_status;
	}

	buf_init(&headers, HEADERS_MAX);
	buf_init(&page, PAGE_MAX);
	/* An error's Retry-After is its row's, which the caller may refine;
	 * an error without one never gets one. */
	if (err != NULL)
		retry = err->retry_after_s == 0 ? 0 : retry != 0 ? retry :
		    err->retry_after_s;
	if (retry > 0)
		buf_printf(&headers, "Retry-After: %u\r\n", retry);
	if (v->headers != NULL)
		buf_puts(&headers, v->headers);
	if (v->text != NULL) {
		type = v->text_type != NULL ? v->text_type :
		    "text/plain; charset=utf-8";
		buf_puts(&headers, PAGE_HEADERS);
		body = v->text;
		len = v->text_len;
	} else if (view_is_json(req, app, v, err)) {
		type = "application/json";
		rc = json_body(v, err, &page);
		body = buf_str(&page);
		len = page.len;
	} else {
		type = "text/html; charset=utf-8";
		buf_puts(&headers, PAGE_HEADERS);
		rc = html_body(app, v, err, status, &page);
		body = buf_str(&page);
		len = page.len;
	}
	if (rc != 0 || buf_puts(&headers, NO_STORE) != BUF_OK) {
		buf_reset(&headers);
		buf_puts(&headers, NO_STORE PAGE_HEADERS);
		type = "text/plain; charset=utf-8";
		body = "internal error\n";
		len = strlen(body);
		status = 500;
	}
	http_respond(req, status, type, buf_str(&headers), body, len);
	buf_free(&page);
	buf_free(&headers);
	json_object_put(v->json);
	template_ctx_free(v->ctx);
	v->json = NULL;
	v->ctx = NULL;
}

void
respond_error(struct http_request *req, const struct app *app,
    enum kr_error e, unsigned retry_after_s)
{
	struct view v = { .error = e, .retry_after_s = retry_after_s };

	respond(req, app, &v);
}

void
respond_http_error(struct http_request *req, const struct app *app,
    enum kr_http_error e, const char *headers)
{
	struct view v = { .http_error = e, .headers = headers };

	respond(req, app, &v);
}

void
respond_missing(struct http_request *req, const struct app *app,
    int store_failed, enum kr_http_error not_found)
{
	if (store_failed)
		respond_error(req, app, KR_DATABASE_UNAVAILABLE, 0);
	else
		respond_http_error(req, app, not_found, NULL);
}

void
respond_stream_start(struct http_request *req, const char *content_type,
    const char *headers)
{
	struct buf h;

	buf_init(&h, HEADERS_MAX);
	buf_puts(&h, NO_STORE "X-Content-Type-Options: nosniff\r\n");
	if (headers != NULL)
		buf_puts(&h, headers);
	http_stream_start(req, 200, content_type, buf_str(&h));
	buf_free(&h);
}
