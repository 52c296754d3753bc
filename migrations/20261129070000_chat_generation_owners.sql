-- Which gateway replica runs a session's server-side generation (issue 15.2, several replicas).
-- Written only by gateways started with GATEWAY_PEER_URL: a replica that is asked to resume or
-- stop a generation it does not run looks the session up here and forwards the request to the
-- owner. One row per session: the primary key also stops two replicas from generating in the
-- same session at once. The owner refreshes heartbeat_at every few seconds; a row whose
-- heartbeat is older than 30 s belongs to a replica that died, and is ignored and replaced.
CREATE TABLE chat_generation_owners (
    session_id   uuid PRIMARY KEY REFERENCES chat_sessions (id) ON DELETE CASCADE,
    user_id      uuid NOT NULL,
    owner_url    text NOT NULL,
    -- The generation's own id: a late release of an ended generation never deletes the row
    -- of a newer one in the same session.
    generation_id uuid NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX chat_generation_owners_owner ON chat_generation_owners (owner_url);
CREATE INDEX chat_generation_owners_generation ON chat_generation_owners (generation_id);
