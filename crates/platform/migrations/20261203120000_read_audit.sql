-- Who read which citizen's data: a row per request shown to a person, written in the call
-- that showed it (services' own tokens are not recorded). Listed by citizen or by reader,
-- newest first; kept for `audit.retention_days`, then swept.
CREATE TABLE platform_read_audit (
    id             BIGSERIAL PRIMARY KEY,
    at             TIMESTAMPTZ NOT NULL DEFAULT now(),
    reader         TEXT NOT NULL,
    role           TEXT NOT NULL,
    organisation   TEXT NOT NULL,
    call           TEXT NOT NULL,
    request_id     UUID NOT NULL,
    codice_fiscale TEXT NOT NULL,
    detail         TEXT NOT NULL DEFAULT ''
);

CREATE INDEX platform_read_audit_citizen ON platform_read_audit (codice_fiscale, id DESC);
CREATE INDEX platform_read_audit_reader ON platform_read_audit (reader, id DESC);
CREATE INDEX platform_read_audit_at ON platform_read_audit (at);
