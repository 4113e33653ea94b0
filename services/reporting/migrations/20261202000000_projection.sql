-- Reporting's projection of the history stream. Every table of figures is a generation's:
-- a rebuild reads the stream again into a new generation (its own partitions), and the
-- switch to it is one row's change; the old generation's partitions are then dropped whole.

CREATE TABLE generations (
    generation      INTEGER PRIMARY KEY,
    -- The stream reader's name (its position in platform_stream_positions).
    reader          TEXT NOT NULL UNIQUE,
    state           TEXT NOT NULL CHECK (state IN ('building', 'active', 'retired')),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    activated_at    TIMESTAMPTZ,
    retired_at      TIMESTAMPTZ,
    dropped_at      TIMESTAMPTZ,
    -- The newest event this generation has read (by its time), when it last read one (by the
    -- service's clock), and the stream offset after the last event whose effects are in:
    -- written with those effects, so it is the data version of every figure read with them.
    newest_event_at TIMESTAMPTZ,
    events_read     BIGINT NOT NULL DEFAULT 0,
    read_at         TIMESTAMPTZ,
    next_offset     BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX generations_one_active ON generations ((true)) WHERE state = 'active';
CREATE UNIQUE INDEX generations_one_building ON generations ((true)) WHERE state = 'building';

-- What is known of each request (see src/model/facts.rs): merged from its events in any
-- order; `detail` holds the sets (transfers, information requests, deadlines, ratings).
CREATE TABLE facts (
    generation        INTEGER NOT NULL,
    request_id        UUID NOT NULL,
    submitted_at      TIMESTAMPTZ,
    region            TEXT,
    province          TEXT,
    patronato         TEXT,
    motivo            SMALLINT,
    topic             TEXT,
    office_code       TEXT,
    office_seq        BIGINT,
    office_patron_day TEXT,
    unroutable        BOOLEAN NOT NULL DEFAULT false,
    first_answer_at   TIMESTAMPTZ,
    first_answer_seq  BIGINT,
    answer_office     TEXT,
    closed_at         TIMESTAMPTZ,
    solleciti         INTEGER NOT NULL DEFAULT 0,
    detail            JSONB NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (generation, request_id)
) PARTITION BY LIST (generation);

-- One member of one dimension on one Italian day, and again on its month (span 2, `day` the
-- month's first), so that a month or a year is read from a few rows (src/model/contribution.rs):
-- sums, so that any set of days and members adds up; the time to the first answer as
-- histograms (src/model/buckets.rs), NULL when empty.
CREATE TABLE cells (
    generation      INTEGER NOT NULL,
    dim             SMALLINT NOT NULL,
    -- 1: a day, 2: a month.
    span            SMALLINT NOT NULL,
    key             TEXT NOT NULL,
    day             DATE NOT NULL,
    received        INTEGER NOT NULL DEFAULT 0,
    unroutable      INTEGER NOT NULL DEFAULT 0,
    solleciti       INTEGER NOT NULL DEFAULT 0,
    transfers       INTEGER NOT NULL DEFAULT 0,
    info_requests   INTEGER NOT NULL DEFAULT 0,
    resolved        INTEGER NOT NULL DEFAULT 0,
    answered        INTEGER NOT NULL DEFAULT 0,
    within_15_days  INTEGER NOT NULL DEFAULT 0,
    with_deadline   INTEGER NOT NULL DEFAULT 0,
    within_deadline INTEGER NOT NULL DEFAULT 0,
    ratings         INTEGER NOT NULL DEFAULT 0,
    rating_sum      INTEGER NOT NULL DEFAULT 0,
    calendar        INTEGER[],
    business        INTEGER[],
    PRIMARY KEY (generation, dim, span, day, key)
) PARTITION BY LIST (generation);

-- Element-wise sum of two histograms (either may be NULL, meaning empty); NULL when the sum
-- holds nothing, so that a histogram emptied again is the same as one never filled.
CREATE FUNCTION reporting_add_histograms(kept INTEGER[], added INTEGER[]) RETURNS INTEGER[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN added IS NULL THEN kept
        WHEN kept IS NULL THEN added
        ELSE (SELECT CASE WHEN bool_and(v = 0) THEN NULL ELSE array_agg(v ORDER BY i) END
              FROM (SELECT coalesce(k, 0) + coalesce(a, 0) AS v, i
                    FROM unnest(kept, added) WITH ORDINALITY AS t(k, a, i)) AS summed)
    END
$$;

-- A generation's partitions (idempotent).
CREATE FUNCTION reporting_create_partitions(target INTEGER) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('CREATE TABLE IF NOT EXISTS facts_g%s PARTITION OF facts FOR VALUES IN (%s)', target, target);
    EXECUTE format('CREATE TABLE IF NOT EXISTS cells_g%s PARTITION OF cells FOR VALUES IN (%s)', target, target);
END
$$;

CREATE FUNCTION reporting_drop_partitions(target INTEGER) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('DROP TABLE IF EXISTS facts_g%s', target);
    EXECUTE format('DROP TABLE IF EXISTS cells_g%s', target);
END
$$;

INSERT INTO generations (generation, reader, state, activated_at) VALUES (1, 'reporting', 'active', now());
SELECT reporting_create_partitions(1);

-- Office names and places, learned from the events that describe them (labels only).
CREATE TABLE offices (
    code       TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL,
    region     TEXT NOT NULL,
    province   TEXT NOT NULL,
    parent     TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The monthly reports of the tavoli tecnici, frozen when the month closed: the
-- combipat.reporting.v1.MonthlyReport as computed, with the data version it came from.
CREATE TABLE monthly_reports (
    month                DATE NOT NULL,
    region_code          TEXT NOT NULL,
    label                TEXT NOT NULL,
    frozen_at            TIMESTAMPTZ NOT NULL,
    generation           INTEGER NOT NULL,
    stream_offset        BIGINT NOT NULL,
    newest_event_at      TIMESTAMPTZ,
    small_cell_threshold INTEGER NOT NULL,
    report               BYTEA NOT NULL,
    PRIMARY KEY (month, region_code)
);

CREATE FUNCTION reporting_reports_are_frozen() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'monthly reports are frozen: % of % cannot change', OLD.region_code, OLD.month;
END
$$;
CREATE TRIGGER monthly_reports_frozen BEFORE UPDATE OR DELETE ON monthly_reports
    FOR EACH ROW EXECUTE FUNCTION reporting_reports_are_frozen();
