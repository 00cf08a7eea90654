-- The admin list query of src/store_admin.c (admin_list_older) as keyrota
-- runs it: a prepared statement with plan_cache_mode = force_custom_plan,
-- so PostgreSQL makes a custom plan with the values known. Empty psql variables mean "no filter".
-- Variables: tid acct status err from to.
SET plan_cache_mode = force_custom_plan;
PREPARE list(text, text, text, text, timestamptz, timestamptz, timestamptz, text) AS
SELECT trace_id, account_id, status, coalesce(decision, ''), coalesce(error_code, ''),
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')
FROM traces
WHERE ($1::text IS NULL OR trace_id = $1) AND ($2::text IS NULL OR account_id = $2)
  AND ($3::text IS NULL OR status = $3) AND ($4::text IS NULL OR error_code = $4)
  AND ($5::timestamptz IS NULL OR created_at >= $5::timestamptz)
  AND ($6::timestamptz IS NULL OR created_at < $6::timestamptz)
  AND ($7::timestamptz IS NULL OR (created_at, trace_id) < ($7::timestamptz, $8::text))
ORDER BY created_at DESC, trace_id DESC LIMIT 51;
EXPLAIN (ANALYZE, COSTS OFF) EXECUTE list(NULLIF(:'tid', ''), NULLIF(:'acct', ''),
  NULLIF(:'status', ''), NULLIF(:'err', ''), NULLIF(:'from', '')::timestamptz,
  NULLIF(:'to', '')::timestamptz, NULL, NULL);
