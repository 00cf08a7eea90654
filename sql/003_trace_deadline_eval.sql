-- keyrota schema, version 3: each trace carries its own deadline, and
-- traces made by `keyrota eval` are marked.
--
-- deadline_at: when the instance that started the trace stops waiting for
-- it (its model deadline plus the reaper grace). The reaper of any
-- instance fails a running trace only once this has passed, so instances
-- with different settings never end each other's live decisions. NULL for
-- traces written before this version: those are judged by the reaper's own
-- settings, as before.
ALTER TABLE traces ADD COLUMN deadline_at timestamptz
    CHECK (deadline_at IS NULL OR deadline_at >= created_at);

-- eval: the trace was made by `keyrota eval` (or `keyrota check`) with the
-- key age the eval case states, not with the accounts table. The admin
-- lookup leaves these out unless asked for them.
ALTER TABLE traces ADD COLUMN eval boolean NOT NULL DEFAULT false;

-- The reaper looks only at traces still running, by their own deadline.
CREATE INDEX traces_running_deadline_idx ON traces (deadline_at)
    WHERE status = 'running';
