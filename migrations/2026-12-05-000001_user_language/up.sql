-- `users.language` was free text checked only by the settings mutation; it is the
-- same `id`/`en` choice as a page's or an FAQ answer's language, so the database
-- holds it to that. Anything else already stored reads as English when it starts
-- with `en` (what mail did with it) and as Indonesian, the default, otherwise.
UPDATE users
SET language = CASE WHEN lower(btrim(language)) LIKE 'en%' THEN 'en' ELSE 'id' END
WHERE language NOT IN ('id', 'en');

ALTER TABLE users ADD CONSTRAINT users_language_check CHECK (language IN ('id', 'en'));
