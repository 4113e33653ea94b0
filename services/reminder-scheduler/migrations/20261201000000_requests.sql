-- What the scheduler knows of each request, from its events (which may arrive in any order):
-- enough to keep its timers and say why each falls due. The timers themselves are the
-- platform's durable jobs (platform_jobs), one per (kind, request).
CREATE TABLE requests (
    request_id        UUID PRIMARY KEY,
    protocol_number   TEXT NOT NULL DEFAULT '',
    patronato         TEXT NOT NULL DEFAULT '',
    patronato_office  TEXT NOT NULL DEFAULT '',
    operator_id       TEXT NOT NULL DEFAULT '',
    motivo            INTEGER NOT NULL DEFAULT 0,
    topic             TEXT NOT NULL DEFAULT '',
    -- Known once request.submitted has arrived.
    submitted_at      TIMESTAMPTZ,
    last_sollecito_at TIMESTAMPTZ,
    answered_at       TIMESTAMPTZ,
    closed_at         TIMESTAMPTZ,
    -- The office's deadline clock, as the newest request.sla_changed says (by its sequence).
    sla_sequence      BIGINT NOT NULL DEFAULT 0,
    sla_clock         TEXT NOT NULL DEFAULT '',
    due_at            TIMESTAMPTZ,
    office_code       TEXT NOT NULL DEFAULT '',
    office_patron_day TEXT NOT NULL DEFAULT '',
    office_direzione  TEXT NOT NULL DEFAULT '',
    sla_reason        TEXT NOT NULL DEFAULT ''
);

-- A responsabile's view: what falls due at an office.
CREATE INDEX requests_office ON requests (office_code);
