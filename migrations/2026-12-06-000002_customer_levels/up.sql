-- Customer levels (Member, Reseller, Agen...): a discount earned by total deposits
-- or total spent. A user's level and its discount are kept on the user row, so the
-- order path prices from the row it already has; a level's discount change is
-- written to its users in the same transaction.
CREATE TABLE customer_levels (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 50),
    discount_bps INT NOT NULL CHECK (discount_bps BETWEEN 0 AND 10000),
    basis TEXT NOT NULL CHECK (basis IN ('TOTAL_DEPOSITS', 'TOTAL_SPENT')),
    threshold BIGINT NOT NULL CHECK (threshold >= 0),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX customer_levels_name_key ON customer_levels (lower(name));
SELECT diesel_manage_updated_at('customer_levels');

ALTER TABLE users
    ADD COLUMN level_id BIGINT REFERENCES customer_levels (id),
    ADD COLUMN level_discount_bps INT NOT NULL DEFAULT 0
        CHECK (level_discount_bps BETWEEN 0 AND 10000),
    -- An admin chose the level: money moving may raise it, never lower it.
    ADD COLUMN level_set_by_admin BOOLEAN NOT NULL DEFAULT false;
