DROP TABLE bank_mutations;
DROP TABLE voucher_redemptions;
DROP INDEX ledger_entries_once_per_deposit;
CREATE UNIQUE INDEX ledger_entries_once_per_deposit ON ledger_entries (kind, deposit_id)
    WHERE deposit_id IS NOT NULL AND kind = 'DEPOSIT';
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_kind_check;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_kind_check
    CHECK (kind IN ('DEPOSIT', 'ORDER_CHARGE', 'REFUND', 'ADJUSTMENT', 'MANUAL_REFUND'));
DROP TABLE deposit_proofs;
DROP INDEX deposits_open_payable_once;
DROP TRIGGER deposits_default_payable ON deposits;
DROP FUNCTION deposits_default_payable();
ALTER TABLE deposits DROP CONSTRAINT deposits_manual_has_method;
ALTER TABLE deposits
    DROP COLUMN method_id, DROP COLUMN payable_amount, DROP COLUMN unique_code,
    DROP COLUMN qris_payload, DROP COLUMN customer_note, DROP COLUMN voucher_id,
    DROP COLUMN bonus_amount;
ALTER TABLE deposits DROP CONSTRAINT deposits_gateway_check;
ALTER TABLE deposits ADD CONSTRAINT deposits_gateway_check CHECK (gateway IN ('MIDTRANS', 'XENDIT'));
DROP TABLE vouchers;
DROP TABLE deposit_bonus_rules;
DROP TABLE deposit_methods;
