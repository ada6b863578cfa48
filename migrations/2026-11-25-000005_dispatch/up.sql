-- Automatic dispatch to providers, status synchronisation, provider health and
-- notifications.

ALTER TABLE orders
    -- The provider service the order is (or will be) sent to; a fallback may change it.
    ADD COLUMN provider_service_id TEXT,
    ADD COLUMN submit_attempts INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN next_attempt_at TIMESTAMPTZ,
    ADD COLUMN submitted_at TIMESTAMPTZ,
    ADD COLUMN last_synced_at TIMESTAMPTZ,
    ADD COLUMN last_error TEXT,
    ADD COLUMN fallback_used BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE orders o SET provider_service_id = s.provider_service_id FROM services s WHERE s.id = o.service_id;
CREATE INDEX orders_dispatch_idx ON orders (provider_id, id) WHERE status = 'PENDING';
CREATE INDEX orders_open_idx ON orders (provider_id, last_synced_at NULLS FIRST) WHERE status IN ('PROCESSING', 'IN_PROGRESS');
CREATE INDEX orders_submitting_idx ON orders (submitted_at) WHERE status = 'SUBMITTING';

-- An alternative provider service to use when the service's provider refuses an order.
ALTER TABLE services ADD COLUMN fallback_service_id BIGINT REFERENCES services (id);

ALTER TABLE providers
    ADD COLUMN unhealthy_until TIMESTAMPTZ,
    ADD COLUMN consecutive_failures INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN last_success_at TIMESTAMPTZ,
    ADD COLUMN last_error TEXT,
    ADD COLUMN last_latency_ms INTEGER,
    ADD COLUMN balance NUMERIC(20, 6),
    ADD COLUMN balance_checked_at TIMESTAMPTZ,
    ADD COLUMN low_balance_threshold NUMERIC(20, 6);

-- One row per call to a provider, for latency and error rates; pruned after a day.
CREATE TABLE provider_calls (
    id BIGSERIAL PRIMARY KEY,
    provider_id BIGINT NOT NULL REFERENCES providers (id),
    action TEXT NOT NULL,
    ok BOOLEAN NOT NULL,
    latency_ms INTEGER NOT NULL,
    error TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX provider_calls_provider_idx ON provider_calls (provider_id, created_at DESC);

-- Messages for a user, or for the admins when user_id is null.
CREATE TABLE notifications (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT REFERENCES users (id),
    kind TEXT NOT NULL,
    message TEXT NOT NULL,
    order_id BIGINT REFERENCES orders (id),
    provider_id BIGINT REFERENCES providers (id),
    read_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX notifications_user_idx ON notifications (user_id, id DESC);
