/* respond: how a request is answered. A handler describes its answer as a
 * struct view and calls respond(); one renderer turns every view into JSON
 * or an HTML page and adds the status line, Content-Type, Cache-Control:
 * no-store, the page security headers and Retry-After (docs/http-api.md,
 * "Errors" and "Headers"). An error's code, status, sentence and
 * Retry-After come only from the tables of errors.h.
 *
 * JSON or HTML: a view with JSON and no page is JSON-only; a page without
 * an error is HTML-only; anything else (errors, or a view that has both)
 * is JSON when the client asks for it (http_wants_json), else HTML. */
#ifndef KEYROTA_RESPOND_H
#define KEYROTA_RESPOND_H

#include <stddef.h>

#include "errors.h"
#include "pages.h"

struct app;
struct http_request;
struct json_object;
struct report_errors;
struct template_ctx;

struct view {
	int                         status;        /* 0: the error's, or 200 */
	enum kr_error               error;         /* KR_OK: none */
	enum kr_http_error          http_error;    /* KR_HTTP_NONE: none */
	const struct report_errors *fields;        /* 422: a message a field */
	/* The JSON body; with an error, the error's members are added to
	 * it. respond() frees it. */
	struct json_object         *json;
	/* The page (inside the layout) and its names, which respond()
	 * frees; PAGE_LAYOUT for none, which for an error means the error
	 * page. */
	enum page                   page;
	struct template_ctx                *ctx;
	const char                 *title;         /* NULL: the status heading */
	/* A plain body instead of JSON or a page (metrics, a redirect). */
	const char                 *text;
	size_t                      text_len;
	const char                 *text_type;     /* NULL: text/plain */
	/* Seconds: an error's refinement of its own Retry-After (ignored for
	 * errors without one); for other answers, the header as is. */
	unsigned                    retry_after_s;
	const char                 *headers;       /* more lines, each CRLF */
};

/* Writes the answer the view describes, then frees v->json and v->ctx
 * (and sets them NULL); the request is not finished. */
void respond(struct http_request *req, const struct app *app,
         struct view *v);
/* An error of the product's table; retry_after_s as in struct view. */
void respond_error(struct http_request *req, const struct app *app,
         enum kr_error e, unsigned retry_after_s);
/* An HTTP answer of the second table; headers may be NULL (Allow,
 * WWW-Authenticate). */
void respond_http_error(struct http_request *req, const struct app *app,
         enum kr_http_error e, const char *headers);
/* A lookup with nothing to show: 503 database_unavailable when the store
 * failed, else the not-found answer given. */
void respond_missing(struct http_request *req, const struct app *app,
         int store_failed, enum kr_http_error not_found);
/* The start of a streamed download (http_stream_start) with the same
 * standard headers; headers adds Content-Disposition. */
void respond_stream_start(struct http_request *req, const char *content_type,
         const char *headers);

#endif
