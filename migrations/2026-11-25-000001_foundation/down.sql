DROP TABLE services;
DROP TABLE service_categories;
DROP TABLE providers;
DROP TABLE app_settings;
DROP TABLE api_keys;
DROP TABLE sessions;
DROP TABLE users;
