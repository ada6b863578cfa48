-- The ledger: every balance change is one row, written in the same transaction as
-- the change to users.balance. Rows are never updated or deleted.
CREATE TABLE ledger_entries (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id),
    amount BIGINT NOT NULL CHECK (amount <> 0),
    balance_after BIGINT NOT NULL CHECK (balance_after >= 0),
    kind TEXT NOT NULL CHECK (kind IN ('DEPOSIT', 'ORDER_CHARGE', 'REFUND', 'ADJUSTMENT')),
    -- References to what caused the entry; the referenced tables arrive in later
    -- migrations, which add the foreign keys.
    order_id BIGINT,
    mass_order_id BIGINT,
    deposit_id BIGINT,
    actor_id BIGINT REFERENCES users (id),
    note TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX ledger_entries_user_idx ON ledger_entries (user_id, id DESC);

-- Exactly-once as a database fact: one charge and one refund per order, one charge
-- per mass order, one credit per deposit.
CREATE UNIQUE INDEX ledger_entries_once_per_order ON ledger_entries (kind, order_id)
    WHERE order_id IS NOT NULL AND kind IN ('ORDER_CHARGE', 'REFUND');
CREATE UNIQUE INDEX ledger_entries_once_per_mass_order ON ledger_entries (kind, mass_order_id)
    WHERE mass_order_id IS NOT NULL AND kind = 'ORDER_CHARGE';
CREATE UNIQUE INDEX ledger_entries_once_per_deposit ON ledger_entries (kind, deposit_id)
    WHERE deposit_id IS NOT NULL AND kind = 'DEPOSIT';

CREATE FUNCTION ledger_entries_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'ledger_entries is append-only';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER ledger_entries_append_only
    BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only();
