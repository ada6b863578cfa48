ALTER TABLE users DROP COLUMN discount_bps;
