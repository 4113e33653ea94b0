-- Files of each item, by reference into the store the services share: those the patronato
-- sent with the request (from router's decision) and those the office uploads for its
-- answers and questions (tied to the item when the message is sent).
CREATE TABLE attachments (
    id          UUID PRIMARY KEY,
    object_key  TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    size_bytes  BIGINT NOT NULL,
    media_type  TEXT NOT NULL,
    file_name   TEXT NOT NULL,
    -- 'patronato' or 'office'
    sent_by     TEXT NOT NULL,
    -- The uploading office (for the office's files).
    office_code TEXT,
    uploaded_by TEXT NOT NULL,
    uploaded_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    request_id  UUID REFERENCES items (request_id)
);

CREATE INDEX attachments_item ON attachments (request_id);
