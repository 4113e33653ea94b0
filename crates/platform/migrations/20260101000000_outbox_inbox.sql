-- Platform tables that live in every service's database.

-- Transactional outbox: an event is written here in the same transaction as the business
-- change, and the relay publishes it with a publisher confirm and then deletes it.
CREATE TABLE platform_outbox (
    id            BIGSERIAL PRIMARY KEY,
    event_id      UUID NOT NULL UNIQUE,
    routing_key   TEXT NOT NULL,
    payload       BYTEA NOT NULL,
    -- W3C trace context of the transaction that wrote the event.
    trace_context JSONB NOT NULL DEFAULT '{}'::jsonb,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- A row the broker refused (e.g. no queue bound to its routing key yet) waits here with a
    -- growing delay instead of blocking the rows behind it.
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_error      TEXT
);

-- Inbox: the events a consumer has already applied, written in the same transaction as the
-- effect, so that a redelivered event changes nothing.
CREATE TABLE platform_inbox (
    consumer     TEXT NOT NULL,
    event_id     UUID NOT NULL,
    processed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
