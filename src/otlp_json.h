/* otlp_json: finished traces as one OTLP/HTTP JSON export request
 * (ExportTraceServiceRequest; docs/telemetry.md): one SERVER span per
 * decision and one CLIENT span per model call, its child. Pure (no I/O,
 * no clock, no randomness), so the unit tests and a fuzz harness call the
 * same encoder the exporter (otlp.h) uses.
 *
 * What a span may carry is fixed here: ids, times, outcomes, names and
 * counts. Report text, keys and header values have no field to go in. */
#ifndef KEYROTA_OTLP_JSON_H
#define KEYROTA_OTLP_JSON_H

#include <stddef.h>

#include "answer.h"
#include "buf.h"
#include "errors.h"
#include "provider.h"
#include "store_traces.h"
#include "trace_id.h"

#define OTLP_SPAN_ID_SIZE 17          /* 16 lowercase hex digits + NUL */
#define OTLP_RESOURCE_ATTRS_MAX 16

/* The span kinds and status codes of the OTLP protobuf enums, which
 * OTLP/JSON writes as integers. */
enum otlp_kind { OTLP_KIND_SERVER = 2, OTLP_KIND_CLIENT = 3 };
enum otlp_status { OTLP_STATUS_UNSET = 0, OTLP_STATUS_OK = 1,
	OTLP_STATUS_ERROR = 2 };

/* The resource every span of this process shares. */
struct otlp_resource {
	char   service_name[128];
	size_t nattrs;
	struct {
		char key[128];
		char value[256];
	} attrs[OTLP_RESOURCE_ATTRS_MAX];
};

/* One finished trace, as the exporter queues it: copies only. */
struct otlp_trace {
	char              trace_id[TRACE_ID_SIZE];        /* keyrota's tr_ id */
	char              otel_trace_id[TRACE_ID_W3C_SIZE];
	char              parent_span_id[OTLP_SPAN_ID_SIZE]; /* "": a root */
	char              span_id[OTLP_SPAN_ID_SIZE];     /* the server span */
	char              attempt_span_id[PROVIDER_ATTEMPTS_MAX]
	                      [OTLP_SPAN_ID_SIZE];
	char              route[48];                      /* "POST /rotation/decide" */
	long long         start_ns;                       /* wall clock */
	long long         end_ns;
	enum trace_status status;                         /* completed or failed */
	int               has_decision;
	enum decision     decision;
	enum kr_error     error;                          /* failed only */
	const char       *provider;                       /* static: ops->name */
	char              request_model[128];
	char              response_model[128];
	char              response_id[128];
	char              finish_reason[32];
	long              input_tokens;                   /* -1: unknown */
	long              output_tokens;
	struct provider_attempt log[PROVIDER_ATTEMPTS_MAX];
	unsigned          nlog;
};

/* The spans of a trace: the server span and one per logged model call. */
static inline size_t
otlp_trace_spans(const struct otlp_trace *t)
{
	return 1 + (t->nlog < PROVIDER_ATTEMPTS_MAX ? t->nlog :
	    PROVIDER_ATTEMPTS_MAX);
}

/* True for 2n lowercase hex digits that are not all zero (a W3C id). */
int otlp_hex_id_valid(const char *s, size_t n);

/* Writes the export request for n traces into b. base_url is the
 * configured model base URL (server.address, server.port; NULL: none).
 * Returns BUF_OK, or the buffer's error when b's bound is too small. */
enum buf_status otlp_json_encode(struct buf *b, const struct otlp_resource *res,
                    const char *base_url, const struct otlp_trace *const *t,
                    size_t n);

#endif
