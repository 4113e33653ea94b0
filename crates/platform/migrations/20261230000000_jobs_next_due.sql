-- When a runner has nothing due it sleeps until the next due time of the jobs nobody holds,
-- asked after every claim (jobs::runner::until_next_due). On the due index that read walked
-- past every leased job first (the earliest ones, under load), and past the dead index
-- entries their lease updates leave: ten to twenty milliseconds at thirty thousand timers.
-- An index of the unleased jobs alone answers it with its first entry.
CREATE INDEX platform_jobs_next_due ON platform_jobs (due_at)
    WHERE dead_at IS NULL AND lease_until IS NULL;
