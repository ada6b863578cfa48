-- Measured service figures, from booster's own order history, computed by the
-- `service figures` job (never per request). Times in whole seconds; shares in
-- basis points (10000 = all).
CREATE TABLE service_figures (
    service_id BIGINT PRIMARY KEY REFERENCES services (id) ON DELETE CASCADE,
    -- Placement to first progress (IN_PROGRESS, COMPLETED or PARTIAL), over the
    -- orders placed in the window that got that far.
    start_p50_seconds BIGINT,
    start_p90_seconds BIGINT,
    started_orders INT NOT NULL DEFAULT 0,
    -- Placement to completion per 1000 units, averaged over the last 10
    -- COMPLETED orders placed in the window ("average time").
    seconds_per_1000 BIGINT,
    timed_orders INT NOT NULL DEFAULT 0,
    -- Of the orders placed in the window that ended, the share that ended
    -- PARTIAL or CANCELED.
    partial_or_canceled_bps INT,
    ended_orders INT NOT NULL DEFAULT 0,
    -- Refill requests per completed (or partial) order placed in the window.
    refill_requests_bps INT,
    window_days INT NOT NULL,
    computed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
