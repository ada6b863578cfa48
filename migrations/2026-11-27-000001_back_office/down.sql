DROP INDEX users_created_idx;
ALTER TABLE users DROP COLUMN admin_note;
DROP INDEX deposits_paid_idx;
ALTER TABLE deposits DROP COLUMN resolution_note, DROP COLUMN resolved_at,
    DROP COLUMN resolved_by, DROP COLUMN resolution;
DROP INDEX ledger_entries_created_idx;
DROP INDEX ledger_entries_manual_refund_once;
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_kind_check;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_kind_check
    CHECK (kind IN ('DEPOSIT', 'ORDER_CHARGE', 'REFUND', 'ADJUSTMENT'));
DROP INDEX orders_created_idx;
ALTER TABLE orders DROP COLUMN provider_cost, DROP COLUMN provider_exchange_rate,
    DROP COLUMN provider_rate;
DROP TABLE admin_audit_log;
DROP FUNCTION admin_audit_log_append_only();
