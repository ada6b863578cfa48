ALTER TABLE order_requests DROP COLUMN lease_until;
