#include "autoconfig.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "alloc.h"
#include "http.h"
#include "log.h"
#include "metrics.h"

static const char *
param_or(const struct http_request *r, const char *name, const char *def)
{
	const char *v = FCGX_GetParam(name, r->fcgx->envp);

	return v != NULL ? v : def;
}

/* nginx's $request_id arrives as KEYROTA_REQUEST_ID so access logs of both
 * agree; without it (another front end) keyrota makes its own. */
static void
request_id_init(struct http_request *r)
{
	const char *id = FCGX_GetParam("KEYROTA_REQUEST_ID", r->fcgx->envp);
	unsigned char raw[16];
	size_t i, n;

	if (id != NULL && (n = strlen(id)) >= 8 && n < sizeof(r->request_id)) {
		for (i = 0; i < n && isxdigit((unsigned char)id[i]); i++)
			;
		if (i == n) {
			memcpy(r->request_id, id, n + 1);
			return;
		}
	}
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		memset(raw, 0, sizeof(raw));
	for (i = 0; i < sizeof(raw); i++)
		snprintf(r->request_id + 2 * i, 3, "%02x", raw[i]);
}

struct http_request *
http_request_new(int listen_fd)
{
	struct http_request *r;

	r = kr_calloc(1, sizeof(*r));
	r->fcgx = &r->fcgx_storage;
	FCGX_InitRequest(r->fcgx, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR);
	buf_init(&r->body, HTTP_BODY_MAX);
	return r;
}

int
http_request_accept(struct http_request *r)
{
	const char *cl;
	char *end;
	long long v;
	int rc;

	if ((rc = FCGX_Accept_r(r->fcgx)) < 0)
		return rc;
	clock_gettime(CLOCK_MONOTONIC, &r->started);
	r->method = param_or(r, "REQUEST_METHOD", "GET");
	r->path = param_or(r, "DOCUMENT_URI", "/");
	r->query = param_or(r, "QUERY_STRING", "");
	r->content_type = param_or(r, "CONTENT_TYPE", "");
	r->route_name = "unmatched";
	r->route_index = -1;
	r->content_length = -1;
	cl = FCGX_GetParam("CONTENT_LENGTH", r->fcgx->envp);
	if (cl != NULL && *cl != '\0') {
		errno = 0;
		v = strtoll(cl, &end, 10);
		/* An unparseable length is treated as too large, never as 0. */
		r->content_length = (errno || *end || v < 0) ?
		    (long long)1 << 62 : v;
	}
	request_id_init(r);
	return 0;
}

void
http_request_discard(struct http_request *r)
{
	if (r == NULL)
		return;
	FCGX_Free(r->fcgx, 1);
	buf_free(&r->body);
	free(r);
}

void
http_request_finish(struct http_request *r)
{
	void (*on_finish)(void *) = r->on_finish;
	void *arg = r->on_finish_arg;

	log_request(r->request_id, r->method, r->route_name, r->status,
	    http_elapsed_ms(r));
	/* Counted before FCGX_Finish_r flushes the response: a client that
	 * scrapes /metrics once its answer arrived finds it counted. */
	metrics_request(r->route_index, r->method, r->status,
	    http_elapsed_ms(r) / 1e3);
	FCGX_Finish_r(r->fcgx);
	buf_free(&r->body);
	free(r);
	if (on_finish != NULL)
		on_finish(arg);
}

const char *
http_param(const struct http_request *r, const char *name)
{
	return FCGX_GetParam(name, r->fcgx->envp);
}

int
http_wants_json(const struct http_request *r)
{
	const char *accept = http_param(r, "HTTP_ACCEPT");

	if (accept != NULL && strstr(accept, "application/json") != NULL)
		return 1;
	/* A client that sent JSON and stated no preference (no Accept, an
	 * empty one, or curl's and most libraries' lone wildcard) reads JSON. */
	return (accept == NULL || *accept == '\0' ||
	    strcmp(accept, "*/*") == 0) &&
	    http_content_type_is(r, "application/json");
}

int
http_content_type_is(const struct http_request *r, const char *mime)
{
	size_t n = strlen(mime);
	const char *ct = r->content_type;

	if (strncasecmp(ct, mime, n) != 0)
		return 0;
	return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

enum http_body_status
http_read_body(struct http_request *r, size_t max)
{
	char chunk[4096];
	int n;

	if (max > r->body.max)
		max = r->body.max;
	if (r->content_length > (long long)max)
		return HTTP_BODY_TOO_LARGE;
	/* Read one byte past the limit to catch a body longer than declared. */
	while ((n = FCGX_GetStr(chunk, sizeof(chunk), r->fcgx->in)) > 0) {
		if (r->body.len + (size_t)n > max)
			return HTTP_BODY_TOO_LARGE;
		if (buf_append(&r->body, chunk, (size_t)n) != BUF_OK)
			return HTTP_BODY_IO;
	}
	if (FCGX_GetError(r->fcgx->in) != 0)
		return HTTP_BODY_IO;
	return HTTP_BODY_OK;
}

const char *
http_status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default:  return "Unknown";
	}
}

void
http_respond(struct http_request *r, int status, const char *content_type,
    const char *extra_headers, const char *body, size_t len)
{
	struct buf head;

	if (r->status != 0)
		return;      /* a response was already written */
	r->status = status;
	/* libfcgi's own printf knows no %zu: headers are formatted here. */
	buf_init(&head, 8192);
	buf_printf(&head, "Status: %d %s\r\n", status, http_status_text(status));
	if (content_type != NULL)
		buf_printf(&head, "Content-Type: %s\r\n", content_type);
	if (buf_printf(&head, "Content-Length: %zu\r\nX-Request-Id: %s\r\n"
	    "%s\r\n", len, r->request_id,
	    extra_headers != NULL ? extra_headers : "") != BUF_OK) {
		buf_reset(&head);
		buf_puts(&head, "Status: 500 Internal Server Error\r\n\r\n");
		r->status = 500;
		len = 0;
	}
	FCGX_PutStr(buf_str(&head), (int)head.len, r->fcgx->out);
	if (len > 0 && strcmp(r->method, "HEAD") != 0)
		FCGX_PutStr(body, (int)len, r->fcgx->out);
	buf_free(&head);
}

void
http_stream_start(struct http_request *r, int status,
    const char *content_type, const char *extra_headers)
{
	struct buf head;

	if (r->status != 0)
		return;
	r->status = status;
	buf_init(&head, 8192);
	if (buf_printf(&head, "Status: %d %s\r\nContent-Type: %s\r\n"
	    "X-Request-Id: %s\r\n%s\r\n", status, http_status_text(status),
	    content_type, r->request_id,
	    extra_headers != NULL ? extra_headers : "") != BUF_OK) {
		buf_reset(&head);
		buf_puts(&head, "Status: 500 Internal Server Error\r\n\r\n");
		r->status = 500;
	}
	FCGX_PutStr(buf_str(&head), (int)head.len, r->fcgx->out);
	buf_free(&head);
}

int
http_stream_write(struct http_request *r, const char *data, size_t len)
{
	if (r->status >= 500 || strcmp(r->method, "HEAD") == 0)
		return 0;
	while (len > 0) {
		int n = len > 65536 ? 65536 : (int)len;

		if (FCGX_PutStr(data, n, r->fcgx->out) != n)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

double
http_elapsed_ms(const struct http_request *r)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - r->started.tv_sec) * 1e3 +
	    (double)(now.tv_nsec - r->started.tv_nsec) / 1e6;
}
