-- A patronato office's preferences are keyed by the pair PATRONATO/OFFICE: an office code is
-- unique only within its patronato, and two patronati that use the same code must not share
-- an e-mail address or muted kinds. Rows keyed by a code that the directory of patronato
-- offices knows move to the pair; the others (INPS offices) stay as they are.
UPDATE channel_preferences c
SET subject = o.patronato || '/' || c.subject
FROM patronato_offices o
WHERE c.scope = 'office' AND o.office = c.subject;

UPDATE preference_profiles p
SET subject = o.patronato || '/' || p.subject
FROM patronato_offices o
WHERE p.scope = 'office' AND o.office = p.subject;
