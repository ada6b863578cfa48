ALTER TABLE users DROP CONSTRAINT users_language_check;
