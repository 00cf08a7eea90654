-- keyrota schema, version 5: traces and eval runs may name the native
-- Anthropic provider (README, "Providers"). The provider columns keep a
-- closed set; only 'anthropic' joins it.
ALTER TABLE traces DROP CONSTRAINT traces_provider_check;
ALTER TABLE traces ADD CONSTRAINT traces_provider_check
    CHECK (provider IN ('openai', 'anthropic', 'fixture'));

ALTER TABLE eval_runs DROP CONSTRAINT eval_runs_provider_check;
ALTER TABLE eval_runs ADD CONSTRAINT eval_runs_provider_check
    CHECK (provider IN ('openai', 'anthropic', 'fixture'));
