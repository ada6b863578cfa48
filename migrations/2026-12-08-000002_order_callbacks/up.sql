-- Signed webhooks for resellers: a customer's callback URL and signing secret,
-- and an outbox of deliveries written in the same transaction as each status
-- change, sent by a job (never inside a transaction), at least once, in order per
-- order.

CREATE TABLE order_callbacks (
    user_id bigint PRIMARY KEY REFERENCES users (id),
    url text NOT NULL CHECK (length(url) <= 2048),
    -- The Standard Webhooks secret (`whsec_...`), AES-256-GCM under BOOSTER_SECRET_KEY.
    secret_encrypted bytea NOT NULL,
    -- Set when deliveries kept failing; no delivery is attempted until the owner
    -- sets the URL again.
    paused_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE callback_deliveries (
    id bigserial PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES users (id),
    order_id bigint NOT NULL REFERENCES orders (id),
    -- One delivery per status change, whatever retries the writer makes.
    event_id bigint NOT NULL UNIQUE REFERENCES order_events (id),
    status text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'DELIVERED', 'FAILED')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    lease_until timestamptz,
    last_status_code integer,
    last_error text CHECK (length(last_error) <= 500),
    delivered_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- The claim: pending deliveries, oldest first, the earliest of each order.
CREATE INDEX callback_deliveries_pending ON callback_deliveries (order_id, id)
    WHERE status = 'PENDING';
CREATE INDEX callback_deliveries_by_user ON callback_deliveries (user_id, id);
