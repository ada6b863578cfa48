DROP TABLE sign_ins;
DROP TABLE account_tokens;
ALTER TABLE users
    DROP COLUMN sign_in_delayed_until,
    DROP COLUMN failed_sign_ins,
    DROP COLUMN email_verified_at,
    DROP COLUMN password_hash;
