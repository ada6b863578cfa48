DROP TRIGGER IF EXISTS set_updated_at ON staff_roles;
