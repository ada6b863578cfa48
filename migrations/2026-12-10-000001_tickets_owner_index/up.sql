-- A customer's tickets are read newest first in the order of every owner's index,
-- `user_id, id DESC` (db/pagination.rs, `paginate_owned`): this one was the only
-- one built ascending on `id`, which no scan can read in that order. Named like
-- the others (`orders_user_idx`, `ledger_entries_user_idx`, `deposits_user_idx`).
DROP INDEX tickets_user_id_idx;
CREATE INDEX tickets_user_idx ON tickets (user_id, id DESC);
