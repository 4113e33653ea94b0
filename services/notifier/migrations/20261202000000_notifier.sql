-- What notifier knows of each request: who filed it and its protocol number (office events
-- carry neither), from router's first decision.
CREATE TABLE requests (
    request_id       UUID PRIMARY KEY,
    protocol_number  TEXT NOT NULL,
    patronato        TEXT NOT NULL,
    patronato_office TEXT NOT NULL,
    operator_id      TEXT NOT NULL,
    office_code      TEXT NOT NULL,
    recorded_at      TIMESTAMPTZ NOT NULL
);

-- The inbox: one notice per (event, audience). Audiences: patronato_office (the filer's
-- office; operator_id says who filed), patronato (its administrators), inps_office,
-- inps_responsabile.
CREATE TABLE notifications (
    id              UUID PRIMARY KEY,
    event_id        UUID NOT NULL,
    audience        TEXT NOT NULL,
    audience_code   TEXT NOT NULL,
    patronato       TEXT NOT NULL DEFAULT '',
    operator_id     TEXT NOT NULL DEFAULT '',
    request_id      UUID,
    protocol_number TEXT NOT NULL DEFAULT '',
    event_type      TEXT NOT NULL,
    title           TEXT NOT NULL,
    body            TEXT NOT NULL,
    action_needed   BOOLEAN NOT NULL DEFAULT false,
    created_at      TIMESTAMPTZ NOT NULL,
    UNIQUE (event_id, audience, audience_code)
);
CREATE INDEX notifications_by_audience ON notifications (audience, audience_code, created_at DESC, id DESC);
CREATE INDEX notifications_by_patronato ON notifications (patronato, created_at DESC, id DESC);

-- Each reader's read marks (operators of one office share its notices, not their reading).
CREATE TABLE notification_reads (
    notification_id UUID NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    reader          TEXT NOT NULL,
    read_at         TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (reader, notification_id)
);

-- Preferences: scope operator (subject = token sub) or office (subject = office code).
CREATE TABLE preference_profiles (
    scope        TEXT NOT NULL CHECK (scope IN ('operator', 'office')),
    subject      TEXT NOT NULL,
    email        TEXT NOT NULL DEFAULT '',
    daily_digest BOOLEAN NOT NULL DEFAULT false,
    updated_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (scope, subject)
);
CREATE TABLE channel_preferences (
    scope      TEXT NOT NULL,
    subject    TEXT NOT NULL,
    event_type TEXT NOT NULL,
    inbox      BOOLEAN NOT NULL,
    email      BOOLEAN NOT NULL,
    PRIMARY KEY (scope, subject, event_type)
);

-- E-mails: one per (event, address); digests have an event id of their own (per office and day).
CREATE TABLE emails (
    id          UUID PRIMARY KEY,
    event_id    UUID NOT NULL,
    address     TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('notice', 'digest')),
    subject     TEXT NOT NULL,
    text_body   TEXT NOT NULL,
    html_body   TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'suppressed', 'failed')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    created_at  TIMESTAMPTZ NOT NULL,
    sent_at     TIMESTAMPTZ,
    UNIQUE (event_id, address)
);

-- Each address's unsubscribe token (List-Unsubscribe), made on its first e-mail.
CREATE TABLE contacts (
    address           TEXT PRIMARY KEY,
    unsubscribe_token TEXT NOT NULL UNIQUE
);

-- Addresses no e-mail goes to: bounces, complaints, unsubscriptions.
CREATE TABLE suppressions (
    address     TEXT PRIMARY KEY,
    reason      TEXT NOT NULL CHECK (reason IN ('bounce', 'complaint', 'unsubscribe')),
    detail      TEXT NOT NULL DEFAULT '',
    recorded_at TIMESTAMPTZ NOT NULL
);

-- A patronato's webhook endpoints.
CREATE TABLE webhook_endpoints (
    id                    UUID PRIMARY KEY,
    patronato             TEXT NOT NULL,
    url                   TEXT NOT NULL,
    description           TEXT NOT NULL DEFAULT '',
    event_types           TEXT[] NOT NULL DEFAULT '{}',
    contact_email         TEXT NOT NULL DEFAULT '',
    secret                TEXT NOT NULL,
    previous_secret       TEXT,
    previous_secret_until TIMESTAMPTZ,
    status                TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    disabled_reason       TEXT NOT NULL DEFAULT '',
    consecutive_failures  INTEGER NOT NULL DEFAULT 0,
    failing_since         TIMESTAMPTZ,
    circuit_open_until    TIMESTAMPTZ,
    created_at            TIMESTAMPTZ NOT NULL
);
CREATE INDEX webhook_endpoints_by_patronato ON webhook_endpoints (patronato);

-- One delivery per (event, endpoint); its id is the webhook-id, the same on every attempt.
CREATE TABLE webhook_deliveries (
    id              UUID PRIMARY KEY,
    endpoint_id     UUID NOT NULL REFERENCES webhook_endpoints (id),
    event_id        UUID NOT NULL,
    event_type      TEXT NOT NULL,
    request_id      UUID,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'delivered', 'dead', 'failed', 'disabled')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL,
    delivered_at    TIMESTAMPTZ,
    UNIQUE (event_id, endpoint_id)
);
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, created_at DESC, id DESC);

-- Every attempt: when, the HTTP status (0: no answer), how long, the first bytes of the answer.
CREATE TABLE webhook_attempts (
    id               BIGSERIAL PRIMARY KEY,
    delivery_id      UUID NOT NULL REFERENCES webhook_deliveries (id),
    attempted_at     TIMESTAMPTZ NOT NULL,
    status_code      INTEGER NOT NULL,
    latency_ms       INTEGER NOT NULL,
    response_excerpt TEXT NOT NULL DEFAULT '',
    error            TEXT NOT NULL DEFAULT ''
);
CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (delivery_id, id);
