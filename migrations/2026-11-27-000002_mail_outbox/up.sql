-- Outgoing mail. A mail is queued in the transaction that causes it (a deposit
-- credited, an order ended, a ticket answered) and sent later by the mail outbox
-- job, so a mail server that is down loses nothing and a rolled-back change sends
-- nothing.
--
-- A worker claims due PENDING rows with FOR UPDATE SKIP LOCKED and sets
-- `lease_until`; until the lease passes no other worker takes the row, so two
-- workers never send one mail and a worker that dies mid-send is retried only
-- after its lease. A failed send goes back to PENDING with a later
-- `next_attempt_at` (exponential backoff) until `attempts` reaches the maximum,
-- then FAILED. `last_error` is the SMTP server's answer, bounded, never a
-- credential.
CREATE TABLE mail_outbox (
    id BIGSERIAL PRIMARY KEY,
    to_address TEXT NOT NULL CHECK (length(to_address) BETWEEN 3 AND 320),
    subject TEXT NOT NULL CHECK (length(subject) <= 300),
    text_body TEXT NOT NULL CHECK (length(text_body) <= 100000),
    html_body TEXT CHECK (length(html_body) <= 200000),
    kind TEXT NOT NULL CHECK (length(kind) BETWEEN 1 AND 64),
    user_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    -- Set when the same event must never queue two mails (one per deposit credit,
    -- one per order end); NULLs never conflict.
    dedupe_key TEXT UNIQUE CHECK (length(dedupe_key) <= 200),
    status TEXT NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'SENT', 'FAILED')),
    attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    lease_until TIMESTAMPTZ,
    last_error TEXT CHECK (length(last_error) <= 500),
    sent_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX mail_outbox_due_idx ON mail_outbox (next_attempt_at) WHERE status = 'PENDING';
CREATE INDEX mail_outbox_user_id_idx ON mail_outbox (user_id);
