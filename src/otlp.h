/* otlp: exports every finished trace as OpenTelemetry spans over OTLP/HTTP
 * JSON (docs/telemetry.md), configured by the standard OTEL_* variables.
 *
 * A decision never waits for it: otlp_submit copies the trace into a
 * bounded queue (OTEL_BSP_MAX_QUEUE_SIZE spans) or, when the queue is
 * full, drops it and counts the spans (keyrota_otlp_spans_dropped_total).
 * The loop thread posts the queue in batches through libcurl, one export
 * in flight at a time, each bounded by OTEL_EXPORTER_OTLP_TIMEOUT; a batch
 * that fails is counted and dropped, never retried, so a slow or absent
 * collector costs a worker one connection and some memory at most.
 *
 * Header values (OTEL_EXPORTER_OTLP_HEADERS) are secrets: never logged,
 * wiped on destroy. */
#ifndef KEYROTA_OTLP_H
#define KEYROTA_OTLP_H

#include <stddef.h>

#include "config.h"
#include "otlp_json.h"

#define OTLP_HEADERS_MAX 16
#define OTLP_HEADER_LINE 1024
/* One export request's body. A span encodes to a few KiB at most (its
 * strings are bounded), so the largest batch stays well below it (a unit
 * test holds them together); a larger batch could never be sent. */
#define OTLP_BODY_MAX        (8u << 20)
#define OTLP_BATCH_SPANS_MAX 1024
/* The queue holds copies of whole traces (about 1.1 KiB each): this
 * bounds a worker's queue to about 18 MiB. */
#define OTLP_QUEUE_SPANS_MAX 16384

struct otlp_settings {
	char                 traces_url[1024];     /* "": export is off */
	char                 ca_file[CONFIG_PATH_MAX];   /* "": the system's */
	char                 headers[OTLP_HEADERS_MAX][OTLP_HEADER_LINE];
	size_t               nheaders;             /* "Name: value" lines */
	unsigned             timeout_ms;
	unsigned             queue_spans;
	unsigned             batch_spans;
	unsigned             delay_ms;
	struct otlp_resource resource;
};

/* Reads the OTEL_* variables through get (config.h). Returns 0, with
 * traces_url "" when no endpoint is set, or -1 with a message naming the
 * variable (never a header value) in err. */
int  otlp_settings_load(struct otlp_settings *s, config_getenv_fn get,
         void *ctx, char *err, size_t errlen);
/* otlp_settings_load with the process environment. */
int  otlp_settings_from_environ(struct otlp_settings *s, char *err,
         size_t errlen);
/* Wipes the header values. */
void otlp_settings_wipe(struct otlp_settings *s);

/* A W3C traceparent header (version 00, or a later one read as 00):
 * fills trace_id (32 hex) and span_id (16 hex) and returns 0, or returns
 * -1 for anything else. The flags are not kept (docs/telemetry.md). */
int  otlp_traceparent_parse(const char *h, char trace_id[TRACE_ID_W3C_SIZE],
         char span_id[OTLP_SPAN_ID_SIZE]);

struct loop;
struct otlp;

/* An exporter posting from loop; base_url is the model's (server.address
 * of the client spans). NULL when s has no endpoint or libcurl cannot
 * hold the headers. */
struct otlp *otlp_create(struct loop *loop, const struct otlp_settings *s,
                 const char *base_url);
/* Queues a copy of t (its span ids are made when it is sent) or drops it
 * when the queue is full. Thread-safe; never blocks on the network. o may
 * be NULL. */
void         otlp_submit(struct otlp *o, const struct otlp_trace *t);
/* Before the loop stops: sends what is queued at once, waiting at most
 * wait_ms (and the export timeout) for it. */
void         otlp_drain(struct otlp *o, unsigned wait_ms);
/* After loop_destroy: what is still queued is dropped and counted. */
void         otlp_destroy(struct otlp *o);

#endif
