-- Orders, their status history, mass orders, the panel's own stock, and customer
-- cancel/refill requests.

CREATE TABLE mass_orders (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id),
    order_count INTEGER NOT NULL,
    rejected_count INTEGER NOT NULL DEFAULT 0,
    total_charge BIGINT NOT NULL CHECK (total_charge >= 0),
    all_or_nothing BOOLEAN NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX mass_orders_user_idx ON mass_orders (user_id, id DESC);

CREATE TABLE orders (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id),
    service_id BIGINT NOT NULL REFERENCES services (id),
    mass_order_id BIGINT REFERENCES mass_orders (id),
    link TEXT NOT NULL,
    quantity BIGINT NOT NULL CHECK (quantity > 0),
    -- The price and charge the order was sold at: later price changes never touch it.
    price_per_1000 BIGINT NOT NULL CHECK (price_per_1000 >= 0),
    charge BIGINT NOT NULL CHECK (charge >= 0),
    status TEXT NOT NULL CHECK (status IN ('PENDING', 'SUBMITTING', 'PROCESSING', 'IN_PROGRESS',
        'COMPLETED', 'PARTIAL', 'CANCELED', 'FAILED', 'NEEDS_REVIEW')),
    -- The type-specific fields (comments, usernames, runs, interval, ...) under their
    -- API v2 names, forwarded as-is to the provider.
    extra JSONB NOT NULL DEFAULT '{}',
    start_count BIGINT,
    remains BIGINT,
    provider_id BIGINT REFERENCES providers (id),
    provider_order_id TEXT,
    refunded BIGINT NOT NULL DEFAULT 0 CHECK (refunded >= 0 AND refunded <= charge),
    idempotency_key TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (user_id, idempotency_key)
);
CREATE INDEX orders_user_idx ON orders (user_id, id DESC);
CREATE INDEX orders_status_idx ON orders (status, id);
CREATE INDEX orders_mass_order_idx ON orders (mass_order_id) WHERE mass_order_id IS NOT NULL;
SELECT diesel_manage_updated_at('orders');

CREATE TABLE order_events (
    id BIGSERIAL PRIMARY KEY,
    order_id BIGINT NOT NULL REFERENCES orders (id),
    status TEXT NOT NULL,
    start_count BIGINT,
    remains BIGINT,
    note TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX order_events_order_idx ON order_events (order_id, id);

CREATE TABLE order_requests (
    id BIGSERIAL PRIMARY KEY,
    order_id BIGINT NOT NULL REFERENCES orders (id),
    kind TEXT NOT NULL CHECK (kind IN ('CANCEL', 'REFILL')),
    status TEXT NOT NULL CHECK (status IN ('PENDING', 'SUBMITTED', 'ACCEPTED', 'REJECTED', 'COMPLETED')),
    provider_ref TEXT,
    note TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- One open request of each kind per order.
CREATE UNIQUE INDEX order_requests_open_idx ON order_requests (order_id, kind)
    WHERE status IN ('PENDING', 'SUBMITTED', 'ACCEPTED');
SELECT diesel_manage_updated_at('order_requests');

-- Own stock (e.g. Twitter accounts): one item per row, encrypted like provider keys;
-- content_hash (SHA-256) refuses duplicate uploads.
CREATE TABLE stock_items (
    id BIGSERIAL PRIMARY KEY,
    service_id BIGINT NOT NULL REFERENCES services (id),
    content_encrypted BYTEA NOT NULL,
    content_hash BYTEA NOT NULL,
    order_id BIGINT REFERENCES orders (id),
    sold_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (service_id, content_hash)
);
CREATE INDEX stock_items_unsold_idx ON stock_items (service_id, id) WHERE order_id IS NULL;
CREATE INDEX stock_items_order_idx ON stock_items (order_id) WHERE order_id IS NOT NULL;

ALTER TABLE ledger_entries
    ADD CONSTRAINT ledger_entries_order_fk FOREIGN KEY (order_id) REFERENCES orders (id),
    ADD CONSTRAINT ledger_entries_mass_order_fk FOREIGN KEY (mass_order_id) REFERENCES mass_orders (id);
