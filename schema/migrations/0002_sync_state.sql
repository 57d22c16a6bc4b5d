-- Small key/value facts one tether process records for others to read
-- (e.g. `tether status`): the Salesforce API usage ("api_usage"), the current
-- leader ("leader"). Additive: nothing else depends on it.
CREATE TABLE IF NOT EXISTS {{schema}}._sync_state (
    key        text PRIMARY KEY,
    value      jsonb       NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
