-- staff_roles keeps its updated_at like every other table with one: by the
-- trigger diesel's setup defines, not by each UPDATE.
SELECT diesel_manage_updated_at('staff_roles');
