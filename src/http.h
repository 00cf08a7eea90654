/* http: one FastCGI request seen as an HTTP request, and its response.
 *
 * Parameters come from nginx (DOCUMENT_URI, QUERY_STRING, HTTP_* headers).
 * Bodies are read only after their declared length has been checked
 * against the route's limit. Every response carries X-Request-Id. */
#ifndef KEYROTA_HTTP_H
#define KEYROTA_HTTP_H

#include <stddef.h>
#include <time.h>

#include <fcgiapp.h>

#include "buf.h"

#define HTTP_BODY_MAX (16 * 1024)

struct http_request {
	FCGX_Request     fcgx_storage;
	FCGX_Request    *fcgx;           /* &fcgx_storage */
	const char      *method;
	const char      *path;           /* decoded and normalised by nginx */
	const char      *query;          /* raw, "" when none */
	const char      *content_type;   /* "" when none */
	long long        content_length; /* -1 when not given */
	char             request_id[33];
	struct timespec  started;
	const char      *route_name;     /* for logs; "unmatched" until routed */
	char             route_param[128]; /* the {param} of the route, or "" */
	int              route_index;    /* in the route table; -1 unmatched */
	int              status;         /* 0 until a response is written */
	struct buf       body;
	void           (*on_finish)(void *arg);   /* after the response */
	void            *on_finish_arg;
};

enum http_body_status { HTTP_BODY_OK, HTTP_BODY_TOO_LARGE, HTTP_BODY_IO };

/* A request object waiting on listen_fd. */
struct http_request *http_request_new(int listen_fd);
/* Waits for the next request (FCGX_Accept_r); returns 0, or a negative
 * errno (-EINTR when woken to stop). */
int         http_request_accept(struct http_request *r);
/* Frees a request that was never accepted. */
void        http_request_discard(struct http_request *r);
/* Writes the access log line, ends the FastCGI request, runs on_finish
 * and frees r. */
void        http_request_finish(struct http_request *r);
/* A FastCGI parameter, e.g. "HTTP_ORIGIN"; NULL when absent. */
const char *http_param(const struct http_request *r, const char *name);
/* True when the client prefers JSON: Accept names application/json, or
 * there is no Accept header and the request body is JSON. */
int         http_wants_json(const struct http_request *r);
/* True when the media type (parameters ignored) equals mime. */
int         http_content_type_is(const struct http_request *r,
                const char *mime);
enum http_body_status http_read_body(struct http_request *r, size_t max);

/* Writes status line, headers and body. extra_headers is "" or lines each
 * ending in CRLF. Handlers answer through respond.h, which calls this. */
void        http_respond(struct http_request *r, int status,
                const char *content_type, const char *extra_headers,
                const char *body, size_t len);
/* A response whose length is not known up front (exports): the status
 * line and headers now, without Content-Length, then the body in pieces.
 * http_stream_write returns 0, or -1 once the client is gone; nothing is
 * written for HEAD. */
void        http_stream_start(struct http_request *r, int status,
                const char *content_type, const char *extra_headers);
int         http_stream_write(struct http_request *r, const char *data,
                size_t len);
const char *http_status_text(int status);
double      http_elapsed_ms(const struct http_request *r);

#endif
