-- Retrieval latency (issue 23, DESIGN target "retrieval, one user, 100k chunks: p99 <= 50 ms"):
-- passage vectors move out of `chunks` into their own table, and the full-text index keeps a
-- short pending list. docs/benchmarks.md ("Knowledge: ingestion and retrieval") has the figures.
--
-- Why a table of their own: the full-text side of retrieval fetches the `chunks` row of every
-- passage a question's words match, to rank it. With the embedding in that row (1 KB for 256
-- floats, 1.5 KB for 384, 6 KB for 1536) each row was ~2 KB, so the rows a question matches
-- were spread over twice the pages (100k passages: a 192 MB table, more than Postgres's default
-- shared_buffers), and the vector side never needs the text. A passage without a vector (no
-- embeddings model was configured) simply has no row here.
CREATE TABLE chunk_vectors (
    chunk_id  uuid    PRIMARY KEY REFERENCES chunks (id) ON DELETE CASCADE,
    -- Copies of the chunk's file and owner: the vector side loads a file's vectors, scoped to
    -- the caller, without reading `chunks`.
    file_id   uuid    NOT NULL,
    user_id   uuid    NOT NULL,
    -- Little-endian f32s, with the model that made them and their dimension, so a model change
    -- re-embeds and never compares vectors of different models.
    model     text    NOT NULL,
    dim       integer NOT NULL CHECK (dim > 0),
    embedding bytea   NOT NULL
);

CREATE INDEX ix_chunk_vectors_file ON chunk_vectors (file_id);

INSERT INTO chunk_vectors (chunk_id, file_id, user_id, model, dim, embedding)
SELECT id, file_id, user_id, embedding_model, embedding_dim, embedding
  FROM chunks
 WHERE embedding IS NOT NULL AND embedding_model IS NOT NULL AND embedding_dim > 0;

-- Why a short pending list: GIN's fast update queues new entries in a pending list (up to
-- gin_pending_list_limit, 4 MB by default, shared by every user's passages) that every search
-- reads from end to end until a vacuum or a large insert merges it: ~5 ms per question at 100k
-- passages. 64 kB keeps that negligible and still batches an ingested file's entries (an
-- insert of 2,000 passages: ~0.2 s, against ~0.35 s with fast update off).
ALTER INDEX ix_chunks_tsv SET (gin_pending_list_limit = 64);

-- The old columns stay (migrations only add) but nothing reads or writes them any more; they
-- are emptied so that the rows the full-text side fetches are narrow. The update writes every
-- such row once (its old version is reclaimed by vacuum).
UPDATE chunks SET embedding = NULL, embedding_model = NULL, embedding_dim = NULL
 WHERE embedding IS NOT NULL OR embedding_model IS NOT NULL OR embedding_dim IS NOT NULL;

SELECT gin_clean_pending_list('ix_chunks_tsv'::regclass);

COMMENT ON COLUMN chunks.embedding IS 'Unused since 20261207040000: see chunk_vectors';
COMMENT ON COLUMN chunks.embedding_model IS 'Unused since 20261207040000: see chunk_vectors';
COMMENT ON COLUMN chunks.embedding_dim IS 'Unused since 20261207040000: see chunk_vectors';
