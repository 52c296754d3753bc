-- Knowledge on a chat (issue 24): the files a chat answers from, as
-- {"collection_ids": [uuid…], "file_ids": [uuid…]}. NULL means none (answers are not grounded).
-- The ids are checked against the caller's files when set (the worker owns those tables, so
-- there is no foreign key); a file deleted later is skipped when the chat retrieves.
ALTER TABLE chat_sessions ADD COLUMN knowledge jsonb;
