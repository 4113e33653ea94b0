-- The citizen and the text of the request, as the patronato filed them: an official cannot
-- answer without them. Items filed before keep empty values (their events did not carry the
-- text).
ALTER TABLE items
    ADD COLUMN codice_fiscale          TEXT NOT NULL DEFAULT '',
    ADD COLUMN comune_residenza        TEXT NOT NULL DEFAULT '',
    ADD COLUMN pratica_protocol_number TEXT NOT NULL DEFAULT '',
    ADD COLUMN patronato_office        TEXT NOT NULL DEFAULT '',
    ADD COLUMN body                    TEXT NOT NULL DEFAULT '';
