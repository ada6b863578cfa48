-- The catalogue page orders by category, then service: without an index on the
-- categories' order PostgreSQL joined and sorted every active service per page.
CREATE INDEX service_categories_display_idx ON service_categories (sort_order, id);

-- Processes cache credentials and the catalogue (`src/cache.rs`). Every change a
-- cache depends on announces itself here, whoever makes it (the API, a job, psql),
-- in the writing transaction, so it is delivered only if the change commits.

-- The id of a user whose credentials or account changed. A balance change is not
-- one: the caches never answer with a balance, and it changes with every order.
CREATE FUNCTION notify_credentials_changed() RETURNS trigger AS $$
DECLARE
    changed_user BIGINT;
BEGIN
    -- Each branch names only the columns its table has (PL/pgSQL resolves a
    -- record's fields when a statement runs).
    IF TG_TABLE_NAME = 'users' AND TG_OP = 'DELETE' THEN
        changed_user := OLD.id;
    ELSIF TG_TABLE_NAME = 'users' THEN
        changed_user := NEW.id;
    ELSIF TG_OP = 'DELETE' THEN
        changed_user := OLD.user_id;
    ELSE
        changed_user := NEW.user_id;
    END IF;
    PERFORM pg_notify('booster_credentials', changed_user::text);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER users_credentials_changed
    AFTER UPDATE ON users FOR EACH ROW
    WHEN ((to_jsonb(OLD) - 'balance' - 'updated_at') IS DISTINCT FROM (to_jsonb(NEW) - 'balance' - 'updated_at'))
    EXECUTE FUNCTION notify_credentials_changed();
CREATE TRIGGER users_credentials_deleted
    AFTER DELETE ON users FOR EACH ROW EXECUTE FUNCTION notify_credentials_changed();
CREATE TRIGGER api_keys_credentials_changed
    AFTER UPDATE OF revoked_at, user_id OR DELETE ON api_keys FOR EACH ROW
    EXECUTE FUNCTION notify_credentials_changed();
CREATE TRIGGER sessions_credentials_changed
    AFTER UPDATE OF revoked_at, expires_at, user_id OR DELETE ON sessions FOR EACH ROW
    EXECUTE FUNCTION notify_credentials_changed();

-- The catalogue changed: one notice per statement (PostgreSQL folds equal notices
-- of a transaction into one).
CREATE FUNCTION notify_catalog_changed() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('booster_catalog', '');
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER services_catalog_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON services
    FOR EACH STATEMENT EXECUTE FUNCTION notify_catalog_changed();
CREATE TRIGGER service_categories_catalog_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON service_categories
    FOR EACH STATEMENT EXECUTE FUNCTION notify_catalog_changed();
-- A provider's rate decides reseller prices; its health and balance do not.
CREATE TRIGGER providers_catalog_changed
    AFTER UPDATE OF exchange_rate, active OR DELETE ON providers
    FOR EACH STATEMENT EXECUTE FUNCTION notify_catalog_changed();
