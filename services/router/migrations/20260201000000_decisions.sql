-- Office directories: each load is a ruleset version; one of them is active.
CREATE TABLE rulesets (
    version    TEXT PRIMARY KEY,
    source     TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    offices    INTEGER NOT NULL,
    poli       INTEGER NOT NULL,
    loaded_by  TEXT NOT NULL,
    loaded_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE active_ruleset (
    singleton    BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    version      TEXT NOT NULL REFERENCES rulesets (version),
    activated_by TEXT NOT NULL,
    activated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Every routing decision about a request, kept so that each explains itself later: the
-- automatic one (exactly one per request), then any transfers.
CREATE TABLE routing_decisions (
    sequence         BIGSERIAL PRIMARY KEY,
    request_id       UUID NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('automatic', 'transfer')),
    office_code      TEXT NOT NULL,
    office_name      TEXT NOT NULL,
    -- false: no rule covered the request; office_code is the fallback queue of its region.
    routed           BOOLEAN NOT NULL,
    ruleset_version  TEXT NOT NULL,
    rule             TEXT NOT NULL,
    explanation      TEXT NOT NULL,
    decided_by       TEXT NOT NULL,
    decided_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- The request as submitted (combipat.common.v1.RequestSummary), so a transfer can
    -- announce it again without asking intake.
    request          BYTEA NOT NULL
);

CREATE UNIQUE INDEX routing_decisions_one_automatic ON routing_decisions (request_id) WHERE kind = 'automatic';
CREATE INDEX routing_decisions_request ON routing_decisions (request_id, sequence);
