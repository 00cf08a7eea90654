#include "autoconfig.h"

#include <stdio.h>
#include <string.h>

#include "genai.h"
#include "otlp_json.h"
#include "prompt.h"
#include "utf8.h"

/* Every write below goes through one status: the first failure (the
 * buffer's bound) sticks and ends the encoding. */
struct enc {
	struct buf      *b;
	enum buf_status  st;
	int              first;       /* no comma before the next member */
};

static void
raw(struct enc *e, const char *s)
{
	if (e->st == BUF_OK)
		e->st = buf_puts(e->b, s);
}

/* A JSON string. A collector refuses a whole export over one string that
 * is not UTF-8, and some values come from outside (KEYROTA_MODEL, model
 * metadata): a byte that starts no valid sequence becomes U+FFFD. */
static void
str(struct enc *e, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t left = strlen(s), n;
	unsigned long cp;
	char one[2] = { 0, 0 };

	raw(e, "\"");
	while (left > 0 && e->st == BUF_OK) {
		n = utf8_next(p, left, &cp);
		if (n == 0) {
			raw(e, "\\ufffd");
			n = 1;
		} else if (n == 1) {
			one[0] = (char)*p;
			e->st = buf_json_escape(e->b, one);
		} else
			e->st = buf_append(e->b, (const char *)p, n);
		p += n;
		left -= n;
	}
	raw(e, "\"");
}

static void
sep(struct enc *e)
{
	if (!e->first)
		raw(e, ",");
	e->first = 0;
}

/* An attribute: {"key":k,"value":{"stringValue":v}}. */
static void
attr_str(struct enc *e, const char *k, const char *v)
{
	if (v == NULL || *v == '\0')
		return;
	sep(e);
	raw(e, "{\"key\":");
	str(e, k);
	raw(e, ",\"value\":{\"stringValue\":");
	str(e, v);
	raw(e, "}}");
}

/* 64-bit integers are decimal strings in OTLP/JSON. */
static void
attr_int(struct enc *e, const char *k, long long v)
{
	char n[24];

	snprintf(n, sizeof(n), "%lld", v);
	sep(e);
	raw(e, "{\"key\":");
	str(e, k);
	raw(e, ",\"value\":{\"intValue\":");
	str(e, n);
	raw(e, "}}");
}

static void
attr_double(struct enc *e, const char *k, double v)
{
	char n[32];
	size_t l;

	snprintf(n, sizeof(n), "%.17g", v);
	/* A whole number still reads as a double to a strict parser. */
	l = strlen(n);
	if (strpbrk(n, ".eEn") == NULL && l + 3 <= sizeof(n))
		memcpy(n + l, ".0", 3);
	sep(e);
	raw(e, "{\"key\":");
	str(e, k);
	raw(e, ",\"value\":{\"doubleValue\":");
	raw(e, n);
	raw(e, "}}");
}

static void
attr_str_array(struct enc *e, const char *k, const char *v)
{
	sep(e);
	raw(e, "{\"key\":");
	str(e, k);
	raw(e, ",\"value\":{\"arrayValue\":{\"values\":[");
	if (v != NULL && *v != '\0') {
		raw(e, "{\"stringValue\":");
		str(e, v);
		raw(e, "}");
	}
	raw(e, "]}}}");
}

int
otlp_hex_id_valid(const char *s, size_t n)
{
	size_t i;
	int nonzero = 0;

	for (i = 0; i < 2 * n; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
		nonzero |= s[i] != '0';
	}
	return s[2 * n] == '\0' && nonzero;
}

/* The members every span has: ids, name, kind, times. */
static void
span_head(struct enc *e, const struct otlp_trace *t, const char *span_id,
    const char *parent, const char *name, enum otlp_kind kind,
    long long start, long long end)
{
	char n[24];

	raw(e, "{\"traceId\":");
	str(e, t->otel_trace_id);
	raw(e, ",\"spanId\":");
	str(e, span_id);
	if (parent != NULL && *parent != '\0') {
		raw(e, ",\"parentSpanId\":");
		str(e, parent);
	}
	raw(e, ",\"name\":");
	str(e, name);
	snprintf(n, sizeof(n), "%d", (int)kind);
	raw(e, ",\"kind\":");
	raw(e, n);
	if (end < start)
		end = start;
	snprintf(n, sizeof(n), "%lld", start);
	raw(e, ",\"startTimeUnixNano\":");
	str(e, n);
	snprintf(n, sizeof(n), "%lld", end);
	raw(e, ",\"endTimeUnixNano\":");
	str(e, n);
}

static void
span_status(struct enc *e, enum kr_error err)
{
	if (err == KR_OK) {
		raw(e, ",\"status\":{\"code\":0}}");
		return;
	}
	raw(e, ",\"status\":{\"code\":2,\"message\":");
	str(e, kr_error_code(err));
	raw(e, "}}");
}

static void
server_span(struct enc *e, const struct otlp_trace *t)
{
	const char *sp;
	char method[8] = "";
	enum kr_error err = t->status == TRACE_FAILED ? t->error : KR_OK;

	span_head(e, t, t->span_id, t->parent_span_id, t->route,
	    OTLP_KIND_SERVER, t->start_ns, t->end_ns);
	raw(e, ",\"attributes\":[");
	e->first = 1;
	attr_str(e, "keyrota.trace_id", t->trace_id);
	attr_str(e, "keyrota.status", store_traces_status_name(t->status));
	if (t->has_decision)
		attr_str(e, "keyrota.decision", answer_decision_name(t->decision));
	attr_str(e, "error.type", err != KR_OK ? kr_error_code(err) : NULL);
	attr_int(e, "keyrota.provider_attempts", (long long)t->nlog);
	/* The HTTP server conventions: "POST /rotation/decide" is method
	 * and route. */
	if ((sp = strchr(t->route, ' ')) != NULL &&
	    (size_t)(sp - t->route) < sizeof(method)) {
		snprintf(method, sizeof(method), "%.*s", (int)(sp - t->route),
		    t->route);
		attr_str(e, "http.request.method", method);
		attr_str(e, "http.route", sp + 1);
	}
	raw(e, "]");
	span_status(e, err);
}

static void
client_span(struct enc *e, const struct otlp_trace *t, const struct genai *g,
    unsigned i)
{
	const struct provider_attempt *a = &t->log[i];
	char name[160];

	snprintf(name, sizeof(name), "%s %s", GENAI_OPERATION, g->request_model);
	span_head(e, t, t->attempt_span_id[i], t->span_id, name,
	    OTLP_KIND_CLIENT, a->start_ns, a->end_ns);
	raw(e, ",\"attributes\":[");
	e->first = 1;
	attr_str(e, "gen_ai.operation.name", GENAI_OPERATION);
	attr_str(e, "gen_ai.provider.name", g->provider_name);
	attr_str(e, "gen_ai.request.model", g->request_model);
	attr_str(e, "gen_ai.output.type", GENAI_OUTPUT_TYPE);
	attr_str(e, "gen_ai.prompt.name", g->prompt_name);
	attr_str(e, "gen_ai.prompt.version", g->prompt_version);
	if (g->max_tokens > 0) {
		attr_double(e, "gen_ai.request.temperature", g->temperature);
		attr_int(e, "gen_ai.request.max_tokens", g->max_tokens);
	}
	if (g->server_address[0] != '\0') {
		attr_str(e, "server.address", g->server_address);
		attr_int(e, "server.port", g->server_port);
	}
	attr_str(e, "keyrota.trace_id", t->trace_id);
	attr_int(e, "keyrota.attempt", (long long)i + 1);
	if (a->http_status > 0)
		attr_int(e, "http.response.status_code", a->http_status);
	if (a->error != KR_OK)
		attr_str(e, "error.type", kr_error_code(a->error));
	else {
		/* The call that gave the answer carries the response. */
		attr_str(e, "gen_ai.response.model", t->response_model);
		attr_str(e, "gen_ai.response.id", t->response_id);
		if (t->finish_reason[0] != '\0')
			attr_str_array(e, "gen_ai.response.finish_reasons",
			    t->finish_reason);
		if (t->input_tokens >= 0)
			attr_int(e, "gen_ai.usage.input_tokens", t->input_tokens);
		if (t->output_tokens >= 0)
			attr_int(e, "gen_ai.usage.output_tokens",
			    t->output_tokens);
	}
	raw(e, "]");
	span_status(e, a->error);
}

static void
resource(struct enc *e, const struct otlp_resource *res)
{
	size_t i;

	raw(e, "{\"resource\":{\"attributes\":[");
	e->first = 1;
	attr_str(e, "service.name", res->service_name);
	attr_str(e, "service.version", PACKAGE_VERSION);
	attr_str(e, "telemetry.sdk.name", "keyrota");
	attr_str(e, "telemetry.sdk.language", "c");
	for (i = 0; i < res->nattrs && i < OTLP_RESOURCE_ATTRS_MAX; i++)
		/* service.name is OTEL_SERVICE_NAME's (or the default). */
		if (strcmp(res->attrs[i].key, "service.name") != 0)
			attr_str(e, res->attrs[i].key, res->attrs[i].value);
	raw(e, "]}");
}

enum buf_status
otlp_json_encode(struct buf *b, const struct otlp_resource *res,
    const char *base_url, const struct otlp_trace *const *t, size_t n)
{
	struct enc e = { b, BUF_OK, 1 };
	struct genai g;
	size_t i;
	unsigned j;

	raw(&e, "{\"resourceSpans\":[");
	resource(&e, res);
	raw(&e, ",\"scopeSpans\":[{\"scope\":{\"name\":\"keyrota\","
	    "\"version\":\"" PACKAGE_VERSION "\"},\"schemaUrl\":"
	    "\"https://opentelemetry.io/schemas/" GENAI_SEMCONV_VERSION "\","
	    "\"spans\":[");
	for (i = 0; i < n; i++) {
		genai_describe(&g, t[i]->provider, t[i]->request_model,
		    base_url, PROMPT_VERSION);
		if (i > 0)
			raw(&e, ",");
		server_span(&e, t[i]);
		for (j = 0; j < t[i]->nlog && j < PROVIDER_ATTEMPTS_MAX; j++) {
			raw(&e, ",");
			client_span(&e, t[i], &g, j);
		}
	}
	raw(&e, "]}]}]}");
	return e.st;
}
