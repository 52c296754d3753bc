-- Per-chat settings, pin and archive (issue 15.6). The model, temperature and max_tokens of a
-- chat are used when a generation names the session and the request does not set them; NULL
-- means "the request's or the server's default". Pinned and archived are flags for the UI's
-- list (filters `?pinned=` / `?archived=` on GET /api/v1/chat/sessions).
ALTER TABLE chat_sessions
    ADD COLUMN model text,
    ADD COLUMN temperature double precision,
    ADD COLUMN max_tokens integer,
    ADD COLUMN pinned boolean NOT NULL DEFAULT false,
    ADD COLUMN archived boolean NOT NULL DEFAULT false;
