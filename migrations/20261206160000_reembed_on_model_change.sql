-- Knowledge I (issue 23): changing the embeddings model re-embeds, never mixes.
--
-- Each file records the model its passages' vectors came from (NULL: indexed by text only, no
-- embeddings model was configured). Retrieval compares it with the model that embeds the
-- query; a ready file of another model gets a 'reembed' job on the queue, which replaces its
-- vectors in one fenced write while the file stays ready (searchable by text meanwhile; the
-- vector side only ever compares vectors of the query's own model and dimension).
ALTER TABLE files ADD COLUMN embedding_model text;

UPDATE files f
   SET embedding_model = (SELECT c.embedding_model FROM chunks c
                           WHERE c.file_id = f.id AND c.embedding_model IS NOT NULL
                           LIMIT 1)
 WHERE f.status = 'ready';

ALTER TABLE batch_jobs DROP CONSTRAINT batch_jobs_kind_check;
ALTER TABLE batch_jobs ADD CONSTRAINT batch_jobs_kind_check
    CHECK (kind IN ('prompts', 'ingest', 'reembed'));

-- At most one waiting or running re-embed per file: concurrent retrievals that notice the same
-- stale file queue it once (INSERT … ON CONFLICT DO NOTHING).
CREATE UNIQUE INDEX ux_batch_jobs_active_reembed ON batch_jobs (file_id)
    WHERE kind = 'reembed' AND status IN ('pending', 'running');
