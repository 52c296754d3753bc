-- The reference schema (contract §12), with the duplicate users.email index dropped and the
-- indexes the API's queries need.

CREATE TABLE users (
    id           uuid PRIMARY KEY,
    email        varchar(320) NOT NULL UNIQUE,
    display_name varchar(120),
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- Every request is attributed to this user until accounts exist.
INSERT INTO users (id, email, display_name)
VALUES ('00000000-0000-0000-0000-000000000001', 'default@prodigon.local', 'Default User')
ON CONFLICT (id) DO NOTHING;

CREATE TABLE chat_sessions (
    id            uuid PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title         varchar(200) NOT NULL DEFAULT 'New Chat',
    system_prompt text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Session list: the caller's sessions, newest-updated first.
CREATE INDEX ix_chat_sessions_user_updated ON chat_sessions (user_id, updated_at DESC, id DESC);

CREATE TABLE chat_messages (
    id         uuid PRIMARY KEY,
    session_id uuid NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
    role       varchar(20) NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
    content    text NOT NULL,
    meta       jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Messages of a session in order.
CREATE INDEX ix_chat_messages_session_created ON chat_messages (session_id, created_at);

CREATE TABLE batch_jobs (
    id                uuid PRIMARY KEY,
    user_id           uuid REFERENCES users (id) ON DELETE SET NULL,
    status            varchar(20) NOT NULL DEFAULT 'pending',
    model             varchar(200),
    max_tokens        integer NOT NULL DEFAULT 1024,
    prompts           jsonb NOT NULL,
    results           jsonb NOT NULL DEFAULT '[]'::jsonb,
    total_prompts     integer NOT NULL,
    completed_prompts integer NOT NULL DEFAULT 0,
    error             text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    completed_at      timestamptz
);

CREATE INDEX ix_batch_jobs_user_created ON batch_jobs (user_id, created_at DESC);
CREATE INDEX ix_batch_jobs_status_created ON batch_jobs (status, created_at);
