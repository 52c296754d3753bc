-- Knowledge I (issue 23): files, collections and chunks, all owned by the worker service (it
-- stores the blobs, runs ingestion on its batch_jobs queue and answers retrieval); the gateway
-- only forwards the public API with the caller's id. No table here has a second writer.

-- One uploaded file. The bytes live in the object store under `blob_key`; the same bytes from
-- the same user are stored once (UNIQUE (user_id, sha256): a second upload answers the first
-- record).
CREATE TABLE files (
    id           uuid PRIMARY KEY,
    user_id      uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    filename     text        NOT NULL,
    content_type text        NOT NULL,
    -- What the extractor reads it as: pdf, docx, html, markdown, text, csv.
    kind         text        NOT NULL CHECK (kind IN ('pdf', 'docx', 'html', 'markdown', 'text', 'csv')),
    size_bytes   bigint      NOT NULL CHECK (size_bytes > 0),
    sha256       text        NOT NULL,
    blob_key     text        NOT NULL,
    status       text        NOT NULL DEFAULT 'pending'
                             CHECK (status IN ('pending', 'processing', 'ready', 'failed')),
    -- Where ingestion is while processing: extracting, chunking, embedding, indexing.
    stage        text,
    error        text,
    pages        integer,
    chunk_count  integer     NOT NULL DEFAULT 0,
    -- The ingestion job on batch_jobs (kind 'ingest').
    job_id       uuid,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    ready_at     timestamptz,
    UNIQUE (user_id, sha256)
);

-- The file list: one user's files, newest first, paged by (created_at, id).
CREATE INDEX ix_files_user_created_id ON files (user_id, created_at DESC, id DESC);

-- A named set of files ("knowledge base"). A file may be in several.
CREATE TABLE collections (
    id          uuid PRIMARY KEY,
    user_id     uuid         NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name        varchar(200) NOT NULL,
    description text         NOT NULL DEFAULT '',
    created_at  timestamptz  NOT NULL DEFAULT now(),
    updated_at  timestamptz  NOT NULL DEFAULT now()
);

CREATE INDEX ix_collections_user_created ON collections (user_id, created_at DESC, id DESC);

CREATE TABLE collection_files (
    collection_id uuid        NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    file_id       uuid        NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    added_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (collection_id, file_id)
);

CREATE INDEX ix_collection_files_file ON collection_files (file_id);

-- A passage of a file as retrieval returns it: its text with the page (PDF), the heading path
-- (Markdown, HTML, DOCX) and the character offsets in the extracted text, so an answer can
-- cite "report.pdf, page 4". Deleting the file deletes its chunks (ON DELETE CASCADE), and an
-- ingestion that finishes after the delete fails on the foreign key: nothing is orphaned.
CREATE TABLE chunks (
    id              uuid PRIMARY KEY,
    file_id         uuid    NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    user_id         uuid    NOT NULL,
    idx             integer NOT NULL CHECK (idx >= 0),
    text            text    NOT NULL,
    page            integer,
    heading         text,
    char_start      integer NOT NULL,
    char_end        integer NOT NULL,
    token_count     integer NOT NULL,
    -- Full-text side of hybrid retrieval.
    tsv             tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED,
    -- Vector side: little-endian f32s, with the model that made them and their dimension, so a
    -- model change re-embeds and never compares vectors of different models.
    embedding       bytea,
    embedding_model text,
    embedding_dim   integer,
    UNIQUE (file_id, idx)
);

CREATE INDEX ix_chunks_tsv ON chunks USING gin (tsv);
CREATE INDEX ix_chunks_user ON chunks (user_id);

-- Ingestion runs as a job kind on the existing queue: the claim, lease, reaper, retry and
-- cancel machinery is shared; the worker dispatches on `kind`.
ALTER TABLE batch_jobs
    ADD COLUMN kind    text NOT NULL DEFAULT 'prompts' CHECK (kind IN ('prompts', 'ingest')),
    ADD COLUMN file_id uuid;
