-- What the complete channel keeps beside each request: the motivo's own fields, mandates,
-- idempotency keys, ratings and attachments.

-- MOTIVO_SOLLECITO_PRATICA: the application being chased (for the first two motivi the
-- prestazione is kept in `topic`, which routes the request).
ALTER TABLE requests ADD COLUMN pratica_protocol_number TEXT NOT NULL DEFAULT '';

-- Likely duplicates are looked up by citizen within a day.
CREATE INDEX requests_duplicates
    ON requests (patronato, codice_fiscale, motivo, topic, pratica_protocol_number, submitted_at);

-- Mandati di patrocinio: a patronato writes for a citizen only while it holds an active one.
CREATE TABLE mandates (
    patronato         TEXT NOT NULL,
    codice_fiscale    TEXT NOT NULL,
    valid_from        TIMESTAMPTZ NOT NULL,
    valid_until       TIMESTAMPTZ,
    reference         TEXT NOT NULL DEFAULT '',
    revoked_at        TIMESTAMPTZ,
    revocation_reason TEXT NOT NULL DEFAULT '',
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (patronato, codice_fiscale)
);

-- A retried SubmitRequest with the same key returns the first result; the hash tells a
-- retry (same content) from a reuse of the key (other content).
CREATE TABLE idempotency_keys (
    operator_id  TEXT NOT NULL,
    key          TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    request_id   UUID NOT NULL REFERENCES requests (id),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (operator_id, key)
);

-- One rating per answer (the n-th ANSWERED entry of the request's history).
CREATE TABLE ratings (
    request_id    UUID NOT NULL REFERENCES requests (id),
    answer_number INTEGER NOT NULL,
    rating        INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    comment       TEXT NOT NULL DEFAULT '',
    operator_id   TEXT NOT NULL,
    rated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (request_id, answer_number)
);

-- Files in object storage; a row per upload, tied to a request when a message uses it.
CREATE TABLE attachments (
    id               UUID PRIMARY KEY,
    object_key       TEXT NOT NULL,
    sha256           TEXT NOT NULL,
    size_bytes       BIGINT NOT NULL,
    media_type       TEXT NOT NULL,
    file_name        TEXT NOT NULL,
    patronato_office TEXT NOT NULL,
    uploaded_by      TEXT NOT NULL,
    uploaded_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    request_id       UUID REFERENCES requests (id),
    -- 'request' (sent with the request) or 'info_reply' (with a reply to the office).
    message          TEXT
);

CREATE INDEX attachments_request ON attachments (request_id);
