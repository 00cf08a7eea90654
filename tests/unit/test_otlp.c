#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "genai.h"
#include "json_check.h"
#include "otlp.h"
#include "otlp_json.h"
#include "unit.h"

static int
load(const char *const *env, struct otlp_settings *s, char *err, size_t n)
{
	return otlp_settings_load(s, unit_env, (void *)env, err, n);
}

static void
test_genai_names(void)
{
	char host[256], name[64], version[16];
	unsigned port;
	struct genai g;

	CU_ASSERT_STRING_EQUAL(genai_provider_name("openai",
	    "https://api.openai.com/v1"), "openai");
	CU_ASSERT_STRING_EQUAL(genai_provider_name("openai",
	    "https://contoso.openai.azure.com/openai/deployments/d"),
	    "azure.ai.openai");
	/* Only the host decides, not a path that mentions Azure. */
	CU_ASSERT_STRING_EQUAL(genai_provider_name("openai",
	    "https://gw.example/x.openai.azure.com"), "openai");
	CU_ASSERT_STRING_EQUAL(genai_provider_name("openai", NULL), "openai");
	CU_ASSERT_STRING_EQUAL(genai_provider_name("anthropic",
	    "https://api.anthropic.com/v1"), "anthropic");
	CU_ASSERT_STRING_EQUAL(genai_provider_name("fixture", NULL),
	    "keyrota.fixture");

	CU_ASSERT_EQUAL(genai_server("https://api.openai.com/v1", host,
	    sizeof(host), &port), 0);
	CU_ASSERT_STRING_EQUAL(host, "api.openai.com");
	CU_ASSERT_EQUAL(port, 443);
	CU_ASSERT_EQUAL(genai_server("http://[::1]:8081/v1", host,
	    sizeof(host), &port), 0);
	CU_ASSERT_STRING_EQUAL(host, "::1");
	CU_ASSERT_EQUAL(port, 8081);
	CU_ASSERT_EQUAL(genai_server("not a url", host, sizeof(host), &port),
	    -1);
	CU_ASSERT_STRING_EQUAL(host, "");

	genai_prompt_split("rotation_decision@2", name, sizeof(name), version,
	    sizeof(version));
	CU_ASSERT_STRING_EQUAL(name, "rotation_decision");
	CU_ASSERT_STRING_EQUAL(version, "2");
	genai_prompt_split("plain", name, sizeof(name), version,
	    sizeof(version));
	CU_ASSERT_STRING_EQUAL(name, "plain");
	CU_ASSERT_STRING_EQUAL(version, "");

	genai_describe(&g, "fixture", "keyrota-fixture-1",
	    "http://127.0.0.1:9/v1", "rotation_decision@2");
	CU_ASSERT_STRING_EQUAL(g.server_address, "");
	CU_ASSERT_EQUAL(g.max_tokens, 0);
}

/* A trace as decide.c hands it over: a retry, then an answer. */
static void
sample(struct otlp_trace *t)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->trace_id, sizeof(t->trace_id), "tr_AAAAAAAAAAAAAAAAAAAAAQ");
	snprintf(t->otel_trace_id, sizeof(t->otel_trace_id),
	    "00000000000000000000000000000001");
	snprintf(t->span_id, sizeof(t->span_id), "00f067aa0ba902b7");
	snprintf(t->attempt_span_id[0], OTLP_SPAN_ID_SIZE, "1111111111111111");
	snprintf(t->attempt_span_id[1], OTLP_SPAN_ID_SIZE, "2222222222222222");
	snprintf(t->route, sizeof(t->route), "POST /rotation/decide");
	t->start_ns = 1764600000000000000LL;
	t->end_ns = t->start_ns + 900000000LL;
	t->status = TRACE_COMPLETED;
	t->has_decision = 1;
	t->decision = DECISION_ELIGIBLE;
	t->provider = "openai";
	snprintf(t->request_model, sizeof(t->request_model), "gpt-4o-mini");
	/* Model metadata is untrusted: it must stay a JSON string. */
	snprintf(t->response_model, sizeof(t->response_model),
	    "m\"},{\"x\":\"\\\n");
	t->input_tokens = 321;
	t->output_tokens = -1;
	t->nlog = 2;
	t->log[0].start_ns = t->start_ns + 1000;
	t->log[0].end_ns = t->start_ns + 2000;
	t->log[0].http_status = 503;
	t->log[0].error = KR_PROVIDER_UNAVAILABLE;
	t->log[1].start_ns = t->start_ns + 3000;
	t->log[1].end_ns = t->start_ns + 1000;     /* a clock step back */
	t->log[1].http_status = 200;
	t->log[1].error = KR_OK;
}

static struct json_object *
attr(struct json_object *span, const char *key)
{
	struct json_object *a = json_object_object_get(span, "attributes"), *e;
	size_t i;

	for (i = 0; i < json_object_array_length(a); i++) {
		e = json_object_array_get_idx(a, i);
		if (strcmp(json_object_get_string(json_object_object_get(e,
		    "key")), key) == 0)
			return json_object_object_get(e, "value");
	}
	return NULL;
}

static const char *
member(struct json_object *o, const char *k)
{
	return json_object_get_string(json_object_object_get(o, k));
}

static void
test_encode_spans(void)
{
	struct otlp_trace t;
	const struct otlp_trace *list[1] = { &t };
	struct otlp_resource res;
	struct json_object *doc, *spans, *s, *c0, *c1, *v;
	struct buf b;

	sample(&t);
	memset(&res, 0, sizeof(res));
	snprintf(res.service_name, sizeof(res.service_name), "keyrota");
	res.nattrs = 1;
	snprintf(res.attrs[0].key, sizeof(res.attrs[0].key), "team");
	snprintf(res.attrs[0].value, sizeof(res.attrs[0].value), "keys");
	buf_init(&b, 1 << 20);
	CU_ASSERT_EQUAL_FATAL(otlp_json_encode(&b, &res,
	    "https://contoso.openai.azure.com/openai", list, 1), BUF_OK);
	doc = json_check_parse(buf_str(&b));
	CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
	spans = json_object_object_get(json_object_array_get_idx(
	    json_object_object_get(json_object_array_get_idx(
	    json_object_object_get(doc, "resourceSpans"), 0), "scopeSpans"), 0),
	    "spans");
	CU_ASSERT_EQUAL_FATAL(json_object_array_length(spans), 3);
	s = json_object_array_get_idx(spans, 0);
	c0 = json_object_array_get_idx(spans, 1);
	c1 = json_object_array_get_idx(spans, 2);

	CU_ASSERT_STRING_EQUAL(member(s, "name"), "POST /rotation/decide");
	CU_ASSERT_EQUAL(json_object_get_int(json_object_object_get(s, "kind")),
	    OTLP_KIND_SERVER);
	CU_ASSERT_PTR_NULL(json_object_object_get(s, "parentSpanId"));
	/* 64-bit integers are strings. */
	CU_ASSERT(json_object_is_type(json_object_object_get(s,
	    "startTimeUnixNano"), json_type_string));
	CU_ASSERT_STRING_EQUAL(member(s, "startTimeUnixNano"),
	    "1764600000000000000");
	CU_ASSERT_STRING_EQUAL(member(attr(s, "keyrota.decision"),
	    "stringValue"), "eligible");
	CU_ASSERT_STRING_EQUAL(member(attr(s, "keyrota.provider_attempts"),
	    "intValue"), "2");

	CU_ASSERT_STRING_EQUAL(member(c0, "name"), "chat gpt-4o-mini");
	CU_ASSERT_EQUAL(json_object_get_int(json_object_object_get(c0,
	    "kind")), OTLP_KIND_CLIENT);
	CU_ASSERT_STRING_EQUAL(member(c0, "parentSpanId"), "00f067aa0ba902b7");
	CU_ASSERT_STRING_EQUAL(member(c0, "traceId"),
	    "00000000000000000000000000000001");
	CU_ASSERT_STRING_EQUAL(member(attr(c0, "gen_ai.provider.name"),
	    "stringValue"), "azure.ai.openai");
	CU_ASSERT_STRING_EQUAL(member(attr(c0, "server.address"),
	    "stringValue"), "contoso.openai.azure.com");
	CU_ASSERT_STRING_EQUAL(member(attr(c0, "server.port"), "intValue"),
	    "443");
	CU_ASSERT_STRING_EQUAL(member(attr(c0, "http.response.status_code"),
	    "intValue"), "503");
	CU_ASSERT_STRING_EQUAL(member(attr(c0, "error.type"), "stringValue"),
	    "provider_unavailable");
	CU_ASSERT_EQUAL(json_object_get_int(json_object_object_get(
	    json_object_object_get(c0, "status"), "code")), OTLP_STATUS_ERROR);
	v = json_object_object_get(attr(c0, "gen_ai.request.temperature"),
	    "doubleValue");
	CU_ASSERT(v != NULL && json_object_is_type(v, json_type_double));
	CU_ASSERT_PTR_NULL(attr(c0, "gen_ai.response.model"));

	/* The answer's call carries the response; hostile text stays one
	 * string; an unknown count is left out; end never precedes start. */
	CU_ASSERT_STRING_EQUAL(member(attr(c1, "gen_ai.response.model"),
	    "stringValue"), "m\"},{\"x\":\"\\\n");
	CU_ASSERT_STRING_EQUAL(member(attr(c1, "gen_ai.usage.input_tokens"),
	    "intValue"), "321");
	CU_ASSERT_PTR_NULL(attr(c1, "gen_ai.usage.output_tokens"));
	CU_ASSERT_PTR_NULL(attr(c1, "error.type"));
	CU_ASSERT_STRING_EQUAL(member(c1, "startTimeUnixNano"),
	    member(c1, "endTimeUnixNano"));
	json_object_put(doc);

	/* A failed trace: ERROR with its code; no decision. */
	t.status = TRACE_FAILED;
	t.has_decision = 0;
	t.error = KR_PROVIDER_TIMEOUT;
	t.nlog = 0;
	snprintf(t.parent_span_id, sizeof(t.parent_span_id), "abcdefabcdefabcd");
	buf_reset(&b);
	CU_ASSERT_EQUAL_FATAL(otlp_json_encode(&b, &res, NULL, list, 1),
	    BUF_OK);
	doc = json_check_parse(buf_str(&b));
	CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
	CU_ASSERT(strstr(buf_str(&b), "\"parentSpanId\":\"abcdefabcdefabcd\"")
	    != NULL);
	CU_ASSERT(strstr(buf_str(&b), "\"status\":{\"code\":2,\"message\":"
	    "\"provider_timeout\"}") != NULL);
	CU_ASSERT(strstr(buf_str(&b), "keyrota.decision") == NULL);
	json_object_put(doc);
	buf_free(&b);

	/* A bound too small fails; it never writes past it. */
	buf_init(&b, 64);
	CU_ASSERT_EQUAL(otlp_json_encode(&b, &res, NULL, list, 1), BUF_TOOBIG);
	buf_free(&b);
}

static void
test_settings(void)
{
	struct otlp_settings s;
	char err[256];
	const char *none[] = { NULL };
	const char *base[] = { "OTEL_EXPORTER_OTLP_ENDPOINT",
	    "http://collector:4318/", "OTEL_EXPORTER_OTLP_HEADERS",
	    " Authorization = Basic%20cGs6c2s= , x-tenant=a%2Cb,",
	    "OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=prod",
	    NULL };
	const char *traces[] = { "OTEL_EXPORTER_OTLP_ENDPOINT", "http://a",
	    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
	    "https://cloud.langfuse.com/api/public/otel/v1/traces",
	    "OTEL_SERVICE_NAME", "rotations", "OTEL_BSP_MAX_QUEUE_SIZE", "10",
	    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "50", NULL };
	const char *badhdr[] = { "OTEL_EXPORTER_OTLP_ENDPOINT", "http://a",
	    "OTEL_EXPORTER_OTLP_HEADERS", "Authorization=s3cr3t%0d%0aX: y",
	    NULL };
	const char *badname[] = { "OTEL_EXPORTER_OTLP_ENDPOINT", "http://a",
	    "OTEL_EXPORTER_OTLP_HEADERS", "Bad Name=s3cr3t", NULL };
	const char *badproto[] = { "OTEL_EXPORTER_OTLP_ENDPOINT", "http://a",
	    "OTEL_EXPORTER_OTLP_PROTOCOL", "grpc", NULL };
	const char *badurl[] = { "OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://a",
	    NULL };
	const char *badattr[] = { "OTEL_EXPORTER_OTLP_ENDPOINT", "http://a",
	    "OTEL_RESOURCE_ATTRIBUTES", "team=%ff", NULL };
	const char *off[] = { "OTEL_EXPORTER_OTLP_ENDPOINT", "http://a",
	    "OTEL_SDK_DISABLED", "true", NULL };
	const char *bigbatch[] = { "OTEL_EXPORTER_OTLP_ENDPOINT", "http://a",
	    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "100000", NULL };
	const char *bigqueue[] = { "OTEL_EXPORTER_OTLP_ENDPOINT", "http://a",
	    "OTEL_BSP_MAX_QUEUE_SIZE", "1000000", NULL };
	const char *maxed[] = { "OTEL_EXPORTER_OTLP_ENDPOINT", "http://a",
	    "OTEL_BSP_MAX_QUEUE_SIZE", "16384",
	    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "1024", NULL };

	CU_ASSERT_EQUAL(load(none, &s, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(s.traces_url, "");
	CU_ASSERT_EQUAL(load(off, &s, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(s.traces_url, "");

	CU_ASSERT_EQUAL_FATAL(load(base, &s, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(s.traces_url, "http://collector:4318/v1/traces");
	CU_ASSERT_EQUAL_FATAL(s.nheaders, 2);
	CU_ASSERT_STRING_EQUAL(s.headers[0], "Authorization: Basic cGs6c2s=");
	CU_ASSERT_STRING_EQUAL(s.headers[1], "x-tenant: a,b");
	CU_ASSERT_STRING_EQUAL(s.resource.service_name, "keyrota");
	CU_ASSERT_EQUAL(s.resource.nattrs, 1);
	CU_ASSERT_STRING_EQUAL(s.resource.attrs[0].value, "prod");
	CU_ASSERT_EQUAL(s.timeout_ms, 10000);
	CU_ASSERT_EQUAL(s.queue_spans, 2048);
	otlp_settings_wipe(&s);
	CU_ASSERT_EQUAL(s.nheaders, 0);
	CU_ASSERT_STRING_EQUAL(s.headers[0], "");

	CU_ASSERT_EQUAL_FATAL(load(traces, &s, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(s.traces_url,
	    "https://cloud.langfuse.com/api/public/otel/v1/traces");
	CU_ASSERT_STRING_EQUAL(s.resource.service_name, "rotations");
	/* A batch is never larger than the queue. */
	CU_ASSERT_EQUAL(s.batch_spans, 10);

	/* Errors name the variable, never a header value. */
	CU_ASSERT_EQUAL(load(badhdr, &s, err, sizeof(err)), -1);
	CU_ASSERT(strstr(err, "OTEL_EXPORTER_OTLP_HEADERS") != NULL);
	CU_ASSERT(strstr(err, "s3cr3t") == NULL);
	CU_ASSERT_EQUAL(load(badname, &s, err, sizeof(err)), -1);
	CU_ASSERT(strstr(err, "s3cr3t") == NULL);
	CU_ASSERT_EQUAL(load(badproto, &s, err, sizeof(err)), -1);
	CU_ASSERT(strstr(err, "OTEL_EXPORTER_OTLP_PROTOCOL") != NULL);
	CU_ASSERT_EQUAL(load(badurl, &s, err, sizeof(err)), -1);
	/* A collector refuses a whole export for one string that is not
	 * UTF-8: refused at start instead. */
	CU_ASSERT_EQUAL(load(badattr, &s, err, sizeof(err)), -1);
	CU_ASSERT(strstr(err, "OTEL_RESOURCE_ATTRIBUTES") != NULL);

	/* A batch or queue past its bound is refused by name at start: a
	 * batch too large to encode would fail every export, a huge queue
	 * would hold gigabytes per worker. */
	CU_ASSERT_EQUAL(load(bigbatch, &s, err, sizeof(err)), -1);
	CU_ASSERT(strstr(err, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE") != NULL);
	CU_ASSERT_EQUAL(load(bigqueue, &s, err, sizeof(err)), -1);
	CU_ASSERT(strstr(err, "OTEL_BSP_MAX_QUEUE_SIZE") != NULL);
	CU_ASSERT_EQUAL_FATAL(load(maxed, &s, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(s.batch_spans, OTLP_BATCH_SPANS_MAX);
	CU_ASSERT_EQUAL(s.queue_spans, OTLP_QUEUE_SPANS_MAX);
}

/* A string that is not UTF-8 (KEYROTA_MODEL is not checked, a model's
 * metadata is untrusted) never makes the export invalid: a collector would
 * refuse all of it. */
static void
test_encode_not_utf8(void)
{
	static struct otlp_trace t;
	const struct otlp_trace *list[1] = { &t };
	struct otlp_resource res;
	struct json_object *doc;
	struct buf b;

	memset(&res, 0, sizeof(res));
	snprintf(res.service_name, sizeof(res.service_name), "keyrota");
	sample(&t);
	snprintf(t.request_model, sizeof(t.request_model), "gpt-\xff\xc3x");
	snprintf(t.response_id, sizeof(t.response_id), "r\xed\xa0\x80-\xc3\xa9");
	buf_init(&b, 1 << 20);
	CU_ASSERT_EQUAL_FATAL(otlp_json_encode(&b, &res, NULL, list, 1),
	    BUF_OK);
	doc = json_check_parse(buf_str(&b));
	CU_ASSERT_PTR_NOT_NULL(doc);
	json_object_put(doc);
	CU_ASSERT(strstr(buf_str(&b), "\"gpt-\\ufffd\\ufffdx\"") != NULL);
	/* A surrogate is replaced byte by byte; valid text stays as it is. */
	CU_ASSERT(strstr(buf_str(&b), "\"r\\ufffd\\ufffd\\ufffd-\xc3\xa9\"")
	    != NULL);
	buf_free(&b);
}

/* Every string of t at its longest, of bytes that JSON escapes six-fold. */
static void
worst(struct otlp_trace *t, unsigned nlog)
{
	unsigned i;

	sample(t);
	memset(t->route, 0x01, sizeof(t->route) - 1);
	memset(t->request_model, 0x01, sizeof(t->request_model) - 1);
	memset(t->response_model, 0x01, sizeof(t->response_model) - 1);
	memset(t->response_id, 0x01, sizeof(t->response_id) - 1);
	memset(t->finish_reason, 0x01, sizeof(t->finish_reason) - 1);
	snprintf(t->parent_span_id, sizeof(t->parent_span_id),
	    "abcdefabcdefabcd");
	t->status = TRACE_FAILED;
	t->error = KR_PROVIDER_UNAVAILABLE;
	t->nlog = nlog;
	for (i = 0; i < nlog; i++) {
		snprintf(t->attempt_span_id[i], OTLP_SPAN_ID_SIZE,
		    "%016x", i + 1);
		t->log[i] = t->log[0];
	}
}

/* The largest batch allowed, of the largest spans, fits one request body:
 * otherwise an export of it could never be encoded. */
static void
test_largest_batch_fits(void)
{
	static struct otlp_trace one, many;
	static const struct otlp_trace *list[OTLP_BATCH_SPANS_MAX];
	struct otlp_resource res;
	char url[600];
	struct buf b;
	size_t i, n;
	int k;

	memset(&res, 0, sizeof(res));
	memset(res.service_name, 'x', sizeof(res.service_name) - 1);
	res.nattrs = OTLP_RESOURCE_ATTRS_MAX;
	for (i = 0; i < res.nattrs; i++) {
		memset(res.attrs[i].key, 0x01, sizeof(res.attrs[i].key) - 1);
		memset(res.attrs[i].value, 0x01,
		    sizeof(res.attrs[i].value) - 1);
	}
	k = snprintf(url, sizeof(url), "https://");
	memset(url + k, 'h', 255);
	snprintf(url + k + 255, sizeof(url) - (size_t)k - 255, ":65535/v1");
	worst(&one, 0);
	worst(&many, PROVIDER_ATTEMPTS_MAX);
	for (k = 0; k < 2; k++) {
		const struct otlp_trace *t = k == 0 ? &one : &many;

		n = OTLP_BATCH_SPANS_MAX / otlp_trace_spans(t);
		for (i = 0; i < n; i++)
			list[i] = t;
		buf_init(&b, OTLP_BODY_MAX);
		CU_ASSERT_EQUAL(otlp_json_encode(&b, &res, url, list, n),
		    BUF_OK);
		buf_free(&b);
	}
}

static void
test_traceparent(void)
{
	char t[TRACE_ID_W3C_SIZE], s[OTLP_SPAN_ID_SIZE];
	static const char *const bad[] = {
		"",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
		"0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
		"00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
	};
	size_t i;

	CU_ASSERT_EQUAL(otlp_traceparent_parse(
	    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", t, s), 0);
	CU_ASSERT_STRING_EQUAL(t, "4bf92f3577b34da6a3ce929d0e0e4736");
	CU_ASSERT_STRING_EQUAL(s, "00f067aa0ba902b7");
	CU_ASSERT_EQUAL(otlp_traceparent_parse(NULL, t, s), -1);
	/* A later version is read by its version-00 fields. */
	CU_ASSERT_EQUAL(otlp_traceparent_parse(
	    "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", t, s), 0);
	CU_ASSERT_STRING_EQUAL(s, "00f067aa0ba902b7");
	CU_ASSERT_EQUAL(otlp_traceparent_parse(
	    "fe-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-extra",
	    t, s), 0);
	CU_ASSERT_STRING_EQUAL(t, "4bf92f3577b34da6a3ce929d0e0e4736");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CU_ASSERT_EQUAL(otlp_traceparent_parse(bad[i], t, s), -1);
		CU_ASSERT_STRING_EQUAL(t, "");
		CU_ASSERT_STRING_EQUAL(s, "");
	}
}

void
suite_otlp(void)
{
	CU_pSuite s = CU_add_suite("otlp", NULL, NULL);

	ADD_TEST(s, test_genai_names);
	ADD_TEST(s, test_encode_spans);
	ADD_TEST(s, test_settings);
	ADD_TEST(s, test_largest_batch_fits);
	ADD_TEST(s, test_encode_not_utf8);
	ADD_TEST(s, test_traceparent);
}
