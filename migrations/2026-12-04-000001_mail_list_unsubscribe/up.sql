-- Issue 21 (10): the one-click unsubscribe URL of a list mail (the newsletter),
-- sent as its List-Unsubscribe header with List-Unsubscribe-Post (RFC 8058).
ALTER TABLE mail_outbox
    ADD COLUMN list_unsubscribe TEXT
        CHECK (list_unsubscribe IS NULL OR (char_length(list_unsubscribe) BETWEEN 1 AND 2000
               AND list_unsubscribe ~ '^https?://[!-~]+$' AND list_unsubscribe !~ '[<>]'));
