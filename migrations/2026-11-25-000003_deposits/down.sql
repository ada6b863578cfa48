DROP TABLE deposit_events;
DROP INDEX ledger_entries_deposit_idx;
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_deposit_id_fkey;
DROP TABLE deposits;
