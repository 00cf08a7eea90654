/* The OTLP exporter's parsers and encoder (otlp.h, otlp_json.h): a
 * traceparent header, the OTEL_EXPORTER_OTLP_HEADERS and
 * OTEL_RESOURCE_ATTRIBUTES lists, and model metadata that ends up in
 * span attributes. Whatever they hold, the encoding stays one valid JSON
 * document and a header value never reaches an error message. */
#include "autoconfig.h"

#include <json-c/json.h>

#include "../tests/unit/json_check.h"
#include "fuzz.h"
#include "otlp.h"
#include "otlp_json.h"

static const char *
env_get(const char *name, void *ctx)
{
	char **f = ctx;

	if (strcmp(name, "OTEL_EXPORTER_OTLP_ENDPOINT") == 0)
		return "http://127.0.0.1:4318";
	if (strcmp(name, "OTEL_EXPORTER_OTLP_HEADERS") == 0)
		return f[1];
	if (strcmp(name, "OTEL_RESOURCE_ATTRIBUTES") == 0)
		return f[2];
	return NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_str(data, size), *f[5];
	static struct otlp_settings set;
	struct otlp_trace t;
	const struct otlp_trace *list[1] = { &t };
	char tid[TRACE_ID_W3C_SIZE], sid[OTLP_SPAN_ID_SIZE], err[256];
	struct json_object *doc;
	struct buf b;

	fuzz_fields(s, f, 5);
	if (otlp_traceparent_parse(f[0], tid, sid) == 0 &&
	    (!otlp_hex_id_valid(tid, 16) || !otlp_hex_id_valid(sid, 8)))
		abort();
	if (otlp_settings_load(&set, env_get, f, err, sizeof(err)) != 0)
		set.resource.nattrs = 0;
	memset(&t, 0, sizeof(t));
	snprintf(t.trace_id, sizeof(t.trace_id), "tr_AAAAAAAAAAAAAAAAAAAAAQ");
	snprintf(t.otel_trace_id, sizeof(t.otel_trace_id), "%s",
	    tid[0] ? tid : "00000000000000000000000000000001");
	snprintf(t.parent_span_id, sizeof(t.parent_span_id), "%s", sid);
	snprintf(t.span_id, sizeof(t.span_id), "00f067aa0ba902b7");
	snprintf(t.attempt_span_id[0], OTLP_SPAN_ID_SIZE, "1111111111111111");
	snprintf(t.route, sizeof(t.route), "POST /rotation/decide");
	t.status = TRACE_COMPLETED;
	t.provider = "openai";
	snprintf(t.request_model, sizeof(t.request_model), "%s",
	    f[3] ? f[3] : "");
	snprintf(t.response_model, sizeof(t.response_model), "%s",
	    f[4] ? f[4] : "");
	t.input_tokens = t.output_tokens = -1;
	t.nlog = 1;
	buf_init(&b, 1 << 20);
	if (otlp_json_encode(&b, &set.resource, f[3], list, 1) != BUF_OK)
		abort();
	if ((doc = json_check_parse(buf_str(&b))) == NULL)
		abort();
	json_object_put(doc);
	buf_free(&b);
	otlp_settings_wipe(&set);
	free(s);
	return 0;
}
