-- Issue 25, features 11 and 13: folders of chats, and read-only share links.

-- A user's folders. A folder may carry a default system prompt and model for the chats
-- created in it (copied into the new session: changing the folder later does not rewrite
-- existing chats).
CREATE TABLE chat_folders (
    id            uuid PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          varchar(100) NOT NULL,
    system_prompt text,
    model         text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    -- The target of chat_sessions' (folder_id, user_id) key below.
    UNIQUE (id, user_id)
);
CREATE INDEX ix_chat_folders_user ON chat_folders (user_id, created_at);

-- A session's folder. The key includes user_id, so the database itself refuses a session in
-- another user's folder; deleting a folder puts its chats back to "no folder" (only
-- folder_id is cleared, PostgreSQL 15's column list).
ALTER TABLE chat_sessions ADD COLUMN folder_id uuid;
ALTER TABLE chat_sessions ADD CONSTRAINT fk_chat_sessions_folder
    FOREIGN KEY (folder_id, user_id) REFERENCES chat_folders (id, user_id)
    ON DELETE SET NULL (folder_id);
CREATE INDEX ix_chat_sessions_folder ON chat_sessions (folder_id) WHERE folder_id IS NOT NULL;

-- Share links. Only the SHA-256 of the token is stored (the token is 256 random bits, so a
-- fast hash suffices and a leaked table gives no working links); lookups go by that digest.
-- `snapshot` is the shared chat as of sharing ({title, messages: [{role, content, meta,
-- created_at}]}): later messages, branches and continued answers are not visible through it.
-- One live link per session (a new share revokes the previous one); revoked rows stay for
-- the record and never answer again.
CREATE TABLE chat_shares (
    id           uuid PRIMARY KEY,
    session_id   uuid NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
    token_digest bytea NOT NULL UNIQUE,
    snapshot     jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);
CREATE UNIQUE INDEX ux_chat_shares_live ON chat_shares (session_id) WHERE revoked_at IS NULL;
