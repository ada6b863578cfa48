-- Refill warranties, the same-link guard and scheduled orders.

-- A service's refill warranty: days after completion during which a refill may
-- be asked for (0: no refill; NULL: the panel's REFILL_PERIOD_DAYS), hours
-- between two refills of one order (NULL: REFILL_COOLDOWN_HOURS), and whether
-- an order is refused while another active order of the caller runs on the
-- same link.
ALTER TABLE services
    ADD COLUMN refill_period_days INT CHECK (refill_period_days BETWEEN 0 AND 3650),
    ADD COLUMN refill_cooldown_hours INT CHECK (refill_cooldown_hours BETWEEN 0 AND 720),
    ADD COLUMN same_link_guard BOOLEAN NOT NULL DEFAULT TRUE;

-- completed_at: when the order reached COMPLETED or PARTIAL (the refill window
-- counts from it). scheduled_at: when a scheduled order is dispatched (it waits
-- PENDING until then). link_guard: the key of the same-link guard, set when the
-- guard applied at placement.
ALTER TABLE orders
    ADD COLUMN completed_at TIMESTAMPTZ,
    ADD COLUMN scheduled_at TIMESTAMPTZ,
    ADD COLUMN link_guard TEXT CHECK (char_length(link_guard) <= 2300);

UPDATE orders SET completed_at = updated_at WHERE status IN ('COMPLETED', 'PARTIAL');

-- One active order per customer and guard key: concurrent orders on one link
-- cannot both be placed, whatever the interleaving.
CREATE UNIQUE INDEX orders_active_link_once ON orders (user_id, link_guard)
    WHERE link_guard IS NOT NULL
      AND status IN ('PENDING', 'SUBMITTING', 'PROCESSING', 'IN_PROGRESS', 'NEEDS_REVIEW');

-- The refill rules look for a newer active order on the same link.
CREATE INDEX orders_active_by_link ON orders (link)
    WHERE status IN ('PENDING', 'SUBMITTING', 'PROCESSING', 'IN_PROGRESS', 'NEEDS_REVIEW');

-- An order's requests, read by the refill rules and the order's page.
CREATE INDEX order_requests_by_order ON order_requests (order_id, id);
