-- Every captured row was also written into an index on (state, updated_at)
-- that served only `tether status`'s "latest failures". A partial index of the
-- failed rows serves that query and costs captured rows (state 'new') nothing.
DROP INDEX IF EXISTS {{schema}}._sync_write_log_state_idx;
CREATE INDEX IF NOT EXISTS _sync_write_log_failed_idx
    ON {{schema}}._sync_write_log (updated_at DESC, id DESC) WHERE state = 'failed';
