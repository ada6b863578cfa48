DROP INDEX tickets_user_idx;
CREATE INDEX tickets_user_id_idx ON tickets (user_id, id);
