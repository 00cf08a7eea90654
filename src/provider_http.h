/* provider_http: the transport every model provider over HTTP shares
 * (provider_openai.c, provider_anthropic.c): one job per decision on the
 * worker's loop, one total deadline over every attempt and every wait,
 * the retry policy of retry.h with Retry-After honoured, kept-alive
 * handles, HTTP/2 over TLS, the CA file, the request headers and the
 * per-attempt log of provider_result.
 *
 * A provider supplies its wire format as a provider_wire: how to build
 * the request body, read a completed answer, and say what an error
 * response stands for. The key and the extra headers are secrets: held
 * in one header list, wiped before they are freed, never logged. */
#ifndef KEYROTA_PROVIDER_HTTP_H
#define KEYROTA_PROVIDER_HTTP_H

#include <stddef.h>

#include "config.h"
#include "provider.h"

struct provider_wire_opts {
	const char *model;
	const char *max_tokens_field;    /* read by the formats that need it */
};

struct provider_wire {
	const char *name;                /* the provider's ops->name */
	/* A malloc'd request body, or NULL when it passes its bound. */
	char *(*build)(const struct provider_wire_opts *opts,
	          const struct provider_call *call);
	/* Reads a 200 response that is an answer into res (res->error set). */
	void  (*parse)(const char *body, size_t len,
	          struct provider_result *res);
	/* The HTTP status a response stands for: 200 when it is an answer
	 * to parse, else the status its error says (a 200 whose body is an
	 * error object stands for that error). *no_retry is set when
	 * waiting cannot cure it: quota, spend limit or credits exhausted. */
	long  (*classify)(long status, const char *body, size_t len,
	          int *no_retry);
};

struct provider_http_opts {
	const struct provider_wire *wire;
	const char     *url;             /* the whole endpoint, query included */
	const char     *model;
	const char     *max_tokens_field;
	enum model_auth auth;
	const char     *key;             /* copied into a header; wiped */
	const char     *fixed_headers;   /* the format's own "Name: value\n"
	                                    lines; NULL for none */
	const char     *extra_headers;   /* checked lines of the headers file
	                                    (secret.h); NULL for none */
	const char     *ca_file;         /* NULL or "": the system's CAs */
	unsigned        timeout_ms;      /* total, retries and waits included */
	unsigned        max_attempts;
};

/* Fills h for wire and url with what every format takes from the
 * configured model (model, auth, key, headers file, CA file, limits); the
 * format adds its own (max_tokens_field, fixed_headers). */
void provider_http_opts_init(struct provider_http_opts *h,
         const struct provider_wire *wire, const char *url,
         const struct provider_model_opts *model);

/* A provider whose every call runs on loop; NULL when the options do not
 * fit (a URL or header too long) or libcurl cannot hold a header. */
struct provider *provider_http_create(struct loop *loop,
                     const struct provider_http_opts *opts);

/* Writes base, without its trailing slashes, then path ("/messages") to
 * url. Returns -1 when it does not fit in len. */
int provider_http_url(char *url, size_t len, const char *base,
        const char *path);

/* Appends "?name=value" (or "&name=value" when url has a query) to url,
 * value percent-encoded. Returns -1 when it does not fit in len. */
int provider_http_query(char *url, size_t len, const char *name,
        const char *value);

#endif
