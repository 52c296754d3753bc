-- Chat persistence (issue 3): a stable message order, maintained message counts, and
-- full-text search over messages.

-- Message order. The reference ordered by created_at = now(), the transaction's start time, so
-- concurrent appends to one session could tie or come out inverted (contract §17.2). Every
-- append is now one statement that first updates (and so locks) the session row and only then
-- takes created_at from clock_timestamp() and seq from this identity. Appends to one session are
-- therefore serialised by that row lock and both columns follow commit order; (created_at, seq)
-- is the listing order, and seq alone makes it a total, repeatable order even if two
-- timestamps were ever equal (or the clock stepped back).
ALTER TABLE chat_messages ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY;

DROP INDEX IF EXISTS ix_chat_messages_session_created;
-- A session's messages in order (detail, export, context for generation).
CREATE INDEX ix_chat_messages_session_order ON chat_messages (session_id, created_at, seq);

-- Message counts. The reference counted with an unfiltered GROUP BY over every message on each
-- list request (contract §17.2). The count is now maintained by the same statement that inserts
-- a message (and bumps updated_at), so listing sessions reads one index range and nothing else.
-- Messages are only ever removed together with their session (ON DELETE CASCADE).
ALTER TABLE chat_sessions ADD COLUMN message_count integer NOT NULL DEFAULT 0;
UPDATE chat_sessions s
SET message_count = c.n
FROM (SELECT session_id, count(*) AS n FROM chat_messages GROUP BY session_id) c
WHERE c.session_id = s.id;

-- Search: an English tsvector kept by Postgres itself, with a GIN index for `@@`.
ALTER TABLE chat_messages
    ADD COLUMN search tsvector GENERATED ALWAYS AS (to_tsvector('english', content)) STORED;
CREATE INDEX ix_chat_messages_search ON chat_messages USING gin (search);

-- (The session list uses ix_chat_sessions_user_updated (user_id, updated_at DESC, id DESC)
-- from the initial schema, also for the keyset `before` cursor.)
