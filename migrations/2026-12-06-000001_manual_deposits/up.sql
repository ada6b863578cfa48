-- Money in without a gateway: bank and e-wallet transfers and the owner's static
-- QRIS, each deposit made recognisable by a unique amount; bank mutations pushed by
-- a mutation service or read from an uploaded statement; bonuses and vouchers.
-- Everything is credited through the same exactly-once ledger as gateway deposits.

-- How customers may pay. Manual kinds (BANK_TRANSFER, EWALLET, QRIS_STATIC) name
-- the owner's account; gateway kinds (MIDTRANS, XENDIT) only list a gateway.
CREATE TABLE deposit_methods (
    id BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('BANK_TRANSFER', 'EWALLET', 'QRIS_STATIC', 'MIDTRANS', 'XENDIT')),
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    -- BCA, BNI, BRI, MANDIRI, DANA, OVO...: shown to customers, and compared with
    -- a mutation's bank when the account numbers match.
    bank_code TEXT NOT NULL DEFAULT '' CHECK (length(bank_code) <= 20),
    account_holder TEXT NOT NULL DEFAULT '' CHECK (length(account_holder) <= 100),
    -- Digits only, so a mutation's account number compares exactly.
    account_number TEXT NOT NULL DEFAULT '' CHECK (account_number ~ '^[0-9]{0,32}$'),
    -- The owner's static QRIS (EMVCo) payload, checked when saved.
    qris_payload TEXT CHECK (length(qris_payload) <= 512),
    instructions_id TEXT NOT NULL DEFAULT '' CHECK (length(instructions_id) <= 4000),
    instructions_en TEXT NOT NULL DEFAULT '' CHECK (length(instructions_en) <= 4000),
    min_amount BIGINT NOT NULL CHECK (min_amount > 0),
    max_amount BIGINT NOT NULL CHECK (max_amount >= min_amount),
    -- Credited per rupiah paid, in basis points: 10000 credits what was paid; a
    -- panel taking phone-credit transfers credits 8000 to 8500.
    credit_rate_bps INT NOT NULL DEFAULT 10000 CHECK (credit_rate_bps BETWEEN 1 AND 10000),
    active BOOLEAN NOT NULL DEFAULT true,
    sort_order INT NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (kind <> 'QRIS_STATIC' OR qris_payload IS NOT NULL),
    CHECK (kind NOT IN ('BANK_TRANSFER', 'EWALLET') OR account_number <> '')
);
SELECT diesel_manage_updated_at('deposit_methods');

-- Deposit bonuses: a percentage of the credited amount from a threshold on, for
-- one method or (method_id NULL) for all; the best rule that applies is paid.
CREATE TABLE deposit_bonus_rules (
    id BIGSERIAL PRIMARY KEY,
    method_id BIGINT REFERENCES deposit_methods (id),
    bonus_bps INT NOT NULL CHECK (bonus_bps BETWEEN 1 AND 10000),
    min_amount BIGINT NOT NULL DEFAULT 0 CHECK (min_amount >= 0),
    first_deposit_only BOOLEAN NOT NULL DEFAULT false,
    active BOOLEAN NOT NULL DEFAULT true,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
SELECT diesel_manage_updated_at('deposit_bonus_rules');

-- Voucher codes, entered at createDeposit and paid as a bonus when the deposit is
-- credited. `uses` is raised by a guarded UPDATE, so the limit holds under
-- concurrency; a redemption is once per user (the primary key).
CREATE TABLE vouchers (
    id BIGSERIAL PRIMARY KEY,
    code TEXT NOT NULL CHECK (code ~ '^[A-Z0-9_-]{3,32}$'),
    kind TEXT NOT NULL CHECK (kind IN ('FIXED', 'PERCENT')),
    -- FIXED: rupiah; PERCENT: basis points of the credited amount.
    value BIGINT NOT NULL CHECK (value > 0),
    max_bonus BIGINT CHECK (max_bonus > 0),
    min_deposit BIGINT NOT NULL DEFAULT 0 CHECK (min_deposit >= 0),
    starts_at TIMESTAMPTZ,
    ends_at TIMESTAMPTZ,
    max_uses INT CHECK (max_uses > 0),
    uses INT NOT NULL DEFAULT 0 CHECK (uses >= 0 AND (max_uses IS NULL OR uses <= max_uses)),
    active BOOLEAN NOT NULL DEFAULT true,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (kind <> 'PERCENT' OR value <= 10000)
);
CREATE UNIQUE INDEX vouchers_code_key ON vouchers (code);
SELECT diesel_manage_updated_at('vouchers');

-- Deposits learn methods. MANUAL deposits are paid to the owner's account; the
-- customer pays `payable_amount` (what they asked for plus `unique_code`), and
-- `amount` stays what is credited, as for gateways.
ALTER TABLE deposits DROP CONSTRAINT deposits_gateway_check;
ALTER TABLE deposits ADD CONSTRAINT deposits_gateway_check
    CHECK (gateway IN ('MIDTRANS', 'XENDIT', 'MANUAL'));
ALTER TABLE deposits
    ADD COLUMN method_id BIGINT REFERENCES deposit_methods (id),
    ADD COLUMN payable_amount BIGINT,
    ADD COLUMN unique_code INT NOT NULL DEFAULT 0 CHECK (unique_code BETWEEN 0 AND 999),
    ADD COLUMN qris_payload TEXT,
    ADD COLUMN customer_note TEXT CHECK (length(customer_note) <= 500),
    ADD COLUMN voucher_id BIGINT REFERENCES vouchers (id),
    ADD COLUMN bonus_amount BIGINT NOT NULL DEFAULT 0 CHECK (bonus_amount >= 0);
UPDATE deposits SET payable_amount = amount;
ALTER TABLE deposits ALTER COLUMN payable_amount SET NOT NULL;
-- A writer that predates manual deposits (an older process during a rolling
-- deploy, a script) inserts without it: a gateway deposit's payable amount is
-- its amount.
CREATE FUNCTION deposits_default_payable() RETURNS trigger AS $$
BEGIN
    NEW.payable_amount := COALESCE(NEW.payable_amount, NEW.amount);
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER deposits_default_payable
    BEFORE INSERT ON deposits FOR EACH ROW EXECUTE FUNCTION deposits_default_payable();
ALTER TABLE deposits ADD CONSTRAINT deposits_payable_positive CHECK (payable_amount > 0);
ALTER TABLE deposits ADD CONSTRAINT deposits_manual_has_method
    CHECK (gateway <> 'MANUAL' OR method_id IS NOT NULL);
-- No two open deposits of one method share a payable amount: that is what makes a
-- transfer recognisable. An expired one leaves PENDING, so its amount is free again.
CREATE UNIQUE INDEX deposits_open_payable_once ON deposits (method_id, payable_amount)
    WHERE status = 'PENDING' AND gateway = 'MANUAL';

-- The customer's proof of transfer: an image, one per deposit, kept in the
-- database (so backups hold it) and served only to its owner and to staff.
CREATE TABLE deposit_proofs (
    deposit_id BIGINT PRIMARY KEY REFERENCES deposits (id),
    content_type TEXT NOT NULL CHECK (content_type IN ('image/png', 'image/jpeg', 'image/webp')),
    bytes BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- A bonus is its own ledger kind, paid once per deposit like the credit itself.
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_kind_check;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_kind_check
    CHECK (kind IN ('DEPOSIT', 'ORDER_CHARGE', 'REFUND', 'ADJUSTMENT', 'MANUAL_REFUND', 'BONUS'));
DROP INDEX ledger_entries_once_per_deposit;
CREATE UNIQUE INDEX ledger_entries_once_per_deposit ON ledger_entries (kind, deposit_id)
    WHERE deposit_id IS NOT NULL AND kind IN ('DEPOSIT', 'BONUS');

-- One voucher use per user; the deposit it was paid on.
CREATE TABLE voucher_redemptions (
    voucher_id BIGINT NOT NULL REFERENCES vouchers (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    deposit_id BIGINT NOT NULL UNIQUE REFERENCES deposits (id),
    bonus BIGINT NOT NULL CHECK (bonus >= 0),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (voucher_id, user_id)
);

-- Credit mutations of the owner's accounts: pushed by a mutation service (Moota)
-- or read from an uploaded statement. Stored once per source and external id, so a
-- repeated push or the same statement uploaded twice adds nothing.
CREATE TABLE bank_mutations (
    id BIGSERIAL PRIMARY KEY,
    source TEXT NOT NULL CHECK (source IN ('MOOTA', 'STATEMENT')),
    external_id TEXT NOT NULL CHECK (length(external_id) BETWEEN 1 AND 100),
    bank TEXT NOT NULL CHECK (length(bank) <= 40),
    account_number TEXT NOT NULL CHECK (account_number ~ '^[0-9]{0,32}$'),
    amount BIGINT NOT NULL CHECK (amount > 0),
    description TEXT NOT NULL CHECK (length(description) <= 500),
    occurred_at TIMESTAMPTZ NOT NULL,
    -- MATCHED: credited a deposit automatically; ATTACHED: by an admin's hand;
    -- UNMATCHED, AMBIGUOUS (several open deposits), EXPIRED_MATCH (only an expired
    -- deposit has the amount): waiting for an admin; DISMISSED: not a deposit.
    status TEXT NOT NULL CHECK (status IN ('MATCHED', 'ATTACHED', 'UNMATCHED', 'AMBIGUOUS', 'EXPIRED_MATCH', 'DISMISSED')),
    deposit_id BIGINT UNIQUE REFERENCES deposits (id),
    resolved_by BIGINT REFERENCES users (id),
    resolution_note TEXT,
    payload JSONB NOT NULL DEFAULT '{}',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (source, external_id),
    CHECK ((status IN ('MATCHED', 'ATTACHED')) = (deposit_id IS NOT NULL))
);
CREATE INDEX bank_mutations_review_idx ON bank_mutations (created_at)
    WHERE status IN ('UNMATCHED', 'AMBIGUOUS', 'EXPIRED_MATCH');
SELECT diesel_manage_updated_at('bank_mutations');
