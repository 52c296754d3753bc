-- Accounts: passwords (argon2id PHC strings), roles, login lockout, refresh-token families and
-- API keys. Tokens and keys are high-entropy random strings, stored only as SHA-256 hashes.

ALTER TABLE users
    ADD COLUMN password_hash   text,
    ADD COLUMN role            text NOT NULL DEFAULT 'user' CHECK (role IN ('admin', 'user')),
    ADD COLUMN failed_logins   integer NOT NULL DEFAULT 0,
    ADD COLUMN failures_since  timestamptz,
    ADD COLUMN locked_until    timestamptz;

-- Emails compare case-insensitively. The seeded default user (AUTH_MODE=off) has no password
-- and cannot sign in.
CREATE UNIQUE INDEX ux_users_email_lower ON users (lower(email));

CREATE TABLE refresh_tokens (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- Every rotation stays in the family of the login that started it; presenting a token
    -- that was already used revokes the whole family (theft detection).
    family_id   uuid NOT NULL,
    token_hash  bytea NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    revoked_at  timestamptz
);
CREATE INDEX ix_refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX ix_refresh_tokens_user ON refresh_tokens (user_id);

CREATE TABLE api_keys (
    id            uuid PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          varchar(100) NOT NULL,
    -- The first characters of the key, shown in lists so people can tell keys apart.
    prefix        text NOT NULL,
    key_hash      bytea NOT NULL UNIQUE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    revoked_at    timestamptz
);
CREATE INDEX ix_api_keys_user ON api_keys (user_id, created_at DESC);
