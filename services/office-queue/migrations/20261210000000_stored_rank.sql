-- ListItems by priority as an index walk. An item's score (priority.rs) depends on the time
-- of reading only through its deadline band (on track, due soon, overdue), and the band
-- changes only when the reading time passes sla_warn_at or sla_due_at. So each item keeps its
-- score as of one instant, `ranked_as_of`, with the reading times that score holds for:
--
--   rank_key    minus the score as of ranked_as_of (ascending: first in the queue first);
--   rank_from   from this reading time (-infinity: from always)
--   rank_until  until this one, exclusive (infinity: for ever).
--
-- All three are generated from the item's own columns, so every write to status, solleciti
-- or the deadline keeps them true; only time makes them stale, and only for the items whose
-- band the clock has crossed. A page ranked as of t walks items_office_rank for the items
-- with rank_from <= t < rank_until and computes the score of the others (found through
-- items_rank_until and items_rank_from), so it is exact whatever ranked_as_of holds. The
-- service moves ranked_as_of forward for the items whose band the clock has crossed
-- (ranking.rs, every 30 seconds) so that the others stay few.
ALTER TABLE items
    ADD COLUMN ranked_as_of TIMESTAMPTZ NOT NULL DEFAULT now(),
    ADD COLUMN rank_key INTEGER NOT NULL GENERATED ALWAYS AS (
        CASE WHEN status <> 'NEW' THEN 0
             ELSE -(LEAST(solleciti, 9) + CASE
                 WHEN sla_due_at IS NULL OR sla_warn_at IS NULL THEN 0
                 WHEN sla_due_at <= ranked_as_of THEN 20
                 WHEN sla_warn_at <= ranked_as_of THEN 10
                 ELSE 0 END)
        END) STORED,
    ADD COLUMN rank_from TIMESTAMPTZ NOT NULL GENERATED ALWAYS AS (
        CASE WHEN status <> 'NEW' OR sla_due_at IS NULL OR sla_warn_at IS NULL
                 THEN '-infinity'::timestamptz
             WHEN sla_due_at <= ranked_as_of THEN sla_due_at
             WHEN sla_warn_at <= ranked_as_of THEN sla_warn_at
             ELSE '-infinity'::timestamptz
        END) STORED,
    ADD COLUMN rank_until TIMESTAMPTZ NOT NULL GENERATED ALWAYS AS (
        CASE WHEN status <> 'NEW' OR sla_due_at IS NULL OR sla_warn_at IS NULL
                 THEN 'infinity'::timestamptz
             WHEN sla_due_at <= ranked_as_of THEN 'infinity'::timestamptz
             WHEN sla_warn_at <= ranked_as_of THEN sla_due_at
             ELSE LEAST(sla_warn_at, sla_due_at)
        END) STORED;

-- The priority order of an office, for the items whose stored score holds.
CREATE INDEX items_office_rank ON items (office_code, rank_key, submitted_at, request_id);
-- The items whose stored score no longer holds at a reading time: their band crossed since
-- (until the service moves them), or, for a page ranked as of an earlier instant, they were
-- moved after it. Time first, so that the service finds those of every office at once.
CREATE INDEX items_rank_until ON items (rank_until, office_code)
    WHERE rank_until < 'infinity'::timestamptz;
CREATE INDEX items_rank_from ON items (rank_from, office_code)
    WHERE rank_from > '-infinity'::timestamptz;

-- Replaced by items_office_rank.
DROP INDEX items_office_submitted;
