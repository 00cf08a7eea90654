/* provider_http: the shared transport of the HTTP model providers
 * (provider_http.h).
 *
 * Every call runs on the worker's loop (one multi handle, kept-alive
 * connections), within one total deadline that covers every attempt and
 * every wait between them, time queued for a connection included. Over
 * HTTPS, HTTP/2 is negotiated and a worker's calls share a few multiplexed
 * connections; over HTTP/1.1 connections are reused, and bounded by the
 * loop (loop.h). Response bodies are capped and grow with what arrives;
 * the key and the extra headers are sent only as headers, from one header
 * list per provider, and never logged. */
#include "autoconfig.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/rand.h>

#include "alloc.h"
#include "buf.h"
#include "clock.h"
#include "log.h"
#include "loop.h"
#include "provider_http.h"
#include "retry.h"
#include "secret.h"

#define RESPONSE_MAX     (256 * 1024)
#define CONNECT_MAX_MS   5000
#define IDLE_HANDLES_MAX 64
/* libcurl's receive buffer per transfer; an answer is a few hundred
 * bytes, and a parked call should not hold the 16 KiB default. */
#define RECV_BUFFER      4096

struct http_provider {
	struct loop  *loop;
	struct provider_ops ops;
	const struct provider_wire *wire;
	char          url[1024];
	struct curl_slist *headers;              /* shared by every call */
	char          ca_file[4096];             /* "" = the system's */
	char          tokens_field[32];
	int           tls;                       /* an https:// URL */
	unsigned      timeout_ms;
	unsigned      max_attempts;
	pthread_mutex_t lock;
	CURL         *idle[IDLE_HANDLES_MAX];    /* reused: keep-alive */
	unsigned      nidle;
};

struct http_job {
	struct provider        *p;
	struct http_provider   *o;
	char                   *body;
	long long               deadline_ms;
	unsigned                attempt;
	CURL                   *easy;
	struct buf              response;
	int                     oversized;
	long                    retry_after_ms;
	struct provider_result  result;
	provider_done_fn        done;
	void                   *ctx;
};

static CURL *
handle_get(struct http_provider *o)
{
	CURL *h = NULL;

	pthread_mutex_lock(&o->lock);
	if (o->nidle > 0)
		h = o->idle[--o->nidle];
	pthread_mutex_unlock(&o->lock);
	if (h != NULL)
		curl_easy_reset(h);      /* keeps its connection and DNS cache */
	else
		h = curl_easy_init();
	return h;
}

static void
handle_put(struct http_provider *o, CURL *h)
{
	if (h == NULL)
		return;
	pthread_mutex_lock(&o->lock);
	if (o->nidle < IDLE_HANDLES_MAX) {
		o->idle[o->nidle++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&o->lock);
	if (h != NULL)
		curl_easy_cleanup(h);
}

/* The list holds the key and the extra headers: wiped before they go
 * back to the allocator. */
static void
headers_free(struct curl_slist *h)
{
	struct curl_slist *p;

	for (p = h; p != NULL; p = p->next)
		secret_wipe(p->data, strlen(p->data));
	curl_slist_free_all(h);
}

static void
job_finish(struct http_job *job, enum kr_error e)
{
	if (e != KR_OK)
		job->result.error = e;
	job->result.attempts = job->attempt;
	handle_put(job->o, job->easy);
	job->done(job->ctx, &job->result);
	provider_result_free(&job->result);
	buf_free(&job->response);
	free(job->body);
	free(job);
}

static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
	struct http_job *job = arg;

	/* Past the cap the transfer is abandoned, not buffered. */
	if (buf_append(&job->response, data, size * n) != BUF_OK) {
		job->oversized = 1;
		return 0;
	}
	return size * n;
}

static size_t
on_header(char *data, size_t size, size_t n, void *arg)
{
	struct http_job *job = arg;
	size_t len = size * n;
	char line[256];
	long v;

	if (len >= sizeof(line))
		return len;
	memcpy(line, data, len);
	line[len] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	if (strncasecmp(line, "HTTP/", 5) == 0)
		job->retry_after_ms = -1;        /* a new response begins */
	else if (strncasecmp(line, "retry-after-ms:", 15) == 0) {
		if ((v = retry_after_ms_parse(line + 15 +
		    strspn(line + 15, " \t"))) >= 0)
			job->retry_after_ms = v;
	} else if (strncasecmp(line, "retry-after:", 12) == 0 &&
	    job->retry_after_ms < 0) {
		job->retry_after_ms = retry_after_parse(line + 12, time(NULL));
	}
	return len;
}

static double
jitter(void)
{
	unsigned int r = 0;

	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		return 0.5;
	return (double)r / 4294967296.0;
}

static void start_attempt(void *arg);

static void
transfer_done(void *arg, CURL *easy, CURLcode rc)
{
	struct http_job *job = arg;
	struct attempt_outcome ao;
	struct retry_plan plan;
	long status = 0, effective = 0;
	int no_retry = 0;

	(void)easy;
	memset(&ao, 0, sizeof(ao));
	ao.attempt = job->attempt;
	ao.max_attempts = job->o->max_attempts;
	ao.retry_after_ms = -1;
	ao.remaining_ms = (long)(job->deadline_ms - clock_now_ms());
	curl_easy_getinfo(job->easy, CURLINFO_RESPONSE_CODE, &status);

	/* What the response stands for: a 200 may carry an error object
	 * (a gateway that failed after it had sent its status line). */
	if (rc == CURLE_OK)
		effective = job->o->wire->classify(status,
		    buf_str(&job->response), job->response.len, &no_retry);
	if (rc == CURLE_OK && effective == 200) {
		job->o->wire->parse(buf_str(&job->response), job->response.len,
		    &job->result);
		provider_attempt_end(&job->result, status, job->result.error);
		job_finish(job, KR_OK);
		return;
	}
	if (rc == CURLE_WRITE_ERROR && job->oversized) {
		provider_attempt_end(&job->result, status, KR_INVALID_DECISION);
		job_finish(job, KR_INVALID_DECISION);
		return;
	}
	if (rc == CURLE_ABORTED_BY_CALLBACK) {     /* the loop is stopping */
		provider_attempt_end(&job->result, 0, KR_PROVIDER_UNAVAILABLE);
		job_finish(job, KR_PROVIDER_UNAVAILABLE);
		return;
	}
	if (rc == CURLE_OK) {
		ao.http_status = effective;
		ao.retry_after_ms = job->retry_after_ms;
		ao.insufficient_quota = no_retry;
	} else if (rc == CURLE_OPERATION_TIMEDOUT && ao.remaining_ms <= 50)
		ao.timed_out = 1;
	else
		ao.transport_error = 1;  /* refused, reset, connect timeout, TLS */
	if (ao.remaining_ms <= 0)
		ao.timed_out = 1;
	log_warn("%s model call attempt %u failed: %s (HTTP %ld, taken as "
	    "%ld)", job->o->wire->name, job->attempt, rc == CURLE_OK ?
	    "error response" : curl_easy_strerror(rc), status, effective);

	plan = retry_plan(&ao, jitter());
	provider_attempt_end(&job->result, rc == CURLE_OK ? status : 0,
	    plan.error);
	if (plan.retry)
		loop_after(job->o->loop, (unsigned)plan.wait_ms, start_attempt,
		    job);
	else
		job_finish(job, plan.error);
}

static void
start_attempt(void *arg)
{
	struct http_job *job = arg;
	struct http_provider *o = job->o;
	long remaining = (long)(job->deadline_ms - clock_now_ms());

	if (remaining <= 0) {
		job_finish(job, KR_PROVIDER_TIMEOUT);
		return;
	}
	if (job->easy == NULL && (job->easy = handle_get(o)) == NULL) {
		job_finish(job, KR_INTERNAL_ERROR);
		return;
	}
	if (job->attempt > 0)
		curl_easy_reset(job->easy);
	job->attempt++;
	provider_attempt_begin(&job->result);
	buf_reset(&job->response);
	job->oversized = 0;
	job->retry_after_ms = -1;
	curl_easy_setopt(job->easy, CURLOPT_URL, o->url);
	curl_easy_setopt(job->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(job->easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(job->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(job->easy, CURLOPT_VERBOSE, 0L);
	curl_easy_setopt(job->easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(job->easy, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(job->easy, CURLOPT_USERAGENT, "keyrota/" PACKAGE_VERSION);
	curl_easy_setopt(job->easy, CURLOPT_HTTPHEADER, o->headers);
	if (o->ca_file[0] != '\0')
		curl_easy_setopt(job->easy, CURLOPT_CAINFO, o->ca_file);
	/* Over TLS: HTTP/2 when the server offers it by ALPN, and wait for a
	 * connection that can multiplex rather than open another. In clear:
	 * HTTP/1.1, never waiting, since PIPEWAIT would hold every call until
	 * the first one's answer showed the server cannot multiplex. */
	curl_easy_setopt(job->easy, CURLOPT_HTTP_VERSION, o->tls ?
	    (long)CURL_HTTP_VERSION_2TLS : (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(job->easy, CURLOPT_PIPEWAIT, o->tls ? 1L : 0L);
	curl_easy_setopt(job->easy, CURLOPT_BUFFERSIZE, (long)RECV_BUFFER);
	curl_easy_setopt(job->easy, CURLOPT_POSTFIELDS, job->body);
	curl_easy_setopt(job->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(job->body));
	curl_easy_setopt(job->easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(job->easy, CURLOPT_WRITEDATA, job);
	curl_easy_setopt(job->easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(job->easy, CURLOPT_HEADERDATA, job);
	curl_easy_setopt(job->easy, CURLOPT_TIMEOUT_MS, remaining);
	curl_easy_setopt(job->easy, CURLOPT_CONNECTTIMEOUT_MS,
	    remaining < CONNECT_MAX_MS ? remaining : CONNECT_MAX_MS);
	loop_add_transfer(o->loop, job->easy, (unsigned)remaining,
	    transfer_done, job);
}

static void
http_decide(struct provider *p, const struct provider_call *call,
    provider_done_fn done, void *ctx)
{
	struct http_provider *o = p->state;
	struct provider_wire_opts opts = { p->model, o->tokens_field };
	struct http_job *job;

	job = kr_calloc(1, sizeof(*job));
	job->p = p;
	job->o = o;
	job->done = done;
	job->ctx = ctx;
	job->deadline_ms = clock_now_ms() + o->timeout_ms;
	provider_result_init(&job->result);
	buf_init(&job->response, RESPONSE_MAX);
	job->body = o->wire->build(&opts, call);
	if (job->body == NULL) {
		job_finish(job, KR_INTERNAL_ERROR);
		return;
	}
	start_attempt(job);
}

static void
http_destroy(struct provider *p)
{
	struct http_provider *o = p->state;
	unsigned i;

	for (i = 0; i < o->nidle; i++)
		curl_easy_cleanup(o->idle[i]);
	headers_free(o->headers);
	pthread_mutex_destroy(&o->lock);
	free(o);
	free(p);
}

/* One header line onto the list; the line is built in a scratch buffer
 * that is wiped, since it may hold the key. On failure curl_slist_append
 * returns NULL and leaves the list as it was: keep it, so what it holds
 * is still wiped and freed. */
static int
header_add(struct curl_slist **list, const char *name, const char *value)
{
	char line[SECRET_MAX + 64];
	struct curl_slist *h;
	int n;

	n = snprintf(line, sizeof(line), "%s: %s", name, value);
	if (n < 0 || (size_t)n >= sizeof(line))
		return -1;
	h = curl_slist_append(*list, line);
	secret_wipe(line, sizeof(line));
	if (h == NULL)
		return -1;
	*list = h;
	return 0;
}

/* "Name: value\n" lines, already checked (secret_read_headers). */
static int
header_lines_add(struct curl_slist **list, const char *lines)
{
	char line[SECRET_HEADERS_MAX];
	struct curl_slist *h;
	size_t n;
	int rc = 0;

	while (lines != NULL && *lines != '\0') {
		n = strcspn(lines, "\n");
		if (n >= sizeof(line)) {
			rc = -1;
			break;
		}
		memcpy(line, lines, n);
		line[n] = '\0';
		lines += n + (lines[n] == '\n');
		if (n == 0)
			continue;
		if ((h = curl_slist_append(*list, line)) == NULL) {
			rc = -1;
			break;
		}
		*list = h;
	}
	secret_wipe(line, sizeof(line));
	return rc;
}

/* The header that carries the key, by KEYROTA_MODEL_AUTH. */
static int
auth_add(struct curl_slist **list, enum model_auth auth, const char *key)
{
	char value[SECRET_MAX + 16];
	const unsigned char *k;
	int rc;

	if (auth == MODEL_AUTH_NONE)
		return 0;
	/* A key with a line break would smuggle in a header of its own. */
	for (k = (const unsigned char *)key; *k != '\0'; k++)
		if (*k < 0x20 || *k == 0x7f)
			return -1;
	if (auth != MODEL_AUTH_BEARER)
		return header_add(list, config_model_auth_header(auth), key);
	if (snprintf(value, sizeof(value), "Bearer %s", key) >=
	    (int)sizeof(value))
		return -1;
	rc = header_add(list, "Authorization", value);
	secret_wipe(value, sizeof(value));
	return rc;
}

int
provider_http_url(char *url, size_t len, const char *base, const char *path)
{
	size_t n = strlen(base);
	int w;

	while (n > 0 && base[n - 1] == '/')
		n--;
	if (n > INT_MAX)
		return -1;
	w = snprintf(url, len, "%.*s%s", (int)n, base, path);
	return w < 0 || (size_t)w >= len ? -1 : 0;
}

int
provider_http_query(char *url, size_t len, const char *name,
    const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(url);
	const unsigned char *v;
	int w;

	w = snprintf(url + n, len - n, "%c%s=", strchr(url, '?') ? '&' : '?',
	    name);
	if (w < 0 || (size_t)w >= len - n)
		goto full;
	n += (size_t)w;
	for (v = (const unsigned char *)value; *v != '\0'; v++) {
		if (n + 4 > len)
			goto full;
		if ((*v >= 'A' && *v <= 'Z') || (*v >= 'a' && *v <= 'z') ||
		    (*v >= '0' && *v <= '9') || strchr("-._~", *v) != NULL)
			url[n++] = (char)*v;
		else {
			url[n++] = '%';
			url[n++] = hex[*v >> 4];
			url[n++] = hex[*v & 15];
		}
	}
	url[n] = '\0';
	return 0;
full:
	return -1;
}

struct provider *
provider_http_create(struct loop *loop, const struct provider_http_opts *opts)
{
	struct provider *p;
	struct http_provider *o;

	p = kr_calloc(1, sizeof(*p));
	o = kr_calloc(1, sizeof(*o));
	if (snprintf(o->url, sizeof(o->url), "%s", opts->url) >=
	    (int)sizeof(o->url) ||
	    (opts->ca_file != NULL && snprintf(o->ca_file, sizeof(o->ca_file),
	    "%s", opts->ca_file) >= (int)sizeof(o->ca_file)) ||
	    snprintf(o->tokens_field, sizeof(o->tokens_field), "%s",
	    opts->max_tokens_field != NULL ? opts->max_tokens_field : "") >=
	    (int)sizeof(o->tokens_field))
		goto fail;
	if (auth_add(&o->headers, opts->auth, opts->key) != 0 ||
	    header_lines_add(&o->headers, opts->fixed_headers) != 0 ||
	    header_lines_add(&o->headers, opts->extra_headers) != 0 ||
	    header_add(&o->headers, "Content-Type", "application/json") != 0 ||
	    curl_slist_append(o->headers, "Expect:") == NULL)
		goto fail;
	o->wire = opts->wire;
	/* The wire names the provider (traces, pages, telemetry). */
	o->ops.name = opts->wire->name;
	o->ops.decide = http_decide;
	o->ops.destroy = http_destroy;
	p->ops = &o->ops;
	o->tls = strncasecmp(o->url, "https://", 8) == 0;
	snprintf(p->model, sizeof(p->model), "%s", opts->model);
	p->deadline_ms = opts->timeout_ms;
	o->loop = loop;
	o->timeout_ms = opts->timeout_ms;
	o->max_attempts = opts->max_attempts;
	pthread_mutex_init(&o->lock, NULL);
	p->state = o;
	return p;
fail:
	if (o != NULL)
		headers_free(o->headers);
	free(o);
	free(p);
	return NULL;
}

void
provider_http_opts_init(struct provider_http_opts *h,
    const struct provider_wire *wire, const char *url,
    const struct provider_model_opts *model)
{
	memset(h, 0, sizeof(*h));
	h->wire = wire;
	h->url = url;
	h->model = model->model;
	h->auth = model->auth;
	h->key = model->key;
	h->extra_headers = model->headers;
	h->ca_file = model->ca_file;
	h->timeout_ms = model->timeout_ms;
	h->max_attempts = model->max_attempts;
}
