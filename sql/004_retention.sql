-- keyrota schema, version 4: trace retention, and ended traces that
-- nobody can change.
--
-- The runtime role that `keyrota serve` uses may not DELETE (README,
-- "Database roles"). Expired rows go through keyrota_expire instead: it
-- runs with its owner's rights (the role that applied the migrations), and
-- can only ever remove finished traces and eval runs older than a cutoff at
-- least a day in the past, a bounded batch per call. Rows locked by someone
-- else are skipped, so two instances purging at once never wait on each
-- other and a purge never waits on a decision. Its search_path puts pg_temp
-- last and every name is qualified, so a caller's temporary objects can
-- never stand in for keyrota's tables.
CREATE FUNCTION public.keyrota_expire(cutoff timestamptz, batch integer,
                                      OUT expired_traces integer,
                                      OUT expired_eval_runs integer)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
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
    DELETE FROM public.traces WHERE trace_id IN (
        SELECT trace_id FROM public.traces
         WHERE created_at < cutoff AND status <> 'running'
         ORDER BY created_at
         LIMIT batch
           FOR UPDATE SKIP LOCKED);
    GET DIAGNOSTICS expired_traces = ROW_COUNT;
    -- eval_case_results go with their run (ON DELETE CASCADE).
    DELETE FROM public.eval_runs WHERE run_id IN (
        SELECT run_id FROM public.eval_runs
         WHERE started_at < cutoff
         ORDER BY started_at
         LIMIT batch
           FOR UPDATE SKIP LOCKED);
    GET DIAGNOSTICS expired_eval_runs = ROW_COUNT;
END
$$;

REVOKE ALL ON FUNCTION public.keyrota_expire(timestamptz, integer) FROM PUBLIC;

-- A trace is written once running and once more when it ends; after that
-- it is evidence and nobody changes it: keyrota's own terminal updates all
-- say WHERE status = 'running', and this makes it the database's rule for
-- every role. (A migration that must rewrite ended traces disables the
-- trigger for its own transaction.) Which columns the runtime role may
-- write at all is in grants.sql.
CREATE FUNCTION public.keyrota_trace_guard() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF OLD.status <> 'running' THEN
        RAISE EXCEPTION 'trace % has ended and cannot change', OLD.trace_id
            USING ERRCODE = '55000';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER traces_guard BEFORE UPDATE ON public.traces
    FOR EACH ROW EXECUTE FUNCTION public.keyrota_trace_guard();
