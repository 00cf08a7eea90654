-- keyrota schema, version 4: trace retention.
--
-- The runtime role that `keyrota serve` uses may not DELETE (README,
-- "Database roles"). Expired rows go through this one function instead: it
-- runs with its owner's rights (the role that applied the migrations), and
-- can only ever remove finished traces and eval runs older than a cutoff at
-- least a day in the past, a bounded batch per call. Rows locked by someone
-- else are skipped, so two instances purging at once never wait on each
-- other and a purge never waits on a decision.
CREATE FUNCTION keyrota_expire(cutoff timestamptz, batch integer,
                               OUT expired_traces integer,
                               OUT expired_eval_runs integer)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
BEGIN
    IF batch IS NULL OR batch < 1 OR batch > 10000 THEN
        RAISE EXCEPTION 'keyrota_expire: batch must be 1..10000'
            USING ERRCODE = '22023';
    END IF;
    IF cutoff IS NULL OR cutoff > now() - interval '1 day' THEN
        RAISE EXCEPTION 'keyrota_expire: cutoff must be at least a day old'
            USING ERRCODE = '22023';
    END IF;
    -- Oldest first, through traces_created_idx.
    DELETE FROM traces WHERE trace_id IN (
        SELECT trace_id FROM traces
         WHERE created_at < cutoff AND status <> 'running'
         ORDER BY created_at
         LIMIT batch
           FOR UPDATE SKIP LOCKED);
    GET DIAGNOSTICS expired_traces = ROW_COUNT;
    -- eval_case_results go with their run (ON DELETE CASCADE).
    DELETE FROM eval_runs WHERE run_id IN (
        SELECT run_id FROM eval_runs
         WHERE started_at < cutoff
         ORDER BY started_at
         LIMIT batch
           FOR UPDATE SKIP LOCKED);
    GET DIAGNOSTICS expired_eval_runs = ROW_COUNT;
END
$$;

REVOKE ALL ON FUNCTION keyrota_expire(timestamptz, integer) FROM PUBLIC;
