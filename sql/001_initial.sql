-- keyrota schema, version 1.
-- Trusted records (accounts, policy_lines) and the trace of every accepted
-- report. A trace never holds the report text: only its keyed fingerprint.

CREATE TABLE accounts (
    -- the account a report names; format enforced here as well as in C
    account_id      text PRIMARY KEY CHECK (account_id ~ '^acct_[0-9]{5}$'),
    -- when the account's service-account key was created; its age in whole
    -- days is computed from this at decision time, never taken from a request
    key_created_at  timestamptz NOT NULL
);

CREATE TABLE policy_lines (
    -- e.g. P-7; the ids a model answer may cite as evidence
    line_id               text PRIMARY KEY CHECK (line_id ~ '^P-[0-9]{1,4}$'),
    -- the policy text shown to the model and to people
    summary               text NOT NULL CHECK (length(summary) BETWEEN 1 AND 500),
    -- days after which a stale key may be rotated under this line
    rotation_window_days  integer NOT NULL CHECK (rotation_window_days BETWEEN 0 AND 90)
);

INSERT INTO policy_lines (line_id, summary, rotation_window_days) VALUES
    ('P-7', 'Stale service-account keys may be rotated within 30 days.', 30);

CREATE TABLE traces (
    -- opaque id: 'tr_' and at least 96 random bits, URL-safe base64
    trace_id              text PRIMARY KEY CHECK (trace_id ~ '^tr_[A-Za-z0-9_-]{16,64}$'),
    -- the account named in the report (may be unknown: no foreign key)
    account_id            text NOT NULL CHECK (account_id ~ '^acct_[0-9]{5}$'),
    -- running, then exactly one of completed or failed
    status                text NOT NULL DEFAULT 'running'
                          CHECK (status IN ('running', 'completed', 'failed')),
    -- the verified decision (completed only)
    decision              text CHECK (decision IN ('eligible', 'not_eligible', 'needs_review')),
    -- the verified rotation window in days (completed only)
    rotation_window_days  integer CHECK (rotation_window_days BETWEEN 0 AND 90),
    -- policy line ids the decision rests on (completed only)
    source_line_ids       text[] CHECK (source_line_ids IS NULL
                              OR cardinality(source_line_ids) BETWEEN 1 AND 8),
    -- the named error (failed only)
    error_code            text CHECK (error_code IN ('unknown_account',
                              'provider_timeout', 'provider_unavailable',
                              'provider_rate_limited', 'provider_auth',
                              'invalid_decision', 'policy_conflict',
                              'worker_lost', 'internal_error')),
    -- the decision the model gave, kept even when verification refused it
    model_decision        text CHECK (model_decision IN ('eligible', 'not_eligible', 'needs_review')),
    -- the prompt template version, e.g. rotation_decision@2
    prompt_version        text NOT NULL CHECK (length(prompt_version) BETWEEN 1 AND 64),
    -- provider implementation: openai or fixture (gen_ai.system)
    provider              text NOT NULL CHECK (provider IN ('openai', 'fixture')),
    -- model requested (gen_ai.request.model) and answering (gen_ai.response.model)
    request_model         text NOT NULL CHECK (length(request_model) BETWEEN 1 AND 128),
    response_model        text CHECK (length(response_model) <= 128),
    -- provider calls made for this decision, retries included
    provider_attempts     integer NOT NULL DEFAULT 0 CHECK (provider_attempts BETWEEN 0 AND 10),
    -- token usage when the provider reported it (gen_ai.usage.*)
    input_tokens          integer CHECK (input_tokens >= 0),
    output_tokens         integer CHECK (output_tokens >= 0),
    -- the provider's response id and finish reason
    response_id           text CHECK (length(response_id) <= 128),
    finish_reason         text CHECK (length(finish_reason) <= 32),
    -- wall time from accepted report to terminal state
    latency_ms            integer CHECK (latency_ms >= 0),
    created_at            timestamptz NOT NULL DEFAULT now(),
    finished_at           timestamptz,
    -- client-chosen key that makes a repeat return this trace
    idempotency_key       text UNIQUE CHECK (length(idempotency_key) BETWEEN 1 AND 128),
    -- keyed digest of the whole request, to tell a repeat from a conflict
    request_digest        text CHECK (request_digest ~ '^[0-9a-f]{64}$'),
    -- first 12 hex digits of HMAC-SHA256(report text) and that key's id
    input_fingerprint     text NOT NULL CHECK (input_fingerprint ~ '^[0-9a-f]{12}$'),
    fingerprint_key_id    text NOT NULL CHECK (length(fingerprint_key_id) BETWEEN 1 AND 64),

    -- The status decides which outcome columns may be set.
    CONSTRAINT running_has_no_outcome CHECK (status <> 'running' OR (
        decision IS NULL AND rotation_window_days IS NULL AND
        source_line_ids IS NULL AND error_code IS NULL AND
        finished_at IS NULL AND latency_ms IS NULL)),
    CONSTRAINT completed_has_decision CHECK (status <> 'completed' OR (
        decision IS NOT NULL AND rotation_window_days IS NOT NULL AND
        source_line_ids IS NOT NULL AND error_code IS NULL AND
        finished_at IS NOT NULL AND latency_ms IS NOT NULL)),
    CONSTRAINT failed_has_error CHECK (status <> 'failed' OR (
        error_code IS NOT NULL AND decision IS NULL AND
        rotation_window_days IS NULL AND source_line_ids IS NULL AND
        finished_at IS NOT NULL AND latency_ms IS NOT NULL)),
    CONSTRAINT idempotency_pair CHECK (
        (idempotency_key IS NULL) = (request_digest IS NULL)),
    CONSTRAINT finished_after_created CHECK (finished_at IS NULL OR finished_at >= created_at)
);

-- Admin lookup: newest first with keyset pagination, alone or per filter.
CREATE INDEX traces_created_idx ON traces (created_at DESC, trace_id DESC);
CREATE INDEX traces_account_idx ON traces (account_id, created_at DESC, trace_id DESC);
CREATE INDEX traces_status_idx ON traces (status, created_at DESC, trace_id DESC);
CREATE INDEX traces_error_idx ON traces (error_code, created_at DESC, trace_id DESC)
    WHERE error_code IS NOT NULL;
-- The reaper looks only at traces still running.
CREATE INDEX traces_running_idx ON traces (created_at) WHERE status = 'running';
