ALTER TABLE users DROP COLUMN level_id, DROP COLUMN level_discount_bps, DROP COLUMN level_set_by_admin;
DROP TABLE customer_levels;
