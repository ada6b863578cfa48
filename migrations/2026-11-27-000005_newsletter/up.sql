-- Newsletter subscribers: double opt-in (PENDING until the signed link is
-- followed), one-click unsubscribe.
CREATE TABLE newsletter_subscribers (
    id bigserial PRIMARY KEY,
    email text NOT NULL,
    status text NOT NULL CHECK (status IN ('PENDING', 'CONFIRMED', 'UNSUBSCRIBED')),
    user_id bigint REFERENCES users (id) ON DELETE SET NULL,
    confirmed_at timestamptz,
    unsubscribed_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
SELECT diesel_manage_updated_at('newsletter_subscribers');
-- Addresses are stored lower-cased by the domain; one row per address.
CREATE UNIQUE INDEX newsletter_subscribers_email_key ON newsletter_subscribers (email);
