-- keyrota schema, version 2: recorded eval runs (`keyrota eval`).
-- An eval run is the eval set run once against one provider, model and
-- prompt version; its cases say what was expected and what happened.

CREATE TABLE eval_runs (
    -- opaque id: 'ev_' and 128 random bits, URL-safe base64
    run_id          text PRIMARY KEY CHECK (run_id ~ '^ev_[A-Za-z0-9_-]{22}$'),
    -- the eval file's name (runs of the same file are compared) and digest
    eval_file       text NOT NULL CHECK (length(eval_file) BETWEEN 1 AND 200),
    eval_digest     text NOT NULL CHECK (eval_digest ~ '^[0-9a-f]{64}$'),
    -- what was evaluated (gen_ai.system, gen_ai.request.model)
    provider        text NOT NULL CHECK (provider IN ('openai', 'fixture')),
    model           text NOT NULL CHECK (length(model) BETWEEN 1 AND 128),
    prompt_version  text NOT NULL CHECK (length(prompt_version) BETWEEN 1 AND 64),
    started_at      timestamptz NOT NULL,
    finished_at     timestamptz NOT NULL,
    passed          integer NOT NULL CHECK (passed >= 0),
    failed          integer NOT NULL CHECK (failed >= 0),
    CONSTRAINT finished_after_started CHECK (finished_at >= started_at)
);

CREATE INDEX eval_runs_file_idx ON eval_runs (eval_file, started_at DESC);
CREATE INDEX eval_runs_started_idx ON eval_runs (started_at DESC);

CREATE TABLE eval_case_results (
    run_id      text NOT NULL REFERENCES eval_runs (run_id) ON DELETE CASCADE,
    -- the case's name, unique within its file
    case_name   text NOT NULL CHECK (length(case_name) BETWEEN 1 AND 80),
    passed      boolean NOT NULL,
    -- outcomes as short text, e.g. "completed eligible [P-7]",
    -- "failed policy_conflict", "rejected credential_report"
    expected    text NOT NULL CHECK (length(expected) <= 400),
    got         text NOT NULL CHECK (length(got) <= 400),
    latency_ms  integer CHECK (latency_ms >= 0),
    -- the trace the case produced, when it got that far
    trace_id    text,
    PRIMARY KEY (run_id, case_name)
);
