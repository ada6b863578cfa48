DROP TABLE notifications;
DROP TABLE provider_calls;
ALTER TABLE providers DROP COLUMN unhealthy_until, DROP COLUMN consecutive_failures, DROP COLUMN last_success_at,
    DROP COLUMN last_error, DROP COLUMN last_latency_ms, DROP COLUMN balance, DROP COLUMN balance_checked_at,
    DROP COLUMN low_balance_threshold;
ALTER TABLE services DROP COLUMN fallback_service_id;
ALTER TABLE orders DROP COLUMN provider_service_id, DROP COLUMN submit_attempts, DROP COLUMN next_attempt_at,
    DROP COLUMN submitted_at, DROP COLUMN last_synced_at, DROP COLUMN last_error, DROP COLUMN fallback_used;
