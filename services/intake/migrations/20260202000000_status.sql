-- The operator's view of each request's life, kept from the downstream events.
ALTER TABLE requests
    ADD COLUMN office_code       TEXT,
    ADD COLUMN office_name       TEXT,
    -- Router's decision the status follows; an older decision never overwrites a newer one.
    ADD COLUMN decision_sequence BIGINT NOT NULL DEFAULT 0;

CREATE TABLE request_history (
    id          BIGSERIAL PRIMARY KEY,
    request_id  UUID NOT NULL REFERENCES requests (id),
    at          TIMESTAMPTZ NOT NULL,
    status      TEXT NOT NULL,
    office_code TEXT,
    office_name TEXT,
    detail      TEXT NOT NULL,
    -- Router's decision this entry records: each decision appears once, even when its event
    -- is published again.
    decision_sequence BIGINT
);

CREATE INDEX request_history_request ON request_history (request_id, at, id);
CREATE UNIQUE INDEX request_history_one_entry_per_decision
    ON request_history (request_id, decision_sequence) WHERE decision_sequence IS NOT NULL;
