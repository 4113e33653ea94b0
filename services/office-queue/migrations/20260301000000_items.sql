-- One item per request filed in an office's queue.
CREATE TABLE items (
    request_id        UUID PRIMARY KEY,
    protocol_number   TEXT NOT NULL,
    office_code       TEXT NOT NULL,
    motivo            INTEGER NOT NULL,
    topic             TEXT NOT NULL,
    subject           TEXT NOT NULL,
    -- Every item from this channel comes from a patronato; offices also get other work.
    provenance        TEXT NOT NULL DEFAULT 'PATRONATO',
    patronato         TEXT NOT NULL,
    status            TEXT NOT NULL DEFAULT 'NEW',
    submitted_at      TIMESTAMPTZ NOT NULL,
    filed_at          TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    -- The ListItems cursor. Writers to one office hold an advisory lock on the office code
    -- while they file, so within an office `seq` follows commit order and a page that has
    -- been read never gains an item before its end. A transfer gives the item a new one.
    seq               BIGSERIAL UNIQUE,
    -- Router's decision this item follows; only a newer decision moves it (a transfer), so a
    -- late redelivery of an older one changes nothing.
    decision_sequence BIGINT NOT NULL,
    -- false: no routing rule covered the request; office_code is a regional fallback queue.
    routed            BOOLEAN NOT NULL,
    ruleset_version   TEXT NOT NULL,
    rule              TEXT NOT NULL
);

CREATE INDEX items_office_seq ON items (office_code, seq);
