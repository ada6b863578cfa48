-- Two-factor sign-in (TOTP, RFC 6238): the shared secret (encrypted with the
-- panel's key, like provider keys), when it was confirmed, and the last time
-- step accepted, so a code is accepted once.
ALTER TABLE users
    ADD COLUMN totp_secret_encrypted BYTEA,
    ADD COLUMN totp_enabled_at TIMESTAMPTZ,
    ADD COLUMN totp_last_step BIGINT;

-- One-time recovery codes, kept as SHA-256.
CREATE TABLE totp_recovery_codes (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash BYTEA NOT NULL,
    used_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (user_id, code_hash)
);
