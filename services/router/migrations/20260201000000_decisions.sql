-- One routing decision per request, kept so that every decision explains itself later.
CREATE TABLE routing_decisions (
    request_id       UUID PRIMARY KEY,
    protocol_number  TEXT NOT NULL,
    comune_residenza TEXT NOT NULL,
    topic            TEXT NOT NULL,
    motivo           INTEGER NOT NULL,
    -- NULL when no rule covers the request (request.unroutable was emitted).
    office_code      TEXT,
    ruleset_version  TEXT NOT NULL,
    rule             TEXT NOT NULL,
    decided_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX routing_decisions_office ON routing_decisions (office_code, decided_at);
