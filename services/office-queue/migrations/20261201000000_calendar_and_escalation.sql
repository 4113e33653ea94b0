-- The office's calendar travels with the item (its patron saint's day, from the directory),
-- so that deadlines are computed, and recomputed when the calendar changes, with the day
-- that closes that office; and the direzione regionale an escalation goes to.
ALTER TABLE items
    ADD COLUMN office_patron_day TEXT NOT NULL DEFAULT '',
    ADD COLUMN office_direzione  TEXT NOT NULL DEFAULT '',
    -- The ISTAT region of the office (the SLA figures per region).
    ADD COLUMN office_region     TEXT NOT NULL DEFAULT '',
    -- The reminder-scheduler's latest step of the escalation ladder for the item's current
    -- deadline (sla_warning, sla_overdue, sla_escalation), and when it fired.
    ADD COLUMN escalation        TEXT,
    ADD COLUMN escalated_at      TIMESTAMPTZ;

-- The open items the SLA gauge counts per region and state.
CREATE INDEX items_open ON items (office_region) WHERE status IN ('NEW', 'INFO_REQUESTED');
