-- keyrota schema, version 5: traces and eval runs may name the native
-- Anthropic provider (README, "The Anthropic provider"). The provider
-- columns keep a closed set; only 'anthropic' joins it.
--
-- keyrota: contract -- a CHECK is dropped only to be replaced, in the same
-- statement, by a wider one: every value the running release writes
-- ('openai', 'fixture') still passes, so it keeps working while this
-- applies. NOT VALID: the rows already stored passed the narrower check,
-- so the table is not scanned under its lock.
ALTER TABLE traces
    DROP CONSTRAINT traces_provider_check,
    ADD CONSTRAINT traces_provider_check
        CHECK (provider IN ('openai', 'anthropic', 'fixture')) NOT VALID;

ALTER TABLE eval_runs
    DROP CONSTRAINT eval_runs_provider_check,
    ADD CONSTRAINT eval_runs_provider_check
        CHECK (provider IN ('openai', 'anthropic', 'fixture')) NOT VALID;
