-- A subject's jobs (a request's timers) are read on every event reminder-scheduler handles
-- (jobs::pending): without an index each read scanned every pending job, ten milliseconds at
-- thirty thousand timers and growing with them. Byte order ("C"), so that a prefix is a range.
CREATE INDEX platform_jobs_subject ON platform_jobs (subject COLLATE "C") WHERE dead_at IS NULL;
