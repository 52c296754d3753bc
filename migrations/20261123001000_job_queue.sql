-- Durable batch-job queue (issue 4): leases, attempts with backoff, cancellation, and one
-- row per result slot.
--
-- A worker claims jobs with one short UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED)
-- that sets locked_by/locked_until and increments attempts; it extends locked_until on a
-- heartbeat and writes each prompt's result into batch_job_results fenced by
-- (locked_by, attempts). The old `results` column of the reference schema is no longer
-- written: results live in batch_job_results.

ALTER TABLE batch_jobs
    ADD COLUMN locked_by        text,
    ADD COLUMN locked_until     timestamptz,
    ADD COLUMN attempts         integer     NOT NULL DEFAULT 0,
    ADD COLUMN max_attempts     integer     NOT NULL DEFAULT 5,
    ADD COLUMN next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN cancel_requested boolean     NOT NULL DEFAULT false,
    ADD COLUMN failed_prompts   integer     NOT NULL DEFAULT 0,
    ADD COLUMN last_error       text,
    ADD COLUMN started_at       timestamptz,
    ADD COLUMN updated_at       timestamptz NOT NULL DEFAULT now();

ALTER TABLE batch_jobs
    ADD CONSTRAINT batch_jobs_status_check
        CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
    ADD CONSTRAINT batch_jobs_progress_check
        CHECK (completed_prompts >= 0 AND failed_prompts >= 0
               AND completed_prompts + failed_prompts <= total_prompts);

-- One row per answered prompt. The primary key makes a second write of a slot impossible.
CREATE TABLE batch_job_results (
    job_id     uuid        NOT NULL REFERENCES batch_jobs (id) ON DELETE CASCADE,
    idx        integer     NOT NULL CHECK (idx >= 0),
    text       text,
    error      text,
    -- The claim (attempt number) that produced the slot.
    attempt    integer     NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, idx),
    CHECK ((text IS NULL) <> (error IS NULL))
);

-- The claim query: only unfinished jobs, oldest first. Stays small however many finished
-- jobs accumulate.
CREATE INDEX ix_batch_jobs_claimable ON batch_jobs (created_at)
    WHERE status IN ('pending', 'running');

-- The job list: newest first, paged by (created_at, id).
CREATE INDEX ix_batch_jobs_created_id ON batch_jobs (created_at DESC, id DESC);

-- Inserting jobs wakes idle workers (they LISTEN on `batch_jobs`). One notification per
-- statement: a bulk insert wakes workers once, and they claim in batches.
CREATE FUNCTION batch_jobs_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('batch_jobs', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER batch_jobs_notify_insert
    AFTER INSERT ON batch_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION batch_jobs_notify();
