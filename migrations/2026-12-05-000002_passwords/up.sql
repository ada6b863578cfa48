-- Email and password accounts: a password (argon2id, PHC string), when the email
-- was proven, and the per-account slow-down after failed sign-ins.
ALTER TABLE users
    ADD COLUMN password_hash TEXT,
    ADD COLUMN email_verified_at TIMESTAMPTZ,
    ADD COLUMN failed_sign_ins INTEGER NOT NULL DEFAULT 0 CHECK (failed_sign_ins >= 0),
    ADD COLUMN sign_in_delayed_until TIMESTAMPTZ;

-- Every account so far came from Google (which verified the email) or from an
-- admin's `booster user create`: all are verified.
UPDATE users SET email_verified_at = created_at;

-- Single-use links mailed to a user: verify the email, reset the password. Only
-- the SHA-256 of the token is kept, as for sessions.
CREATE TABLE account_tokens (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose TEXT NOT NULL CHECK (purpose IN ('VERIFY_EMAIL', 'RESET_PASSWORD')),
    token_hash BYTEA NOT NULL UNIQUE,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX account_tokens_user_idx ON account_tokens (user_id, purpose);

-- Every sign-in attempt, kept for SIGN_IN_HISTORY_DAYS. `user_id` is NULL when
-- the email named no account.
CREATE TABLE sign_ins (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT REFERENCES users (id) ON DELETE CASCADE,
    method TEXT NOT NULL CHECK (method IN ('PASSWORD', 'GOOGLE')),
    succeeded BOOLEAN NOT NULL,
    failure TEXT,
    ip_address TEXT,
    user_agent TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX sign_ins_user_idx ON sign_ins (user_id, id DESC);
CREATE INDEX sign_ins_created_idx ON sign_ins (created_at);
