-- A claim of a cancel or refill request by the order-requests job lasts until
-- `lease_until`; NULL: never claimed. Without it a PENDING request could be claimed
-- by two workers one after the other and forwarded twice.
ALTER TABLE order_requests ADD COLUMN lease_until timestamptz;
