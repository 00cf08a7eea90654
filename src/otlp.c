#include "autoconfig.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/rand.h>

#include "alloc.h"
#include "buf.h"
#include "errors.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "otlp.h"
#include "secret.h"
#include "utf8.h"

/* The batch span processor's defaults (OTEL_BSP_*) and the exporter's
 * (OTEL_EXPORTER_OTLP_TIMEOUT), as the OpenTelemetry SDKs have them. */
#define DEFAULT_QUEUE_SPANS  2048
#define DEFAULT_BATCH_SPANS  512
#define DEFAULT_DELAY_MS     5000
#define DEFAULT_TIMEOUT_MS   10000
/* A failing collector is logged at most this often per worker. */
#define FAIL_LOG_EVERY_S     60

struct otlp {
	struct loop           *loop;
	struct otlp_settings   s;
	char                   base_url[512];
	struct curl_slist     *headers;
	pthread_mutex_t        lock;
	/* The queue: a ring of traces, bounded by its spans. */
	struct otlp_trace    **ring;
	size_t                 cap, head, count, spans;
	int                    scheduled;      /* a flush timer is pending */
	int                    due_now;        /* ... and it is a 0 ms one */
	int                    sending;        /* an export is in flight */
	int                    draining;       /* flush at once (otlp_drain) */
	pthread_cond_t         idle;           /* nothing queued or sending */
	/* The export in flight; loop thread only. */
	struct otlp_trace    **batch;
	size_t                 nbatch, batch_spans;
	char                  *body;
	time_t                 last_fail_log;
};

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decodes s[0..n) into out. Returns -1 for a bad escape, a
 * control character (CR, LF, NUL: header injection) or no room. */
static int
pct_decode(const char *s, size_t n, char *out, size_t outlen)
{
	size_t i, o = 0;
	int hi, lo, c;

	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c == '%') {
			if (i + 2 >= n)
				return -1;
			if ((hi = hexval(s[i + 1])) < 0 ||
			    (lo = hexval(s[i + 2])) < 0)
				return -1;
			c = hi * 16 + lo;
			i += 2;
		}
		if (c < 0x20 || c == 0x7f || o + 1 >= outlen)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

/* Leading and trailing blanks of s[0..*n) are not part of it. */
static const char *
trim(const char *s, size_t *n)
{
	while (*n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		(*n)--;
	}
	while (*n > 0 && (s[*n - 1] == ' ' || s[*n - 1] == '\t'))
		(*n)--;
	return s;
}

static int
token_char(int c)
{
	return isalnum(c) || (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* One "key=value" list member into key and value, percent-decoded. */
static int
list_member(const char *m, size_t n, char *key, size_t keylen, char *value,
    size_t valuelen)
{
	const char *eq = memchr(m, '=', n), *k, *v;
	size_t kn, vn;

	if (eq == NULL)
		return -1;
	kn = (size_t)(eq - m);
	vn = n - kn - 1;
	k = trim(m, &kn);
	v = trim(eq + 1, &vn);
	if (kn == 0 || pct_decode(k, kn, key, keylen) != 0 ||
	    pct_decode(v, vn, value, valuelen) != 0)
		return -1;
	return 0;
}

/* OTEL_EXPORTER_OTLP_HEADERS: "k=v,k=v", W3C Baggage style. */
static int
load_headers(struct otlp_settings *s, const char *name, const char *v,
    char *err, size_t errlen)
{
	char key[128], value[OTLP_HEADER_LINE];
	const char *p = v, *comma;
	size_t n, tn, i;
	int rc = 0;

	while (rc == 0 && *p != '\0') {
		comma = strchr(p, ',');
		n = comma != NULL ? (size_t)(comma - p) : strlen(p);
		tn = n;
		(void)trim(p, &tn);
		if (tn > 0) {
			if (s->nheaders == OTLP_HEADERS_MAX)
				rc = kr_errorf(err, errlen,
				    "%s: more than %d headers",
				    name, OTLP_HEADERS_MAX);
			else if (list_member(p, n, key, sizeof(key), value,
			    sizeof(value)) != 0)
				/* Never the value: it is a secret. */
				rc = kr_errorf(err, errlen,
				    "%s: header %zu is not "
				    "name=value with percent-encoding",
				    name, s->nheaders + 1);
			else {
				for (i = 0; key[i] != '\0'; i++)
					if (!token_char((unsigned char)key[i]))
						break;
				if (key[i] != '\0' || snprintf(
				    s->headers[s->nheaders], OTLP_HEADER_LINE,
				    "%s: %s", key, value) >= OTLP_HEADER_LINE)
					rc = kr_errorf(err, errlen,
					    "%s: header %zu "
					    "has a bad name or is too long",
					    name, s->nheaders + 1);
				else
					s->nheaders++;
			}
		}
		p += n;
		if (*p == ',')
			p++;
	}
	secret_wipe(value, sizeof(value));
	return rc;
}

/* OTLP strings are UTF-8: a collector refuses a whole export for one bad
 * attribute. */
static int
utf8_valid(const char *s)
{
	size_t n = strlen(s), i = 0, k;
	unsigned long cp;

	while (i < n) {
		if ((k = utf8_next((const unsigned char *)s + i, n - i, &cp)) == 0)
			return 0;
		i += k;
	}
	return 1;
}

static int
load_resource(struct otlp_resource *r, const char *v, char *err,
    size_t errlen)
{
	const char *p = v, *comma;
	size_t n;

	while (*p != '\0') {
		comma = strchr(p, ',');
		n = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (n > 0) {
			if (r->nattrs == OTLP_RESOURCE_ATTRS_MAX)
				return kr_errorf(err, errlen,
				    "OTEL_RESOURCE_ATTRIBUTES:"
				    " more than %d attributes",
				    OTLP_RESOURCE_ATTRS_MAX);
			if (list_member(p, n, r->attrs[r->nattrs].key,
			    sizeof(r->attrs[0].key), r->attrs[r->nattrs].value,
			    sizeof(r->attrs[0].value)) != 0 ||
			    !utf8_valid(r->attrs[r->nattrs].key) ||
			    !utf8_valid(r->attrs[r->nattrs].value))
				return kr_errorf(err, errlen,
				    "OTEL_RESOURCE_ATTRIBUTES:"
				    " attribute %zu is not key=value in UTF-8 "
				    "with percent-encoding", r->nattrs + 1);
			r->nattrs++;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

static int
load_uint(config_getenv_fn get, void *ctx, const char *name, unsigned def,
    unsigned min, unsigned max, unsigned *out, char *err, size_t errlen)
{
	const char *v = get(name, ctx);

	*out = def;
	if (v == NULL || *v == '\0')
		return 0;
	if (config_parse_uint(v, min, max, out) != 0)
		return kr_errorf(err, errlen,
		    "%s: expected a whole number from %u "
		    "to %u", name, min, max);
	return 0;
}

/* The first of two variables that is set and not empty. */
static const char *
either(config_getenv_fn get, void *ctx, const char *specific,
    const char *general, const char **which)
{
	const char *v = get(specific, ctx);

	*which = specific;
	if (v == NULL || *v == '\0') {
		v = get(general, ctx);
		*which = general;
	}
	return v != NULL && *v != '\0' ? v : NULL;
}

static int
url_ok(const char *u)
{
	size_t i;

	if (strncasecmp(u, "http://", 7) != 0 &&
	    strncasecmp(u, "https://", 8) != 0)
		return 0;
	for (i = 0; u[i] != '\0'; i++)
		if ((unsigned char)u[i] <= 0x20 || u[i] == 0x7f)
			return 0;
	return 1;
}

int
otlp_settings_load(struct otlp_settings *s, config_getenv_fn get, void *ctx,
    char *err, size_t errlen)
{
	const char *v, *name;
	size_t n;

	memset(s, 0, sizeof(*s));
	v = get("OTEL_SDK_DISABLED", ctx);
	if (v != NULL && strcasecmp(v, "true") == 0)
		return 0;
	v = get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", ctx);
	if (v != NULL && *v != '\0') {
		/* The signal's own endpoint is the whole URL. */
		if (!url_ok(v) || snprintf(s->traces_url, sizeof(s->traces_url),
		    "%s", v) >= (int)sizeof(s->traces_url))
			return kr_errorf(err, errlen,
			    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT:"
			    " expected an http:// or https:// URL");
	} else if ((v = get("OTEL_EXPORTER_OTLP_ENDPOINT", ctx)) != NULL &&
	    *v != '\0') {
		n = strlen(v);
		if (!url_ok(v) || snprintf(s->traces_url, sizeof(s->traces_url),
		    "%s%s", v, v[n - 1] == '/' ? "v1/traces" : "/v1/traces") >=
		    (int)sizeof(s->traces_url))
			return kr_errorf(err, errlen,
			    "OTEL_EXPORTER_OTLP_ENDPOINT: "
			    "expected an http:// or https:// URL");
	} else
		return 0;
	v = either(get, ctx, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
	    "OTEL_EXPORTER_OTLP_PROTOCOL", &name);
	if (v != NULL && strcmp(v, "http/json") != 0)
		return kr_errorf(err, errlen,
		    "%s: keyrota exports http/json only",
		    name);
	v = either(get, ctx, "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
	    "OTEL_EXPORTER_OTLP_CERTIFICATE", &name);
	if (v != NULL && snprintf(s->ca_file, sizeof(s->ca_file), "%s", v) >=
	    (int)sizeof(s->ca_file))
		return kr_errorf(err, errlen, "%s: path too long", name);
	v = either(get, ctx, "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
	    "OTEL_EXPORTER_OTLP_HEADERS", &name);
	if (v != NULL && load_headers(s, name, v, err, errlen) != 0) {
		otlp_settings_wipe(s);
		return -1;
	}
	v = either(get, ctx, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
	    "OTEL_EXPORTER_OTLP_TIMEOUT", &name);
	if (load_uint(get, ctx, name, DEFAULT_TIMEOUT_MS, 1, 600000,
	    &s->timeout_ms, err, errlen) != 0 ||
	    load_uint(get, ctx, "OTEL_BSP_MAX_QUEUE_SIZE", DEFAULT_QUEUE_SPANS,
	    1, OTLP_QUEUE_SPANS_MAX, &s->queue_spans, err, errlen) != 0 ||
	    load_uint(get, ctx, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
	    DEFAULT_BATCH_SPANS, 1, OTLP_BATCH_SPANS_MAX, &s->batch_spans, err,
	    errlen) != 0 ||
	    load_uint(get, ctx, "OTEL_BSP_SCHEDULE_DELAY", DEFAULT_DELAY_MS, 0,
	    600000, &s->delay_ms, err, errlen) != 0) {
		otlp_settings_wipe(s);
		return -1;
	}
	if (s->batch_spans > s->queue_spans)
		s->batch_spans = s->queue_spans;
	v = get("OTEL_SERVICE_NAME", ctx);
	if (v != NULL && (!utf8_valid(v) || strlen(v) >=
	    sizeof(s->resource.service_name))) {
		otlp_settings_wipe(s);
		return kr_errorf(err, errlen,
		    "OTEL_SERVICE_NAME: expected UTF-8 "
		    "text shorter than %zu bytes",
		    sizeof(s->resource.service_name));
	}
	snprintf(s->resource.service_name, sizeof(s->resource.service_name),
	    "%s", v != NULL && *v != '\0' ? v : "keyrota");
	v = get("OTEL_RESOURCE_ATTRIBUTES", ctx);
	if (v != NULL && load_resource(&s->resource, v, err, errlen) != 0) {
		otlp_settings_wipe(s);
		return -1;
	}
	return 0;
}

static const char *
environ_get(const char *name, void *ctx)
{
	(void)ctx;
	return getenv(name);
}

int
otlp_settings_from_environ(struct otlp_settings *s, char *err, size_t errlen)
{
	return otlp_settings_load(s, environ_get, NULL, err, errlen);
}

void
otlp_settings_wipe(struct otlp_settings *s)
{
	secret_wipe(s->headers, sizeof(s->headers));
	s->nheaders = 0;
}

int
otlp_traceparent_parse(const char *h, char trace_id[TRACE_ID_W3C_SIZE],
    char span_id[OTLP_SPAN_ID_SIZE])
{
	size_t n;

	trace_id[0] = span_id[0] = '\0';
	if (h == NULL)
		return -1;
	/* Version 00 is exactly 55 characters; a later version (up to fe)
	 * starts with the same fields and may append "-..." (W3C Trace
	 * Context, "versioning"); ff is invalid. */
	n = strlen(h);
	if (n < 55 || hexval(h[0]) < 0 || hexval(h[1]) < 0 ||
	    isupper((unsigned char)h[0]) || isupper((unsigned char)h[1]) ||
	    strncmp(h, "ff", 2) == 0 || h[2] != '-' ||
	    (strncmp(h, "00", 2) == 0 ? n != 55 : n > 55 && h[55] != '-') ||
	    h[35] != '-' || h[52] != '-' ||
	    hexval(h[53]) < 0 || hexval(h[54]) < 0 ||
	    isupper((unsigned char)h[53]) || isupper((unsigned char)h[54]))
		return -1;
	memcpy(trace_id, h + 3, 32);
	trace_id[32] = '\0';
	memcpy(span_id, h + 36, 16);
	span_id[16] = '\0';
	if (!otlp_hex_id_valid(trace_id, 16) ||
	    !otlp_hex_id_valid(span_id, 8)) {
		trace_id[0] = span_id[0] = '\0';
		return -1;
	}
	return 0;
}

/* A random, non-zero span id. */
static int
new_span_id(char out[OTLP_SPAN_ID_SIZE])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char r[8];
	int i;

	do {
		if (RAND_bytes(r, sizeof(r)) != 1)
			return -1;
		for (i = 0; i < 8; i++) {
			out[2 * i] = hex[r[i] >> 4];
			out[2 * i + 1] = hex[r[i] & 15];
		}
		out[16] = '\0';
	} while (!otlp_hex_id_valid(out, 8));
	return 0;
}

struct otlp *
otlp_create(struct loop *loop, const struct otlp_settings *s,
    const char *base_url)
{
	struct otlp *o;
	struct curl_slist *h;
	pthread_condattr_t ca;
	size_t i;

	if (s->traces_url[0] == '\0')
		return NULL;
	o = kr_calloc(1, sizeof(*o));
	pthread_mutex_init(&o->lock, NULL);
	/* otlp_drain's bound must not move with the wall clock. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&o->idle, &ca);
	pthread_condattr_destroy(&ca);
	o->loop = loop;
	o->s = *s;
	snprintf(o->base_url, sizeof(o->base_url), "%s",
	    base_url != NULL ? base_url : "");
	o->cap = s->queue_spans;
	o->ring = kr_calloc(o->cap, sizeof(*o->ring));
	o->batch = kr_calloc(s->batch_spans, sizeof(*o->batch));
	o->headers = curl_slist_append(NULL, "Content-Type: application/json");
	if (o->headers != NULL &&
	    (h = curl_slist_append(o->headers, "Expect:")) != NULL)
		for (i = 0; i < s->nheaders && h != NULL; i++)
			h = curl_slist_append(o->headers, s->headers[i]);
	else
		h = NULL;
	if (h == NULL) {
		otlp_destroy(o);
		return NULL;
	}
	return o;
}

static void flush(void *arg);

/* With the lock held: a flush is due, now when a batch is full or the
 * worker drains. A full batch waiting for a delayed timer would cap the
 * export rate at a batch per delay and drop the rest, so a delayed flush
 * is overtaken by a 0 ms one (flush tolerates the later, stale timer). */
static void
schedule_locked(struct otlp *o)
{
	int now;

	if (!o->sending && o->count == 0)
		pthread_cond_broadcast(&o->idle);
	if (o->sending || o->count == 0)
		return;
	now = o->draining || o->spans >= o->s.batch_spans;
	if (o->scheduled && (o->due_now || !now))
		return;
	loop_after(o->loop, now ? 0 : o->s.delay_ms, flush, o);
	o->scheduled = 1;
	o->due_now = now;
}

void
otlp_submit(struct otlp *o, const struct otlp_trace *t)
{
	struct otlp_trace *c;
	size_t spans = otlp_trace_spans(t);

	if (o == NULL)
		return;
	c = kr_malloc(sizeof(*c));
	*c = *t;
	if (c->nlog > PROVIDER_ATTEMPTS_MAX)
		c->nlog = PROVIDER_ATTEMPTS_MAX;
	pthread_mutex_lock(&o->lock);
	if (o->spans + spans > o->cap) {
		pthread_mutex_unlock(&o->lock);
		free(c);
		metrics_otlp(METRICS_OTLP_DROPPED, (long)spans);
		return;
	}
	o->ring[(o->head + o->count) % o->cap] = c;
	o->count++;
	o->spans += spans;
	schedule_locked(o);
	pthread_mutex_unlock(&o->lock);
}

static size_t
discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

static void
batch_free(struct otlp *o)
{
	size_t i;

	for (i = 0; i < o->nbatch; i++)
		free(o->batch[i]);
	o->nbatch = o->batch_spans = 0;
	free(o->body);
	o->body = NULL;
}

static void
sent(void *arg, CURL *easy, CURLcode result)
{
	struct otlp *o = arg;
	long code = 0;
	time_t now = time(NULL);

	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(easy);
	if (result == CURLE_OK && code >= 200 && code < 300)
		metrics_otlp(METRICS_OTLP_EXPORTED, (long)o->batch_spans);
	else {
		metrics_otlp(METRICS_OTLP_FAILED, (long)o->batch_spans);
		if (now - o->last_fail_log >= FAIL_LOG_EVERY_S) {
			o->last_fail_log = now;
			log_warn("OTLP export of %zu spans failed: %s (HTTP %ld);"
			    " dropped", o->batch_spans, result == CURLE_OK ?
			    "collector refused" : curl_easy_strerror(result),
			    code);
		}
	}
	batch_free(o);
	pthread_mutex_lock(&o->lock);
	o->sending = 0;
	schedule_locked(o);
	pthread_mutex_unlock(&o->lock);
}

/* New span ids for a queued trace: made on the loop thread, so the
 * thread that answered the decision spends nothing on them. */
static int
span_ids(struct otlp_trace *t)
{
	size_t i;

	for (i = 0; i < t->nlog; i++)
		if (new_span_id(t->attempt_span_id[i]) != 0)
			return -1;
	return new_span_id(t->span_id);
}

/* On the loop thread: posts the oldest traces, up to a batch of spans. */
static void
flush(void *arg)
{
	struct otlp *o = arg;
	struct buf body;
	CURL *easy = NULL;
	size_t spans, i;

	pthread_mutex_lock(&o->lock);
	o->scheduled = 0;
	o->due_now = 0;
	if (o->sending || o->count == 0) {
		pthread_mutex_unlock(&o->lock);
		return;
	}
	while (o->count > 0) {
		spans = otlp_trace_spans(o->ring[o->head]);
		if (o->nbatch > 0 && o->batch_spans + spans > o->s.batch_spans)
			break;
		o->batch[o->nbatch++] = o->ring[o->head];
		o->batch_spans += spans;
		o->head = (o->head + 1) % o->cap;
		o->count--;
		o->spans -= spans;
	}
	o->sending = 1;
	pthread_mutex_unlock(&o->lock);

	buf_init(&body, OTLP_BODY_MAX);
	for (i = 0; i < o->nbatch; i++)
		if (span_ids(o->batch[i]) != 0)
			goto fail;
	if (otlp_json_encode(&body, &o->s.resource, o->base_url[0] ?
	    o->base_url : NULL, (const struct otlp_trace *const *)o->batch,
	    o->nbatch) != BUF_OK || (o->body = buf_detach(&body)) == NULL ||
	    (easy = curl_easy_init()) == NULL)
		goto fail;
	curl_easy_setopt(easy, CURLOPT_URL, o->s.traces_url);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, "keyrota/" PACKAGE_VERSION);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, o->headers);
	if (o->s.ca_file[0] != '\0')
		curl_easy_setopt(easy, CURLOPT_CAINFO, o->s.ca_file);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDS, o->body);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, (long)strlen(o->body));
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)o->s.timeout_ms);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long)o->s.timeout_ms);
	loop_add_transfer(o->loop, easy, o->s.timeout_ms, sent, o);
	return;
fail:
	buf_free(&body);
	if (easy != NULL)
		curl_easy_cleanup(easy);
	metrics_otlp(METRICS_OTLP_FAILED, (long)o->batch_spans);
	log_warn("OTLP export of %zu spans could not be started; dropped",
	    o->batch_spans);
	batch_free(o);
	pthread_mutex_lock(&o->lock);
	o->sending = 0;
	schedule_locked(o);
	pthread_mutex_unlock(&o->lock);
}

void
otlp_drain(struct otlp *o, unsigned wait_ms)
{
	struct timespec until;

	if (o == NULL)
		return;
	if (wait_ms > o->s.timeout_ms)
		wait_ms = o->s.timeout_ms;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += wait_ms / 1000;
	until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&o->lock);
	o->draining = 1;
	schedule_locked(o);
	while ((o->count > 0 || o->sending) &&
	    pthread_cond_timedwait(&o->idle, &o->lock, &until) == 0)
		;
	pthread_mutex_unlock(&o->lock);
}

void
otlp_destroy(struct otlp *o)
{
	size_t dropped = 0;

	if (o == NULL)
		return;
	if (o->ring != NULL)
		for (; o->count > 0; o->count--) {
			dropped += otlp_trace_spans(o->ring[o->head]);
			free(o->ring[o->head]);
			o->head = (o->head + 1) % o->cap;
		}
	if (dropped > 0) {
		metrics_otlp(METRICS_OTLP_DROPPED, (long)dropped);
		log_warn("OTLP: %zu spans still queued at exit were dropped",
		    dropped);
	}
	if (o->batch != NULL)
		batch_free(o);
	free(o->ring);
	free(o->batch);
	if (o->headers != NULL) {
		struct curl_slist *h;

		for (h = o->headers; h != NULL; h = h->next)
			secret_wipe(h->data, strlen(h->data));
		curl_slist_free_all(o->headers);
	}
	otlp_settings_wipe(&o->s);
	pthread_cond_destroy(&o->idle);
	pthread_mutex_destroy(&o->lock);
	free(o);
}
