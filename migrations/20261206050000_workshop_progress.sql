-- Workshop progress per user (GET/PUT /api/v1/workshop/progress): which tasks are done (a lab
-- check passed, or the learner marked it) and the page last opened, for "continue where you
-- left off". Task ids are the curriculum's ("0.4", "7"); pages are overview, lab, slides,
-- production_reality.
CREATE TABLE workshop_progress (
    user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    task_id        text NOT NULL,
    completed_at   timestamptz,
    completed_via  text CHECK (completed_via IN ('check', 'manual')),
    last_page      text,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, task_id)
);

CREATE INDEX workshop_progress_recent ON workshop_progress (user_id, updated_at DESC);
