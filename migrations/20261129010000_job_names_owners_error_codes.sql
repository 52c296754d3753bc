-- Jobs get an optional name (issue 16.3), an owner (issue 10.5) and per-prompt error codes
-- (issue 12.1).
--
-- The worker writes batch_jobs.user_id from the gateway's X-Sable-User-Id header (the seeded
-- default user when absent) and scopes every read, list and cancel by it.

ALTER TABLE batch_jobs ADD COLUMN name varchar(200);

-- The class of a prompt's permanent failure, as the model service named it
-- (e.g. CONTEXT_TOO_LONG), beside the message in `error`.
ALTER TABLE batch_job_results ADD COLUMN error_code text;

-- Jobs from before ownership belong to the default user, who could see them until now.
UPDATE batch_jobs
   SET user_id = '00000000-0000-0000-0000-000000000001'
 WHERE user_id IS NULL
   AND EXISTS (SELECT 1 FROM users WHERE id = '00000000-0000-0000-0000-000000000001');

-- The job list: one user's jobs, newest first, paged by (created_at, id).
CREATE INDEX ix_batch_jobs_user_created_id ON batch_jobs (user_id, created_at DESC, id DESC);

-- GET /jobs/stats: jobs finished in the last minute.
CREATE INDEX ix_batch_jobs_completed_at ON batch_jobs (completed_at)
    WHERE completed_at IS NOT NULL;
