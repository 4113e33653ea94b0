-- Solleciti (reminders) the operator sent on a request.
ALTER TABLE requests
    ADD COLUMN solleciti         INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN last_sollecito_at TIMESTAMPTZ;
