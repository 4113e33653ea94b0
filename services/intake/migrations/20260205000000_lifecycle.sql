-- The request's state follows the owner's per-request sequence (router's first decision 1,
-- office-queue's steps higher): a state change applies only when newer than the one held,
-- whatever order the events arrive in.
ALTER TABLE requests ADD COLUMN state_sequence BIGINT NOT NULL DEFAULT 0;
UPDATE requests SET state_sequence = 1 WHERE decision_sequence > 0;

-- Every event is kept in the history, once (by its id), ordered by when it happened and then
-- by its sequence, so the history reads the same whatever the arrival order.
ALTER TABLE request_history
    ADD COLUMN event_id UUID,
    ADD COLUMN sequence BIGINT NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX request_history_event ON request_history (event_id) WHERE event_id IS NOT NULL;
DROP INDEX request_history_one_entry_per_decision;
DROP INDEX request_history_request;
CREATE INDEX request_history_request ON request_history (request_id, at, sequence, id);
