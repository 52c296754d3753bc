-- Importing the same chat file twice (issue 25, defect 4): an imported session keeps the
-- SHA-256 of what was imported (its canonical JSON, so whitespace and key order do not
-- matter); a second import of the same content by the same user finds it instead of making a
-- copy. Deleting the session forgets it, so the file can then be imported again.
ALTER TABLE chat_sessions ADD COLUMN import_sha256 bytea;

CREATE UNIQUE INDEX ux_chat_sessions_user_import ON chat_sessions (user_id, import_sha256)
    WHERE import_sha256 IS NOT NULL;
