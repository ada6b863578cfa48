-- Telegram and WhatsApp: chats linked to accounts with a one-time code, and an
-- outbox of messages to them (sent by a job on the one outbox runtime, never
-- inside a transaction).

CREATE TABLE chat_links (
    id bigserial PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES users (id),
    channel text NOT NULL CHECK (channel IN ('TELEGRAM', 'WHATSAPP')),
    -- Telegram's chat id, or the WhatsApp number (E.164 without '+').
    chat_id text NOT NULL CHECK (length(chat_id) <= 64),
    linked_at timestamptz NOT NULL DEFAULT now(),
    -- The customer's last message: WhatsApp allows free text for 24 hours after
    -- it (the customer-service window), approved templates otherwise.
    last_inbound_at timestamptz,
    UNIQUE (channel, chat_id),
    UNIQUE (user_id, channel)
);

CREATE TABLE chat_link_codes (
    -- SHA-256 of the code: the code itself is shown once, to its owner.
    code_hash text PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES users (id),
    channel text NOT NULL CHECK (channel IN ('TELEGRAM', 'WHATSAPP')),
    expires_at timestamptz NOT NULL,
    used_at timestamptz
);

CREATE TABLE chat_messages (
    id bigserial PRIMARY KEY,
    channel text NOT NULL CHECK (channel IN ('TELEGRAM', 'WHATSAPP')),
    chat_id text NOT NULL CHECK (length(chat_id) <= 64),
    body text NOT NULL CHECK (length(body) <= 4096),
    -- Sent as the approved notification template (WhatsApp outside the window).
    template boolean NOT NULL DEFAULT false,
    status text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'SENT', 'FAILED')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    lease_until timestamptz,
    last_error text CHECK (length(last_error) <= 500),
    sent_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX chat_messages_due ON chat_messages (next_attempt_at) WHERE status = 'PENDING';
