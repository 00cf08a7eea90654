-- Demo accounts (README, "A sample request"), applied by scripts/run and scripts/test, never by
-- `keyrota migrate`. Key ages are relative to today so the demo stays true:
-- acct_10234 is 12 days old, acct_10235 45 days, acct_10236 30 days.
INSERT INTO accounts (account_id, key_created_at) VALUES
    ('acct_10234', now() - interval '12 days'),
    ('acct_10235', now() - interval '45 days'),
    ('acct_10236', now() - interval '30 days')
ON CONFLICT (account_id) DO UPDATE SET key_created_at = EXCLUDED.key_created_at;
