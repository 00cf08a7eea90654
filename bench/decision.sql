-- pgbench: the SQL keyrota runs per decision (src/store_traces.c):
-- the running row, the trusted records, the terminal update.
\set r random(1, 999999999999)
INSERT INTO traces (trace_id, account_id, prompt_version, provider, request_model,
    idempotency_key, request_digest, input_fingerprint, fingerprint_key_id)
VALUES ('tr_bench' || lpad(:client_id::text, 4, '0') || lpad(:r::text, 12, '0'),
    'acct_10234', 'rotation_decision@2', 'fixture', 'keyrota-fixture-1', NULL, NULL,
    'abcdef012345', 'fk_bench')
ON CONFLICT DO NOTHING RETURNING trace_id;
SELECT p.line_id, p.summary, p.rotation_window_days,
    (SELECT floor(extract(epoch FROM now() - a.key_created_at) / 86400)::int
       FROM accounts a WHERE a.account_id = 'acct_10234')
FROM policy_lines p ORDER BY p.line_id;
UPDATE traces SET status = 'completed', decision = 'eligible', rotation_window_days = 30,
    source_line_ids = '{P-7}'::text[], error_code = NULL, model_decision = 'eligible',
    response_model = 'keyrota-fixture-1', response_id = NULL, finish_reason = 'stop',
    provider_attempts = 1, input_tokens = NULL, output_tokens = NULL, latency_ms = 1,
    finished_at = greatest(now(), created_at)
WHERE trace_id = 'tr_bench' || lpad(:client_id::text, 4, '0') || lpad(:r::text, 12, '0')
  AND status = 'running';
