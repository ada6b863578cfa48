-- The back office: an append-only audit log of admin actions, what each order
-- cost at its provider (recorded at dispatch, so a later price change never
-- rewrites history), manual refunds, resolving flagged deposits, notes on users,
-- and the indexes the dashboard and reports aggregate with.

CREATE TABLE admin_audit_log (
    id BIGSERIAL PRIMARY KEY,
    admin_id BIGINT NOT NULL REFERENCES users (id),
    -- What was done, e.g. 'service.update', 'order.refund', 'deposit.resolve'.
    action TEXT NOT NULL CHECK (char_length(action) BETWEEN 1 AND 64),
    subject_type TEXT NOT NULL CHECK (char_length(subject_type) BETWEEN 1 AND 32),
    subject_id BIGINT,
    -- The subject before and after the change (secrets removed), or a summary for
    -- bulk actions.
    before JSONB,
    after JSONB,
    reason TEXT CHECK (reason IS NULL OR char_length(reason) <= 1000),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX admin_audit_log_created_idx ON admin_audit_log (id DESC);
CREATE INDEX admin_audit_log_subject_idx ON admin_audit_log (subject_type, subject_id, id DESC);
CREATE INDEX admin_audit_log_admin_idx ON admin_audit_log (admin_id, id DESC);

CREATE FUNCTION admin_audit_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'admin_audit_log is append-only';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER admin_audit_log_append_only
    BEFORE UPDATE OR DELETE ON admin_audit_log
    FOR EACH ROW EXECUTE FUNCTION admin_audit_log_append_only();

-- Provider cost, recorded when the provider accepts the order: its rate per 1000
-- (in the provider's currency), the exchange rate then, and the cost in rupiah.
ALTER TABLE orders
    ADD COLUMN provider_rate NUMERIC,
    ADD COLUMN provider_exchange_rate NUMERIC,
    ADD COLUMN provider_cost BIGINT CHECK (provider_cost IS NULL OR provider_cost >= 0);

-- Orders dispatched before this migration: the best figure there is, today's rates.
UPDATE orders o
SET provider_rate = s.provider_rate,
    provider_exchange_rate = p.exchange_rate,
    provider_cost = round(s.provider_rate * o.quantity / 1000 * p.exchange_rate)::bigint
FROM services s, providers p
WHERE o.provider_order_id IS NOT NULL
  AND s.provider_id = o.provider_id AND s.provider_service_id = o.provider_service_id
  AND p.id = o.provider_id;

-- Reports aggregate orders by the time they were placed.
CREATE INDEX orders_created_idx ON orders (created_at);

-- A manual refund by an admin: once per order, on top of (never beyond) what the
-- order's settlement refunded; orders.refunded <= charge still bounds the sum.
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_kind_check;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_kind_check
    CHECK (kind IN ('DEPOSIT', 'ORDER_CHARGE', 'REFUND', 'ADJUSTMENT', 'MANUAL_REFUND'));
CREATE UNIQUE INDEX ledger_entries_manual_refund_once ON ledger_entries (order_id)
    WHERE kind = 'MANUAL_REFUND';
CREATE INDEX ledger_entries_created_idx ON ledger_entries (created_at);

-- A flagged deposit an admin has looked at: credited or rejected, by whom, why
-- (resolving clears `flagged`; `flag_reason` stays as the history).
ALTER TABLE deposits
    ADD COLUMN resolution TEXT CHECK (resolution IN ('CREDITED', 'REJECTED')),
    ADD COLUMN resolved_by BIGINT REFERENCES users (id),
    ADD COLUMN resolved_at TIMESTAMPTZ,
    ADD COLUMN resolution_note TEXT;
CREATE INDEX deposits_paid_idx ON deposits (paid_at) WHERE status = 'PAID';

-- An admin's private note on a user; customers never see it.
ALTER TABLE users ADD COLUMN admin_note TEXT NOT NULL DEFAULT ''
    CHECK (char_length(admin_note) <= 4000);
CREATE INDEX users_created_idx ON users (created_at);
