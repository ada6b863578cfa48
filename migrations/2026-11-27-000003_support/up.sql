-- The support desk: tickets (a thread of messages from the customer, staff and
-- the reply bot, plus staff's internal notes), the orders a ticket is about, the
-- FAQ and the contact form for visitors.

CREATE TABLE tickets (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id),
    subject TEXT NOT NULL CHECK (length(subject) BETWEEN 1 AND 200),
    topic TEXT NOT NULL CHECK (topic IN ('ORDER', 'PAYMENT', 'REFILL', 'CANCEL', 'API', 'OTHER')),
    -- OPEN: waits for staff; ANSWERED: staff or the bot replied; CUSTOMER_REPLY:
    -- the customer wrote after an answer; CLOSED.
    status TEXT NOT NULL DEFAULT 'OPEN'
        CHECK (status IN ('OPEN', 'ANSWERED', 'CUSTOMER_REPLY', 'CLOSED')),
    priority TEXT NOT NULL DEFAULT 'MEDIUM' CHECK (priority IN ('LOW', 'MEDIUM', 'HIGH')),
    assignee_id BIGINT REFERENCES users (id),
    last_message_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX tickets_user_id_idx ON tickets (user_id, id);
CREATE INDEX tickets_status_idx ON tickets (status, id);
CREATE INDEX tickets_assignee_id_idx ON tickets (assignee_id);
SELECT diesel_manage_updated_at('tickets');

-- The customer's own orders a ticket is about (checked when attached).
CREATE TABLE ticket_orders (
    ticket_id BIGINT NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    order_id BIGINT NOT NULL REFERENCES orders (id),
    PRIMARY KEY (ticket_id, order_id)
);

CREATE TABLE ticket_messages (
    id BIGSERIAL PRIMARY KEY,
    ticket_id BIGINT NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    author TEXT NOT NULL CHECK (author IN ('CUSTOMER', 'STAFF', 'BOT')),
    -- The customer or the staff member; NULL for the bot.
    author_id BIGINT REFERENCES users (id),
    body TEXT NOT NULL CHECK (length(body) BETWEEN 1 AND 10000),
    -- Staff's notes for staff: never shown to the customer.
    internal BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (NOT internal OR author = 'STAFF'),
    CHECK ((author = 'BOT') = (author_id IS NULL))
);
CREATE INDEX ticket_messages_ticket_id_idx ON ticket_messages (ticket_id, id);

CREATE TABLE faq_entries (
    id BIGSERIAL PRIMARY KEY,
    question TEXT NOT NULL CHECK (length(question) BETWEEN 1 AND 300),
    answer TEXT NOT NULL CHECK (length(answer) BETWEEN 1 AND 5000),
    category TEXT NOT NULL DEFAULT '' CHECK (length(category) <= 100),
    language TEXT NOT NULL DEFAULT 'id' CHECK (language IN ('id', 'en')),
    published BOOLEAN NOT NULL DEFAULT FALSE,
    sort_order INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- Full-text search over question and answer. The 'simple' configuration (no
-- stemming) treats Indonesian and English alike.
CREATE INDEX faq_entries_search_idx ON faq_entries
    USING GIN (to_tsvector('simple', question || ' ' || answer));
SELECT diesel_manage_updated_at('faq_entries');

-- Messages from visitors who are not signed in; answered by email.
CREATE TABLE contact_messages (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    email TEXT NOT NULL CHECK (length(email) BETWEEN 3 AND 320),
    subject TEXT NOT NULL CHECK (length(subject) BETWEEN 1 AND 200),
    message TEXT NOT NULL CHECK (length(message) BETWEEN 1 AND 5000),
    -- The language the answer is written in.
    language TEXT NOT NULL DEFAULT 'id' CHECK (language IN ('id', 'en')),
    -- The sender's address, for the per-address limit.
    ip_address TEXT NOT NULL,
    answer TEXT CHECK (length(answer) <= 10000),
    answered_by BIGINT REFERENCES users (id),
    answered_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX contact_messages_ip_idx ON contact_messages (ip_address, created_at);
