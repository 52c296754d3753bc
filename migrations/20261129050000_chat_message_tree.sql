-- Branches (issue 15.3): a session's messages form a tree. Each message names its parent (the
-- message it follows; NULL for a first message) and its depth (1 for a first message), and
-- the session names the leaf of its active path. Editing a message or regenerating an answer
-- adds a sibling (same parent) instead of deleting the rest; `GET /sessions/{id}`, export and
-- the context given to the model follow the active path, leaf to root.
--
-- `message_count` now means the length of the active path (= the active leaf's depth), which
-- is what `GET /sessions/{id}` returns; for a chat without branches nothing changes.

ALTER TABLE chat_messages
    ADD COLUMN parent_id uuid REFERENCES chat_messages (id) ON DELETE CASCADE,
    ADD COLUMN depth integer NOT NULL DEFAULT 1;
-- No foreign key: a session and its messages are deleted together, and a dangling leaf would
-- only mean an empty path.
ALTER TABLE chat_sessions ADD COLUMN active_leaf_id uuid;

-- Existing conversations become a single chain in their (created_at, seq) order, active to
-- their last message.
WITH ordered AS (
    SELECT id,
           lag(id) OVER w AS parent_id,
           row_number() OVER w AS depth
    FROM chat_messages
    WINDOW w AS (PARTITION BY session_id ORDER BY created_at, seq)
)
UPDATE chat_messages m
SET parent_id = o.parent_id, depth = o.depth
FROM ordered o
WHERE o.id = m.id;

UPDATE chat_sessions s
SET active_leaf_id = last.id, message_count = last.depth
FROM (
    SELECT DISTINCT ON (session_id) session_id, id, depth
    FROM chat_messages
    ORDER BY session_id, created_at DESC, seq DESC
) last
WHERE last.session_id = s.id;

-- Children of a message in order (siblings, the newest leaf below a message), and a session's
-- first messages.
CREATE INDEX ix_chat_messages_parent ON chat_messages (parent_id, created_at, seq);
CREATE INDEX ix_chat_messages_roots ON chat_messages (session_id, created_at, seq)
    WHERE parent_id IS NULL;
