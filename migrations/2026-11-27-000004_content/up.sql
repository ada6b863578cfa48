-- Content and SEO: pages and blog posts, slugs (with the old ones kept as
-- redirects), SEO meta for everything public, target keywords, announcements.

-- Lower-case ASCII words joined by '-', as URLs want them; 'item' when nothing is left.
CREATE FUNCTION booster_slugify(t text) RETURNS text AS $$
    SELECT coalesce(
        nullif(left(trim(BOTH '-' FROM regexp_replace(lower(t), '[^a-z0-9]+', '-', 'g')), 80), ''),
        'item')
$$ LANGUAGE sql IMMUTABLE;

-- Gives a row inserted without a slug one made from its name (plus its id when the
-- plain one is taken), so code that predates slugs keeps inserting as before.
CREATE FUNCTION booster_fill_slug() RETURNS trigger AS $$
DECLARE
    base text;
    taken boolean;
BEGIN
    IF NEW.slug IS NULL OR NEW.slug = '' THEN
        base := trim(BOTH '-' FROM booster_slugify(NEW.name));
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I WHERE slug = $1)', TG_TABLE_NAME)
            INTO taken USING base;
        NEW.slug := CASE WHEN taken THEN base || '-' || NEW.id ELSE base END;
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

ALTER TABLE service_categories ADD COLUMN slug text;
ALTER TABLE services ADD COLUMN slug text;

UPDATE service_categories c SET slug = s.slug
FROM (SELECT id, CASE WHEN row_number() OVER (PARTITION BY booster_slugify(name) ORDER BY id) = 1
                      THEN booster_slugify(name) ELSE booster_slugify(name) || '-' || id END AS slug
      FROM service_categories) s
WHERE c.id = s.id;
UPDATE services v SET slug = s.slug
FROM (SELECT id, CASE WHEN row_number() OVER (PARTITION BY booster_slugify(name) ORDER BY id) = 1
                      THEN booster_slugify(name) ELSE booster_slugify(name) || '-' || id END AS slug
      FROM services) s
WHERE v.id = s.id;

CREATE TRIGGER service_categories_fill_slug BEFORE INSERT ON service_categories
    FOR EACH ROW EXECUTE FUNCTION booster_fill_slug();
CREATE TRIGGER services_fill_slug BEFORE INSERT ON services
    FOR EACH ROW EXECUTE FUNCTION booster_fill_slug();

ALTER TABLE service_categories ALTER COLUMN slug SET NOT NULL,
    ADD CONSTRAINT service_categories_slug_key UNIQUE (slug);
ALTER TABLE services ALTER COLUMN slug SET NOT NULL,
    ADD CONSTRAINT services_slug_key UNIQUE (slug);

-- Pages and blog posts. `body_html` is rendered from `body_markdown` and sanitized
-- on every save: visitors only ever get the sanitized form.
CREATE TABLE content_items (
    id bigserial PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('PAGE', 'POST')),
    title text NOT NULL,
    slug text NOT NULL,
    body_markdown text NOT NULL DEFAULT '',
    body_html text NOT NULL DEFAULT '',
    excerpt text NOT NULL DEFAULT '',
    cover_image_url text,
    tags text[] NOT NULL DEFAULT '{}',
    language text NOT NULL CHECK (language IN ('id', 'en')),
    -- The original this item translates (an item whose own translation_of is null).
    translation_of bigint REFERENCES content_items (id) ON DELETE SET NULL,
    status text NOT NULL DEFAULT 'DRAFT' CHECK (status IN ('DRAFT', 'PUBLISHED', 'SCHEDULED')),
    publish_at timestamptz,
    published_at timestamptz,
    author_id bigint REFERENCES users (id) ON DELETE SET NULL,
    reading_minutes int NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT content_items_kind_slug_key UNIQUE (kind, slug),
    CHECK (status <> 'SCHEDULED' OR publish_at IS NOT NULL),
    CHECK (status <> 'PUBLISHED' OR published_at IS NOT NULL)
);
SELECT diesel_manage_updated_at('content_items');
-- One translation per language in a group (the original and what translates it).
CREATE UNIQUE INDEX content_items_translation_language
    ON content_items (coalesce(translation_of, id), language);
CREATE INDEX content_items_listing ON content_items (kind, status, id DESC);
CREATE INDEX content_items_scheduled ON content_items (publish_at) WHERE status = 'SCHEDULED';
CREATE INDEX content_items_tags ON content_items USING gin (tags);

-- A slug a page, post, category or service had before: the old URL answers with
-- the current one.
CREATE TABLE slug_redirects (
    subject_type text NOT NULL CHECK (subject_type IN ('PAGE', 'POST', 'CATEGORY', 'SERVICE')),
    old_slug text NOT NULL,
    subject_id bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (subject_type, old_slug)
);

-- SEO overrides; anything unset is derived from the content when read.
CREATE TABLE seo_meta (
    subject_type text NOT NULL CHECK (subject_type IN ('PAGE', 'POST', 'CATEGORY', 'SERVICE')),
    subject_id bigint NOT NULL,
    meta_title text,
    meta_description text,
    keywords text[] NOT NULL DEFAULT '{}',
    canonical_url text,
    og_title text,
    og_description text,
    og_image_url text,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (subject_type, subject_id)
);

-- Search terms the owner wants to rank for, each optionally assigned to the page,
-- post, category or service meant to rank for it.
CREATE TABLE seo_keywords (
    id bigserial PRIMARY KEY,
    keyword text NOT NULL,
    subject_type text CHECK (subject_type IN ('PAGE', 'POST', 'CATEGORY', 'SERVICE')),
    subject_id bigint,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((subject_type IS NULL) = (subject_id IS NULL))
);
CREATE UNIQUE INDEX seo_keywords_keyword_key ON seo_keywords (lower(keyword));

-- News for signed-in users: everyone, or only customers with an order on `platform`.
CREATE TABLE announcements (
    id bigserial PRIMARY KEY,
    title text NOT NULL,
    body_markdown text NOT NULL,
    body_html text NOT NULL,
    platform text,
    author_id bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
SELECT diesel_manage_updated_at('announcements');

CREATE TABLE announcement_reads (
    announcement_id bigint NOT NULL REFERENCES announcements (id) ON DELETE CASCADE,
    user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    read_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (announcement_id, user_id)
);
CREATE INDEX announcement_reads_user ON announcement_reads (user_id);
