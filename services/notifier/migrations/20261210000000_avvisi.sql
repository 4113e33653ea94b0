-- Avvisi: what INPS shares with the patronati. Each version of an avviso is a row of its own;
-- a correction is a new row linked to the one it corrects (supersedes / superseded_by), and
-- nothing published is updated but its links, its delivery time and its withdrawal.
CREATE TABLE avvisi (
    id               UUID PRIMARY KEY,
    -- The first version's id, shared by every version.
    series_id        UUID NOT NULL,
    version          INTEGER NOT NULL CHECK (version >= 1),
    supersedes       UUID REFERENCES avvisi (id),
    superseded_by    UUID REFERENCES avvisi (id),
    title            TEXT NOT NULL,
    body             TEXT NOT NULL,
    -- A topic of crates/domain's list; '' concerns every topic.
    topic            TEXT NOT NULL DEFAULT '',
    priority         TEXT NOT NULL CHECK (priority IN ('informativo', 'importante')),
    -- Which patronati ('{}': all), and where: the nation, one region, or some provinces.
    patronati        TEXT[] NOT NULL DEFAULT '{}',
    scope            TEXT NOT NULL CHECK (scope IN ('nation', 'region', 'provinces')),
    region_code      TEXT NOT NULL DEFAULT '',
    province_codes   TEXT[] NOT NULL DEFAULT '{}',
    publish_at       TIMESTAMPTZ NOT NULL,
    expires_at       TIMESTAMPTZ,
    -- The publishing structure (INPS for the central ones) and the person.
    publisher_office TEXT NOT NULL,
    publisher_name   TEXT NOT NULL,
    published_by     TEXT NOT NULL,
    correction_note  TEXT NOT NULL DEFAULT '',
    idempotency_key  TEXT,
    created_at       TIMESTAMPTZ NOT NULL,
    delivered_at     TIMESTAMPTZ,
    withdrawn_at     TIMESTAMPTZ,
    withdrawn_by     TEXT NOT NULL DEFAULT '',
    withdrawn_reason TEXT NOT NULL DEFAULT '',
    -- The event id the withdrawal's notices go under (one per withdrawal).
    withdrawal_event_id UUID,
    -- Italian text search: the title weighs more than the text.
    search           TSVECTOR GENERATED ALWAYS AS (
                         setweight(to_tsvector('italian', title), 'A') ||
                         setweight(to_tsvector('italian', body), 'B')) STORED,
    UNIQUE (series_id, version),
    CHECK (scope <> 'region' OR region_code <> ''),
    CHECK (scope <> 'provinces' OR cardinality(province_codes) > 0)
);
CREATE INDEX avvisi_search ON avvisi USING GIN (search);
CREATE INDEX avvisi_current ON avvisi (publish_at DESC, id DESC) WHERE superseded_by IS NULL;
CREATE INDEX avvisi_by_publisher ON avvisi (publisher_office, publish_at DESC, id DESC);
CREATE UNIQUE INDEX avvisi_idempotency ON avvisi (publisher_office, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- Files uploaded for avvisi (the bytes in the shared store); tied to versions below.
CREATE TABLE avviso_files (
    id               UUID PRIMARY KEY,
    object_key       TEXT NOT NULL,
    sha256           TEXT NOT NULL,
    size_bytes       BIGINT NOT NULL,
    media_type       TEXT NOT NULL,
    file_name        TEXT NOT NULL,
    publisher_office TEXT NOT NULL,
    uploaded_by      TEXT NOT NULL,
    uploaded_at      TIMESTAMPTZ NOT NULL
);
CREATE TABLE avviso_version_files (
    avviso_id UUID NOT NULL REFERENCES avvisi (id),
    file_id   UUID NOT NULL REFERENCES avviso_files (id),
    position  INTEGER NOT NULL,
    PRIMARY KEY (avviso_id, file_id)
);
CREATE INDEX avviso_version_files_by_file ON avviso_version_files (file_id);

-- The offices each version's notices went to (the audience as it was when delivered).
CREATE TABLE avviso_recipients (
    avviso_id UUID NOT NULL REFERENCES avvisi (id),
    office    TEXT NOT NULL,
    patronato TEXT NOT NULL,
    PRIMARY KEY (avviso_id, office)
);

-- Who read which version: each reader once, with their patronato and office ('' for a
-- supervisore, who reads for no one office).
CREATE TABLE avviso_reads (
    avviso_id UUID NOT NULL REFERENCES avvisi (id),
    reader    TEXT NOT NULL,
    patronato TEXT NOT NULL,
    office    TEXT NOT NULL,
    read_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (avviso_id, reader)
);
CREATE INDEX avviso_reads_by_reader ON avviso_reads (reader, avviso_id);

-- Where patronato offices are: imported by an admin, or learned from the requests they file
-- (the province most of their routing decisions went to; see patronato_office_sightings).
CREATE TABLE patronato_offices (
    office        TEXT PRIMARY KEY,
    patronato     TEXT NOT NULL,
    province_code TEXT NOT NULL,
    region_code   TEXT NOT NULL,
    source        TEXT NOT NULL CHECK (source IN ('import', 'learned')),
    updated_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX patronato_offices_by_place ON patronato_offices (region_code, province_code);
CREATE INDEX patronato_offices_by_patronato ON patronato_offices (patronato);

-- Each office's routing decisions counted by the province of the INPS office they went to.
CREATE TABLE patronato_office_sightings (
    office        TEXT NOT NULL,
    province_code TEXT NOT NULL,
    patronato     TEXT NOT NULL,
    region_code   TEXT NOT NULL,
    requests      INTEGER NOT NULL,
    last_seen     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (office, province_code)
);

-- Notices about an avviso say which.
ALTER TABLE notifications ADD COLUMN avviso_id UUID;
