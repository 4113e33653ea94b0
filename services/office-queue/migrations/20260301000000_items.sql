-- One item per request filed in an office's queue.
CREATE TABLE items (
    request_id      UUID PRIMARY KEY,
    protocol_number TEXT NOT NULL,
    office_code     TEXT NOT NULL,
    motivo          INTEGER NOT NULL,
    topic           TEXT NOT NULL,
    subject         TEXT NOT NULL,
    -- Every item from this channel comes from a patronato; offices also get other work.
    provenance      TEXT NOT NULL DEFAULT 'PATRONATO',
    patronato       TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'NEW',
    submitted_at    TIMESTAMPTZ NOT NULL,
    filed_at        TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    -- The ListItems cursor. Writers to one office hold an advisory lock on the office code
    -- while they insert, so within an office `seq` follows commit order and a page that has
    -- been read never gains an item before its end.
    seq             BIGSERIAL UNIQUE,
    ruleset_version TEXT NOT NULL,
    rule            TEXT NOT NULL
);

CREATE INDEX items_office_seq ON items (office_code, seq);
