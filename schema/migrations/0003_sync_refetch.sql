-- Records to read again from upstream: a fetch kept local values of a row
-- whose own changes were still unsent, while upstream held different ones.
-- Once the row's log entries are done, the fetcher reads these records again
-- so that upstream's current values (which may be newer than ours) win.
CREATE TABLE IF NOT EXISTS {{schema}}._sync_refetch (
    table_name  text        NOT NULL,
    record_id   text        NOT NULL,
    noted_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (table_name, record_id)
);
