DROP INDEX IF EXISTS order_requests_by_order;
DROP INDEX IF EXISTS orders_active_by_link;
DROP INDEX IF EXISTS orders_active_link_once;
ALTER TABLE orders DROP COLUMN link_guard, DROP COLUMN scheduled_at, DROP COLUMN completed_at;
ALTER TABLE services DROP COLUMN same_link_guard, DROP COLUMN refill_cooldown_hours, DROP COLUMN refill_period_days;
