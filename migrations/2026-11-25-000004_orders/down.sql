ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_order_fk, DROP CONSTRAINT ledger_entries_mass_order_fk;
DROP TABLE stock_items;
DROP TABLE order_requests;
DROP TABLE order_events;
DROP TABLE orders;
DROP TABLE mass_orders;
