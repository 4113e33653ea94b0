-- The inbox is kept for `inbox.retention_hours`, then deleted in batches by age.
CREATE INDEX platform_inbox_processed_at ON platform_inbox (processed_at);

-- The outbox's oldest row, for the age metric.
CREATE INDEX platform_outbox_created_at ON platform_outbox (created_at);

-- Durable scheduled jobs: written in the caller's transaction, one per (kind, subject), so
-- that replicas cannot duplicate a timer; claimed with FOR UPDATE SKIP LOCKED by any number
-- of replicas under a lease that the runner renews while the job runs (a killed replica's
-- job is taken over once its lease ends). Due times are compared with the database's clock.
CREATE TABLE platform_jobs (
    id          BIGSERIAL PRIMARY KEY,
    kind        TEXT NOT NULL,
    subject     TEXT NOT NULL,
    due_at      TIMESTAMPTZ NOT NULL,
    payload     JSONB NOT NULL DEFAULT '{}'::jsonb,
    -- Runs begun so far (a run that failed, or whose replica died, counts).
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    lease_owner UUID,
    lease_until TIMESTAMPTZ,
    -- Bumped by every reschedule, so that a run that began before it does not delete the job
    -- it no longer owns.
    generation  BIGINT NOT NULL DEFAULT 0,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- A job that failed for good stays here, out of the runners' way, for an operator.
    dead_at     TIMESTAMPTZ,
    UNIQUE (kind, subject)
);

CREATE INDEX platform_jobs_due ON platform_jobs (due_at) WHERE dead_at IS NULL;

-- Where each reader of a stream stands: the offset of the next event to read, written in the
-- same transaction as the effects of the events before it.
CREATE TABLE platform_stream_positions (
    reader      TEXT PRIMARY KEY,
    next_offset BIGINT NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Events a stream reader could not apply and went past (so that one bad event does not stop
-- the history), kept for an operator and a rebuild.
CREATE TABLE platform_stream_skipped (
    reader     TEXT NOT NULL,
    stream_offset BIGINT NOT NULL,
    event_id   UUID,
    error      TEXT NOT NULL,
    skipped_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (reader, stream_offset)
);
