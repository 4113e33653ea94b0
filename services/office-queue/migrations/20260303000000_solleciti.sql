-- Solleciti received for an item: they raise its priority.
ALTER TABLE items ADD COLUMN solleciti INTEGER NOT NULL DEFAULT 0;
