-- Catalogue import and sync: one local service per provider service, the sync's
-- own marks on services, and the log of what changed upstream.

-- Importing twice never duplicates. NULLs are distinct, so own products (no
-- provider) are unaffected. Replaces the plain lookup index.
DROP INDEX services_provider_idx;
CREATE UNIQUE INDEX services_provider_service_key ON services (provider_id, provider_service_id);

-- Set while the provider no longer lists the service.
ALTER TABLE services ADD COLUMN upstream_missing_since TIMESTAMPTZ;
-- True when the catalogue sync (not an admin) deactivated the service because the
-- provider dropped it; only then does its return upstream reactivate it.
ALTER TABLE services ADD COLUMN sync_deactivated BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE catalog_changes (
    id BIGSERIAL PRIMARY KEY,
    provider_id BIGINT NOT NULL REFERENCES providers (id),
    -- NULL for a service the provider offers that is not imported (NEW).
    service_id BIGINT REFERENCES services (id),
    provider_service_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('NEW', 'IMPORTED', 'RATE_CHANGED', 'DETAILS_CHANGED', 'REMOVED', 'REAPPEARED')),
    old_values JSONB,
    new_values JSONB,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX catalog_changes_provider_idx ON catalog_changes (provider_id, id DESC);
CREATE INDEX catalog_changes_new_idx ON catalog_changes (provider_id, provider_service_id) WHERE kind = 'NEW';
