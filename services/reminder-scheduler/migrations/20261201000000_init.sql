-- reminder-scheduler's own tables start here (the platform's come with every service).
SELECT 1;
