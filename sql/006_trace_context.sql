-- keyrota schema, version 6: the W3C trace context a decision continued.
--
-- A POST /rotation/decide that carries a valid traceparent header has its
-- spans exported into the caller's trace (docs/telemetry.md). These
-- columns keep that trace id and the caller's span id, so the admin
-- detail shows where the spans went; without them the spans' trace id is
-- the trace id's own 128 bits. Both are set or neither; W3C reserves the
-- all-zero ids. The runtime role's INSERT on traces covers them
-- (sql/grants.sql); they are never updated.
ALTER TABLE traces
    ADD COLUMN otel_trace_id text
        CHECK (otel_trace_id ~ '^[0-9a-f]{32}$' AND
               otel_trace_id <> repeat('0', 32)),
    ADD COLUMN otel_parent_span_id text
        CHECK (otel_parent_span_id ~ '^[0-9a-f]{16}$' AND
               otel_parent_span_id <> repeat('0', 16)),
    ADD CONSTRAINT traces_otel_context_both
        CHECK ((otel_trace_id IS NULL) = (otel_parent_span_id IS NULL));
