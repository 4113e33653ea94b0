-- Requests filed by patronato operators on behalf of citizens.
CREATE SEQUENCE protocol_numbers;

CREATE TABLE requests (
    id                UUID PRIMARY KEY,
    protocol_number   TEXT NOT NULL UNIQUE,
    motivo            INTEGER NOT NULL,
    codice_fiscale    TEXT NOT NULL,
    comune_residenza  TEXT NOT NULL,
    topic             TEXT NOT NULL,
    subject           TEXT NOT NULL,
    body              TEXT NOT NULL,
    patronato         TEXT NOT NULL,
    patronato_office  TEXT NOT NULL,
    operator_id       TEXT NOT NULL,
    status            TEXT NOT NULL DEFAULT 'SUBMITTED',
    submitted_at      TIMESTAMPTZ NOT NULL
);

CREATE INDEX requests_office ON requests (patronato_office, submitted_at);
CREATE INDEX requests_citizen ON requests (codice_fiscale, submitted_at);
