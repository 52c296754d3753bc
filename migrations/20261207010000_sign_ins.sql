-- Accounts II (issues 21.5, 21.6, 25.10): sign-ins that can be ended, disabled accounts,
-- one-time password-reset links, and jobs that go with their owner.

-- One row per sign-in (a login on one device). Access tokens carry its id as `sid` and are
-- refused once it is revoked (the gateway caches the answer for SIGN_IN_CHECK_SECS); the
-- refresh-token family of the login is the same id.
CREATE TABLE sign_ins (
    id           uuid PRIMARY KEY,
    user_id      uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    -- The User-Agent of the login, cut to 300 characters: how a person tells devices apart.
    user_agent   text,
    revoked_at   timestamptz
);
CREATE INDEX ix_sign_ins_user ON sign_ins (user_id, last_seen_at DESC);

-- Refresh-token families from before become sign-ins, so nobody is signed out by the upgrade.
INSERT INTO sign_ins (id, user_id, created_at, last_seen_at, revoked_at)
SELECT family_id, (array_agg(user_id))[1], min(created_at), max(created_at),
       CASE WHEN bool_and(revoked_at IS NOT NULL) THEN max(revoked_at) END
  FROM refresh_tokens GROUP BY family_id
ON CONFLICT (id) DO NOTHING;

ALTER TABLE refresh_tokens
    ADD CONSTRAINT refresh_tokens_sign_in_fkey
    FOREIGN KEY (family_id) REFERENCES sign_ins (id) ON DELETE CASCADE;

-- An account an admin disabled: no login, no refresh, no token or key accepted.
ALTER TABLE users ADD COLUMN disabled_at timestamptz;

-- One-time password-reset links an admin issues: stored as SHA-256 of a 256-bit random
-- secret, used once, expiring.
CREATE TABLE password_resets (
    id          uuid PRIMARY KEY,
    user_id     uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash  bytea       NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX ix_password_resets_user ON password_resets (user_id);

-- Deleting an account deletes its jobs (ON DELETE SET NULL left ownerless jobs nobody could
-- see or delete). Jobs already ownerless are removed.
DELETE FROM batch_jobs WHERE user_id IS NULL;
ALTER TABLE batch_jobs DROP CONSTRAINT IF EXISTS batch_jobs_user_id_fkey;
ALTER TABLE batch_jobs
    ADD CONSTRAINT batch_jobs_user_id_fkey
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;
