-- A reseller's discount on list prices, in basis points (1000 = 10.00%), set by an
-- admin. Prices stay at or above the provider's cost whatever the discount.
ALTER TABLE users
    ADD COLUMN discount_bps integer NOT NULL DEFAULT 0
        CHECK (discount_bps BETWEEN 0 AND 10000);
