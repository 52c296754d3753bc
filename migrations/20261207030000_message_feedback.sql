-- Feedback on answers (issue 25, feature 12): the session owner's thumbs up (1) or down (-1)
-- on an assistant message, with an optional comment. Stored on the message itself (one rating
-- per message, the owner's): it goes with the message when the session is deleted, and reads
-- need no join. NULL rating: no feedback.
ALTER TABLE chat_messages
    ADD COLUMN feedback_rating smallint CHECK (feedback_rating IN (1, -1)),
    ADD COLUMN feedback_comment text CHECK (char_length(feedback_comment) <= 2000),
    ADD COLUMN feedback_at timestamptz;

-- The admins' per-model counts scan only rated messages.
CREATE INDEX ix_chat_messages_feedback ON chat_messages (feedback_rating)
    WHERE feedback_rating IS NOT NULL;
