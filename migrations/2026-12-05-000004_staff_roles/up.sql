-- Staff roles: OWNER can do everything (today's admins become owners); STAFF can
-- do what their staff role's permissions name. Owners define staff roles from a
-- fixed set of permissions, named after the admin areas.
CREATE TABLE staff_roles (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE CHECK (char_length(name) BETWEEN 1 AND 64),
    permissions TEXT[] NOT NULL DEFAULT '{}' CHECK (permissions <@ ARRAY[
        'CATALOG', 'PROVIDERS', 'ORDERS', 'ORDERS_READ', 'REFUNDS', 'BALANCES',
        'DEPOSITS', 'USERS', 'SUPPORT', 'CONTENT', 'REPORTS', 'SETTINGS',
        'AUDIT_LOG', 'STAFF'
    ]::text[]),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The suggested roles; owners may change or add to them.
INSERT INTO staff_roles (name, permissions) VALUES
    ('SUPPORT', ARRAY['SUPPORT', 'ORDERS_READ']),
    ('FINANCE', ARRAY['DEPOSITS', 'REFUNDS', 'BALANCES', 'REPORTS']),
    ('CONTENT', ARRAY['CONTENT']);

ALTER TABLE users DROP CONSTRAINT users_role_check;
UPDATE users SET role = 'OWNER' WHERE role = 'ADMIN';
ALTER TABLE users
    ADD COLUMN staff_role_id BIGINT REFERENCES staff_roles (id),
    ADD CONSTRAINT users_role_check CHECK (role IN ('OWNER', 'STAFF', 'CUSTOMER')),
    -- Staff have a staff role; nobody else does.
    ADD CONSTRAINT users_staff_role_check CHECK ((role = 'STAFF') = (staff_role_id IS NOT NULL));

-- The actor's role when an admin write was made ('OWNER', or 'STAFF:' and the
-- staff role's name), filled in by the database whoever writes the entry.
ALTER TABLE admin_audit_log ADD COLUMN actor_role TEXT;

CREATE FUNCTION fill_audit_actor_role() RETURNS trigger AS $$
BEGIN
    SELECT CASE WHEN u.role = 'STAFF' THEN 'STAFF:' || r.name ELSE u.role END
      INTO NEW.actor_role
      FROM users u LEFT JOIN staff_roles r ON r.id = u.staff_role_id
     WHERE u.id = NEW.admin_id;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER admin_audit_log_actor_role
    BEFORE INSERT ON admin_audit_log
    FOR EACH ROW EXECUTE FUNCTION fill_audit_actor_role();

-- A staff role's permissions are part of every credential of its members: a
-- change announces every user (0), so caches forget and sockets re-check at once.
CREATE FUNCTION notify_staff_roles_changed() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('booster_credentials', '0');
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER staff_roles_changed
    AFTER UPDATE OR DELETE ON staff_roles
    FOR EACH STATEMENT EXECUTE FUNCTION notify_staff_roles_changed();
