-- Every change to an item is a history entry; announcing each one at commit (in commit order)
-- lets WatchQueue stream an office's changes without polling.
CREATE FUNCTION item_history_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(
        'combipat_office_queue',
        json_build_object(
            'office', (SELECT office_code FROM items WHERE request_id = NEW.request_id),
            'request_id', NEW.request_id,
            'action', NEW.action,
            'history_id', NEW.id
        )::text
    );
    RETURN NULL;
END;
$$;

CREATE TRIGGER item_history_notify
    AFTER INSERT ON item_history
    FOR EACH ROW EXECUTE FUNCTION item_history_notify();
