-- The service-level clock of each item (business-day arithmetic is done by the service, in
-- Rust, with the Italian holidays; the database only compares instants). While the clock
-- runs, sla_due_at and sla_warn_at are set; while the office waits for the patronato's
-- information it is stopped: both are NULL and sla_days_left keeps the business days left.
ALTER TABLE items
    ADD COLUMN sla_due_at    TIMESTAMPTZ,
    ADD COLUMN sla_warn_at   TIMESTAMPTZ,
    ADD COLUMN sla_days_left INTEGER;

-- Items filed before the clock existed: six calendar weeks from sending is what 30 business
-- days come to without holidays; new items get the exact deadline.
UPDATE items
SET sla_due_at  = submitted_at + interval '42 days',
    sla_warn_at = submitted_at + interval '35 days'
WHERE status = 'NEW';

UPDATE items SET sla_days_left = 30 WHERE status = 'INFO_REQUESTED';

-- ListItems by priority reads one office's open items: keep them together.
CREATE INDEX items_office_submitted ON items (office_code, submitted_at, request_id);
