-- Drip-feed run by the panel: for services whose provider does not run drip-feed
-- (MedanPedia-style APIs) or where the admin prefers it, booster places each run
-- as a child order of its own through the normal dispatch path.

-- The admin's switch: drip-feed orders on this service are run by the panel (and
-- the service offers drip-feed even when its provider does not).
ALTER TABLE services ADD COLUMN dripfeed_by_panel boolean NOT NULL DEFAULT false;

-- The plan of a drip-feed order the panel runs, and how far it has got.
CREATE TABLE drip_feeds (
    order_id bigint PRIMARY KEY REFERENCES orders (id),
    runs integer NOT NULL CHECK (runs BETWEEN 2 AND 1000),
    interval_minutes integer NOT NULL CHECK (interval_minutes BETWEEN 1 AND 10080),
    quantity_per_run bigint NOT NULL CHECK (quantity_per_run > 0),
    -- What the customer paid for the whole feed. The order's own `charge` is what
    -- is left for the runs not placed yet: each run takes its share with it.
    total_charge bigint NOT NULL CHECK (total_charge >= 0),
    runs_placed integer NOT NULL DEFAULT 0,
    -- When the next run is due; NULL once every run is placed or the feed stopped.
    next_run_at timestamptz,
    -- When the customer (or an admin) canceled the runs not yet placed.
    stopped_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (runs_placed BETWEEN 0 AND runs),
    CHECK (next_run_at IS NULL OR (runs_placed < runs AND stopped_at IS NULL))
);

CREATE INDEX drip_feeds_due ON drip_feeds (next_run_at) WHERE next_run_at IS NOT NULL;

-- A run is an order of its own (dispatched, synced, settled and refunded like any
-- other); this says whose run it is. The primary key and the unique pair make a
-- run exactly once: one order per run number, whatever crashes or concurrent
-- workers do.
CREATE TABLE drip_feed_runs (
    order_id bigint PRIMARY KEY REFERENCES orders (id),
    parent_order_id bigint NOT NULL REFERENCES drip_feeds (order_id),
    run_number integer NOT NULL CHECK (run_number >= 1),
    UNIQUE (parent_order_id, run_number)
);
