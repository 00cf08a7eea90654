-- The admin list query of src/admin.c (list_sql) with one set of filter
-- values as constants, which is how PostgreSQL plans it for keyrota
-- (PQexecParams: a custom plan per request). Empty variables mean "no
-- filter". Variables: tid acct status err from to.
EXPLAIN (ANALYZE, COSTS OFF)
SELECT trace_id, account_id, status, coalesce(decision, ''), coalesce(error_code, ''),
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')
FROM traces
WHERE (NULLIF(:'tid', '') IS NULL OR trace_id = NULLIF(:'tid', ''))
  AND (NULLIF(:'acct', '') IS NULL OR account_id = NULLIF(:'acct', ''))
  AND (NULLIF(:'status', '') IS NULL OR status = NULLIF(:'status', ''))
  AND (NULLIF(:'err', '') IS NULL OR error_code = NULLIF(:'err', ''))
  AND (NULLIF(:'from', '')::timestamptz IS NULL OR created_at >= NULLIF(:'from', '')::timestamptz)
  AND (NULLIF(:'to', '')::timestamptz IS NULL OR created_at < NULLIF(:'to', '')::timestamptz)
ORDER BY created_at DESC, trace_id DESC LIMIT 51;
