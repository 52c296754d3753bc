import { MessageSquare, ThumbsDown, ThumbsUp } from "lucide-react";
import { useState } from "react";
import { storedId, useChat, type UiMessage } from "@/stores/chat";

/** Longest comment the server keeps (code points). */
const COMMENT_MAX = 2000;

/**
 * Thumbs up / down under an answer, and an optional comment. Clicking the chosen thumb again
 * clears the rating. Stored on the server (`PUT …/feedback`), so it survives a reload.
 */
export function AnswerFeedback({ sessionId, m }: { sessionId: string; m: UiMessage }) {
  const rateAnswer = useChat((s) => s.rateAnswer);
  const [open, setOpen] = useState(false);
  const [draft, setDraft] = useState("");
  const [saving, setSaving] = useState(false);
  // Until the answer is stored there is nothing to rate.
  if (!storedId(m) || m.status === "error") return null;
  const rating = m.feedback?.rating;

  const rate = async (value: 1 | -1) => {
    if (rating === value) {
      setOpen(false);
      await rateAnswer(sessionId, m.id, null);
      return;
    }
    await rateAnswer(sessionId, m.id, { rating: value, comment: m.feedback?.comment ?? null });
  };

  const saveComment = async () => {
    setSaving(true);
    const ok = await rateAnswer(sessionId, m.id, { rating: rating ?? 1, comment: draft.trim() || null });
    setSaving(false);
    if (ok) setOpen(false);
  };

  return (
    <>
      <span className="inline-flex items-center" role="group" aria-label="Rate this answer" data-testid="answer-feedback">
        <button
          type="button"
          className={`btn-icon h-7 w-7 ${rating === 1 ? "text-emerald-600 dark:text-emerald-400" : ""}`}
          aria-label="Good answer"
          aria-pressed={rating === 1}
          onClick={() => void rate(1)}
        >
          <ThumbsUp size={14} fill={rating === 1 ? "currentColor" : "none"} />
        </button>
        <button
          type="button"
          className={`btn-icon h-7 w-7 ${rating === -1 ? "text-red-600 dark:text-red-400" : ""}`}
          aria-label="Bad answer"
          aria-pressed={rating === -1}
          onClick={() => void rate(-1)}
        >
          <ThumbsDown size={14} fill={rating === -1 ? "currentColor" : "none"} />
        </button>
        {rating !== undefined && (
          <button
            type="button"
            className="btn-icon h-7 w-7"
            aria-label={m.feedback?.comment ? "Edit your comment on this answer" : "Add a comment on this answer"}
            aria-expanded={open}
            title={m.feedback?.comment ?? "Add a comment"}
            onClick={() => {
              setDraft(m.feedback?.comment ?? "");
              setOpen((o) => !o);
            }}
          >
            <MessageSquare size={14} fill={m.feedback?.comment ? "currentColor" : "none"} />
          </button>
        )}
      </span>
      {open && (
        <form
          className="basis-full"
          data-testid="feedback-comment-form"
          onSubmit={(e) => {
            e.preventDefault();
            void saveComment();
          }}
        >
          <label htmlFor={`feedback-${m.id}`} className="sr-only">
            Comment on this answer
          </label>
          <textarea
            id={`feedback-${m.id}`}
            autoFocus
            rows={2}
            maxLength={COMMENT_MAX}
            value={draft}
            placeholder={rating === -1 ? "What was wrong with this answer? (optional)" : "What was good about this answer? (optional)"}
            onChange={(e) => setDraft(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === "Escape") {
                e.stopPropagation();
                setOpen(false);
              }
            }}
            className="input resize-y text-sm"
          />
          <div className="mt-1 flex justify-end gap-2">
            <button type="button" className="btn-secondary h-7 px-2 py-0 text-xs" onClick={() => setOpen(false)}>
              Cancel
            </button>
            <button type="submit" className="btn-primary h-7 px-2 py-0 text-xs" disabled={saving}>
              Save comment
            </button>
          </div>
        </form>
      )}
    </>
  );
}
