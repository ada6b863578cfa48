-- Deposits: money paid in through a payment gateway (Midtrans Snap or a Xendit
-- invoice). A deposit is credited to the balance at most once (the DEPOSIT ledger
-- entry's unique index is the backstop; the row lock in domain::deposits is the rule).
CREATE TABLE deposits (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id),
    amount BIGINT NOT NULL CHECK (amount > 0),
    gateway TEXT NOT NULL CHECK (gateway IN ('MIDTRANS', 'XENDIT')),
    status TEXT NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'PAID', 'FAILED', 'EXPIRED')),
    -- Our reference at the gateway: Midtrans `order_id`, Xendit `external_id`.
    merchant_ref TEXT NOT NULL UNIQUE CHECK (length(merchant_ref) <= 50),
    -- The gateway's own id: Midtrans transaction_id (known once paid), Xendit invoice id.
    gateway_ref TEXT,
    -- Where the customer pays: Snap redirect_url or Xendit invoice_url.
    payment_url TEXT,
    snap_token TEXT,
    expires_at TIMESTAMPTZ NOT NULL,
    paid_at TIMESTAMPTZ,
    -- Needs an admin: amount mismatch, refund or chargeback after paid, reversed settlement.
    flagged BOOLEAN NOT NULL DEFAULT false,
    flag_reason TEXT,
    -- The last status the gateway reported, verbatim (e.g. `settlement`, `PAID`).
    gateway_status TEXT,
    failure_reason TEXT,
    -- Reconciliation lease: the poller skips the row until then.
    next_check_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((status = 'PAID') = (paid_at IS NOT NULL))
);
CREATE INDEX deposits_user_idx ON deposits (user_id, id DESC);
CREATE INDEX deposits_pending_idx ON deposits (created_at) WHERE status = 'PENDING' AND NOT flagged;
CREATE INDEX deposits_flagged_idx ON deposits (id) WHERE flagged;
SELECT diesel_manage_updated_at('deposits');

ALTER TABLE ledger_entries
    ADD CONSTRAINT ledger_entries_deposit_id_fkey FOREIGN KEY (deposit_id) REFERENCES deposits (id);
CREATE INDEX ledger_entries_deposit_idx ON ledger_entries (deposit_id) WHERE deposit_id IS NOT NULL;

-- What the gateways told us about a deposit, one row per distinct report (a
-- duplicate delivery or a repeated poll with the same content adds nothing), so
-- the table stays bounded while admins still see the whole history.
CREATE TABLE deposit_events (
    id BIGSERIAL PRIMARY KEY,
    deposit_id BIGINT NOT NULL REFERENCES deposits (id),
    source TEXT NOT NULL CHECK (source IN ('WEBHOOK', 'RECONCILE')),
    gateway_status TEXT NOT NULL,
    outcome TEXT NOT NULL,
    -- Identifies the report's content (status, fraud status, amount).
    fingerprint TEXT NOT NULL,
    payload JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (deposit_id, fingerprint)
);
