DROP TABLE catalog_changes;
ALTER TABLE services DROP COLUMN sync_deactivated;
ALTER TABLE services DROP COLUMN upstream_missing_since;
DROP INDEX services_provider_service_key;
CREATE INDEX services_provider_idx ON services (provider_id, provider_service_id);
