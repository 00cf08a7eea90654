-- keyrota's runtime role (README, "Database roles"). `keyrota migrate`
-- applies this file after the numbered migrations, every time, so the
-- grants always match the schema: whatever a migration added is granted
-- here or not at all.
--
-- keyrota_runtime is a group role without login. The role `keyrota serve`
-- and `keyrota eval` log in as is made a member of it by the operator
-- (GRANT keyrota_runtime TO ...). It may read the trusted records and
-- write only keyrota's own tables; it may never DELETE, TRUNCATE or change
-- the schema. Expiry goes through keyrota_expire (sql/004_retention.sql).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'keyrota_runtime') THEN
        CREATE ROLE keyrota_runtime NOLOGIN;
    END IF;
END
$$;

REVOKE ALL ON ALL TABLES IN SCHEMA public FROM keyrota_runtime;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM keyrota_runtime;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM keyrota_runtime;
REVOKE CREATE ON SCHEMA public FROM keyrota_runtime;

GRANT USAGE ON SCHEMA public TO keyrota_runtime;
-- trusted records: read only
GRANT SELECT ON accounts, policy_lines TO keyrota_runtime;
-- `keyrota check` compares the applied migrations with its own
GRANT SELECT ON schema_migrations TO keyrota_runtime;
-- keyrota's own output: written, never deleted
GRANT SELECT, INSERT, UPDATE ON traces TO keyrota_runtime;
GRANT SELECT, INSERT ON eval_runs, eval_case_results TO keyrota_runtime;
-- (again here: a restore without privileges would leave it to PUBLIC)
REVOKE ALL ON FUNCTION keyrota_expire(timestamptz, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION keyrota_expire(timestamptz, integer) TO keyrota_runtime;
