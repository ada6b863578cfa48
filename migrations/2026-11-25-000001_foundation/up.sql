-- Accounts, access and the service catalogue.
-- Enumerations are TEXT with CHECK constraints: they evolve with plain migrations
-- and map to Rust enums in src/db/enums.rs.

CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    email TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    google_subject TEXT UNIQUE,
    role TEXT NOT NULL DEFAULT 'CUSTOMER' CHECK (role IN ('ADMIN', 'CUSTOMER')),
    banned_at TIMESTAMPTZ,
    ban_reason TEXT,
    balance BIGINT NOT NULL DEFAULT 0 CHECK (balance >= 0),
    language TEXT NOT NULL DEFAULT 'id',
    timezone TEXT NOT NULL DEFAULT 'Asia/Jakarta',
    notify_order_updates BOOLEAN NOT NULL DEFAULT TRUE,
    notify_deposits BOOLEAN NOT NULL DEFAULT TRUE,
    notify_tickets BOOLEAN NOT NULL DEFAULT TRUE,
    notify_newsletter BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
SELECT diesel_manage_updated_at('users');

-- Bearer tokens. Only a SHA-256 of the token is stored: the tokens are 256-bit random
-- values, so a fast hash is enough and a database leak yields nothing usable.
CREATE TABLE sessions (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash BYTEA NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    revoked_at TIMESTAMPTZ
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);

CREATE TABLE api_keys (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    key_hash BYTEA NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ
);
CREATE INDEX api_keys_user_id_idx ON api_keys (user_id);

-- Panel-wide settings as typed key/value rows (e.g. the default markup).
CREATE TABLE app_settings (
    key TEXT PRIMARY KEY,
    value JSONB NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
INSERT INTO app_settings (key, value) VALUES ('default_markup_bps', '1000');

CREATE TABLE providers (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('API_V2', 'MEDANPEDIA')),
    base_url TEXT NOT NULL,
    -- AES-256-GCM: nonce || ciphertext. The key comes from BOOSTER_SECRET_KEY.
    api_key_encrypted BYTEA NOT NULL,
    api_key_hint TEXT NOT NULL,
    -- MedanPedia authenticates with an account id beside the key.
    api_id TEXT,
    currency TEXT NOT NULL DEFAULT 'IDR' CHECK (currency IN ('IDR', 'USD')),
    -- Rupiah per one unit of the provider's currency.
    exchange_rate NUMERIC(18, 6) NOT NULL DEFAULT 1 CHECK (exchange_rate > 0),
    markup_bps INTEGER CHECK (markup_bps BETWEEN 0 AND 100000),
    active BOOLEAN NOT NULL DEFAULT TRUE,
    settings JSONB NOT NULL DEFAULT '{}',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
SELECT diesel_manage_updated_at('providers');

CREATE TABLE service_categories (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    sort_order INTEGER NOT NULL DEFAULT 0,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX service_categories_name_key ON service_categories (lower(name));
SELECT diesel_manage_updated_at('service_categories');

CREATE TABLE services (
    id BIGSERIAL PRIMARY KEY,
    category_id BIGINT NOT NULL REFERENCES service_categories (id),
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    platform TEXT NOT NULL CHECK (platform IN ('TWITTER', 'INSTAGRAM', 'TIKTOK', 'YOUTUBE', 'FACEBOOK', 'TELEGRAM', 'SPOTIFY', 'OTHER')),
    service_type TEXT NOT NULL DEFAULT 'DEFAULT',
    -- Imported services have all three provider columns; own products have none.
    provider_id BIGINT REFERENCES providers (id),
    provider_service_id TEXT,
    provider_rate NUMERIC(20, 6),
    markup_bps INTEGER CHECK (markup_bps BETWEEN 0 AND 100000),
    fulfillment TEXT NOT NULL CHECK (fulfillment IN ('PROVIDER', 'STOCK', 'MANUAL')),
    price_per_1000 BIGINT NOT NULL CHECK (price_per_1000 >= 0),
    min_quantity BIGINT NOT NULL CHECK (min_quantity >= 1),
    max_quantity BIGINT NOT NULL,
    quantity_step BIGINT NOT NULL DEFAULT 1 CHECK (quantity_step >= 1),
    refill BOOLEAN NOT NULL DEFAULT FALSE,
    cancel BOOLEAN NOT NULL DEFAULT FALSE,
    dripfeed BOOLEAN NOT NULL DEFAULT FALSE,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    sort_order INTEGER NOT NULL DEFAULT 0,
    average_completion_seconds BIGINT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (max_quantity >= min_quantity),
    CHECK ((fulfillment = 'PROVIDER') = (provider_id IS NOT NULL)),
    CHECK ((provider_id IS NULL AND provider_service_id IS NULL AND provider_rate IS NULL)
        OR (provider_id IS NOT NULL AND provider_service_id IS NOT NULL AND provider_rate IS NOT NULL))
);
CREATE INDEX services_category_idx ON services (category_id, sort_order, id);
CREATE INDEX services_provider_idx ON services (provider_id, provider_service_id);
SELECT diesel_manage_updated_at('services');
