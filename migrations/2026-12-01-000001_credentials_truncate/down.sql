DROP TRIGGER users_credentials_truncated ON users;
DROP TRIGGER api_keys_credentials_truncated ON api_keys;
DROP TRIGGER sessions_credentials_truncated ON sessions;
DROP FUNCTION notify_every_credential_changed();
