DROP TRIGGER IF EXISTS services_record_updates ON services;
DROP FUNCTION IF EXISTS record_service_update();
DROP TABLE IF EXISTS service_updates;
