-- keyrota's runtime role (README, "Database roles"). `keyrota migrate`
-- applies this file after the numbered migrations, every time, so the
-- grants always match the schema and drift is repaired: whatever a
-- migration added is granted here or not at all.
--
-- keyrota_runtime is a group role without login. The role `keyrota serve`
-- and `keyrota eval` log in as is made a member of it by the operator
-- (GRANT keyrota_runtime TO ...). It may read the trusted records and
-- write only keyrota's own tables; it may never DELETE, TRUNCATE, change
-- the schema, or create temporary objects. Expiry goes through
-- keyrota_expire (sql/004_retention.sql).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'keyrota_runtime') THEN
        CREATE ROLE keyrota_runtime NOLOGIN;
    END IF;
    -- Nobody but the owner creates anything in keyrota's database, not
    -- even temporary tables (PostgreSQL grants both to PUBLIC by default
    -- in older clusters and for temporary tables in every one).
    EXECUTE format('REVOKE TEMPORARY, CREATE ON DATABASE %I FROM PUBLIC, keyrota_runtime',
                   current_database());
END
$$;

REVOKE CREATE ON SCHEMA public FROM PUBLIC, keyrota_runtime;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC, keyrota_runtime;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM PUBLIC, keyrota_runtime;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM PUBLIC, keyrota_runtime;

GRANT USAGE ON SCHEMA public TO keyrota_runtime;
-- trusted records: read only
GRANT SELECT ON public.accounts, public.policy_lines TO keyrota_runtime;
-- `keyrota check` compares the applied migrations with its own
GRANT SELECT ON public.schema_migrations TO keyrota_runtime;
-- keyrota's own output: a trace is inserted running, then only its
-- outcome is written (and the database refuses that once it has ended);
-- nothing is ever deleted but through keyrota_expire
GRANT SELECT, INSERT ON public.traces TO keyrota_runtime;
GRANT UPDATE (status, decision, rotation_window_days, source_line_ids, error_code,
              model_decision, response_model, response_id, finish_reason,
              provider_attempts, input_tokens, output_tokens, latency_ms, finished_at)
    ON public.traces TO keyrota_runtime;
GRANT SELECT, INSERT ON public.eval_runs, public.eval_case_results TO keyrota_runtime;
GRANT EXECUTE ON FUNCTION public.keyrota_expire(timestamptz, integer) TO keyrota_runtime;
