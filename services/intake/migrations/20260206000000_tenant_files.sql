-- A patronato office belongs to one patronato: a file is kept with both, so that two
-- patronati whose identity providers issue the same office code never see each other's.
ALTER TABLE attachments ADD COLUMN patronato TEXT;
UPDATE attachments a SET patronato = r.patronato FROM requests r WHERE r.id = a.request_id;

-- Uploads never sent with a message are deleted after a day; idempotency keys after their
-- window. Both sweeps walk these indexes.
CREATE INDEX attachments_unsent ON attachments (uploaded_at) WHERE request_id IS NULL;
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
