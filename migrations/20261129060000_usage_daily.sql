-- Token usage per user and UTC day, counted from the usage the model service reports, for
-- `GET /api/v1/auth/me` and the optional daily quota (QUOTA_TOKENS_PER_DAY).
CREATE TABLE usage_daily (
    user_id            uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    day                date NOT NULL,
    prompt_tokens      bigint NOT NULL DEFAULT 0,
    completion_tokens  bigint NOT NULL DEFAULT 0,
    requests           bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, day)
);
