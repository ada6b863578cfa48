-- The last run of each background job, whichever process ran it: what /readyz
-- reads to tell a stopped worker from a quiet one.
CREATE TABLE job_runs (
    name text PRIMARY KEY,
    last_success_at timestamptz,
    last_failure_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
);
