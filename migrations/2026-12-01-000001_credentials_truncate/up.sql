-- TRUNCATE fires no row trigger: without these a truncated sessions, api_keys or
-- users table left cached credentials alive until their refresh. The notice
-- carries 0 (`events::EVERY_USER`): every process forgets every cached credential
-- and every open socket re-checks its own.
CREATE FUNCTION notify_every_credential_changed() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('booster_credentials', '0');
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER sessions_credentials_truncated
    AFTER TRUNCATE ON sessions FOR EACH STATEMENT
    EXECUTE FUNCTION notify_every_credential_changed();
CREATE TRIGGER api_keys_credentials_truncated
    AFTER TRUNCATE ON api_keys FOR EACH STATEMENT
    EXECUTE FUNCTION notify_every_credential_changed();
CREATE TRIGGER users_credentials_truncated
    AFTER TRUNCATE ON users FOR EACH STATEMENT
    EXECUTE FUNCTION notify_every_credential_changed();
