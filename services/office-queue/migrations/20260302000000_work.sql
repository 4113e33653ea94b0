-- The office's work on an item: a version for optimistic concurrency, a lease, and an
-- append-only history.
ALTER TABLE items
    ADD COLUMN version     BIGINT NOT NULL DEFAULT 1,
    ADD COLUMN claimed_by  TEXT,
    ADD COLUMN lease_until TIMESTAMPTZ;

CREATE TABLE item_history (
    id         BIGSERIAL PRIMARY KEY,
    request_id UUID NOT NULL REFERENCES items (request_id),
    at         TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    text       TEXT NOT NULL DEFAULT '',
    -- Notes are internal: never sent to the patronato.
    internal   BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE INDEX item_history_request ON item_history (request_id, id);

-- History is append-only: an answer or a note, once written, is only ever followed by another.
CREATE FUNCTION item_history_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'item_history is append-only';
END;
$$;

CREATE TRIGGER item_history_append_only
    BEFORE UPDATE OR DELETE ON item_history
    FOR EACH ROW EXECUTE FUNCTION item_history_is_append_only();
