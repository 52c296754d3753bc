import { Check, ChevronLeft, ChevronRight, Copy, Pencil, Play, RefreshCw } from "lucide-react";
import { memo, useState } from "react";
import { copyText } from "@/lib/clipboard";
import { clockTime, formatMs, shortModel } from "@/lib/format";
import { canContinue, type UiMessage } from "@/stores/chat";
import { toast } from "@/stores/toasts";
import { Markdown } from "../markdown/Markdown";
import { AnswerFeedback } from "./AnswerFeedback";
import { AnswerSources, CitationProvider, useGrounding } from "./AnswerSources";

interface Props {
  message: UiMessage;
  /** The chat the message belongs to (answers are rated there). */
  sessionId: string;
  /**
   * For an answer: the question it answers. Regenerating makes a new version of the question
   * (same text, new answer), so the answer shows the question's switcher in its own row: on a
   * phone that is where the eye is; the question's own switcher shows from md up.
   */
  question?: UiMessage;
  isLastAssistant: boolean;
  busy: boolean;
  /** Stable store actions, so bubbles that did not change skip re-rendering while tokens stream. */
  onRegenerate: () => Promise<void>;
  onEdit: (messageId: string, text: string) => Promise<void>;
  onContinue: (messageId: string) => Promise<void>;
  onSwitchVersion: (messageId: string, delta: -1 | 1) => Promise<void>;
}

/** "‹ 2 / 3 ›": which version of a message is shown, and the way to the others. */
function VersionSwitcher({
  m,
  busy,
  onSwitch,
  what = m.role === "user" ? "message" : "answer",
  className = "inline-flex",
}: {
  m: UiMessage;
  busy: boolean;
  onSwitch: Props["onSwitchVersion"];
  what?: string;
  className?: string;
}) {
  if (m.siblingCount <= 1) return null;
  return (
    <span className={`${className} items-center text-xs text-zinc-500`} role="group" aria-label={`Versions of this ${what}`} data-testid="version-switcher">
      <button
        type="button"
        className="btn-icon h-7 w-7"
        aria-label={`Previous version of this ${what}`}
        disabled={busy || m.siblingIndex <= 1}
        onClick={() => void onSwitch(m.id, -1)}
      >
        <ChevronLeft size={14} />
      </button>
      <span className="tabular-nums" data-testid="version-label">
        {m.siblingIndex} / {m.siblingCount}
      </span>
      <button
        type="button"
        className="btn-icon h-7 w-7"
        aria-label={`Next version of this ${what}`}
        disabled={busy || m.siblingIndex >= m.siblingCount}
        onClick={() => void onSwitch(m.id, 1)}
      >
        <ChevronRight size={14} />
      </button>
    </span>
  );
}

function CopyButton({ text, label }: { text: string; label: string }) {
  const [done, setDone] = useState(false);
  return (
    <button
      type="button"
      className="btn-icon h-7 w-7"
      aria-label={label}
      onClick={async () => {
        if (await copyText(text)) {
          setDone(true);
          setTimeout(() => setDone(false), 1200);
        } else toast.error("Copy failed");
      }}
    >
      {done ? <Check size={14} /> : <Copy size={14} />}
    </button>
  );
}

function AnswerStats({ m }: { m: UiMessage }) {
  const parts: string[] = [];
  if (m.meta.model) parts.push(shortModel(m.meta.model));
  if (m.meta.ttftMs !== undefined) parts.push(`TTFT ${formatMs(m.meta.ttftMs)}`);
  if (m.meta.latencyMs !== undefined) parts.push(`total ${formatMs(m.meta.latencyMs)}`);
  if (m.meta.tokens) parts.push(`${m.meta.tokens} tokens`);
  return (
    <span className="text-[11px] text-zinc-500" data-testid="answer-stats" title={m.meta.model}>
      {clockTime(m.createdAt)}
      {parts.length > 0 && ` · ${parts.join(" · ")}`}
      {m.status === "stopped" && " · stopped"}
      {m.status !== "stopped" && m.finishReason === "length" && " · cut at max tokens"}
    </span>
  );
}

export const MessageBubble = memo(function MessageBubble({
  message: m,
  sessionId,
  question,
  isLastAssistant,
  busy,
  onRegenerate,
  onEdit,
  onContinue,
  onSwitchVersion,
}: Props) {
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(m.content);

  if (m.role === "user") {
    return (
      <div id={`m-${m.id}`} className="group flex flex-col items-end" data-testid="message-user">
        {editing ? (
          <form
            className="w-full max-w-[85%]"
            onSubmit={(e) => {
              e.preventDefault();
              setEditing(false);
              void onEdit(m.id, draft);
            }}
          >
            <label htmlFor={`edit-${m.id}`} className="sr-only">
              Edit message
            </label>
            <textarea
              id={`edit-${m.id}`}
              autoFocus
              value={draft}
              rows={Math.min(8, draft.split("\n").length + 1)}
              onChange={(e) => setDraft(e.target.value)}
              onKeyDown={(e) => {
                if (e.key === "Escape") {
                  e.stopPropagation();
                  setEditing(false);
                }
              }}
              className="input resize-y"
            />
            <div className="mt-1 flex justify-end gap-2">
              <button type="button" className="btn-secondary" onClick={() => setEditing(false)}>
                Cancel
              </button>
              <button type="submit" className="btn-primary" disabled={!draft.trim() || busy}>
                Save &amp; send
              </button>
            </div>
          </form>
        ) : (
          <div className="max-w-[85%] whitespace-pre-wrap break-words rounded-2xl bg-zinc-100 px-4 py-2.5 dark:bg-zinc-800">
            {m.content}
          </div>
        )}
        {!editing && (
          <div className="mt-0.5 flex items-center">
            {/* Below md the answer's row carries this switcher (see `question`). */}
            <VersionSwitcher m={m} busy={busy} onSwitch={onSwitchVersion} className="hidden md:inline-flex" />
            <div className="flex opacity-100 md:opacity-0 md:group-focus-within:opacity-100 md:group-hover:opacity-100">
            <button
              type="button"
              className="btn-icon h-7 w-7"
              aria-label="Edit and resend message"
              disabled={busy}
              onClick={() => {
                setDraft(m.content);
                setEditing(true);
              }}
            >
              <Pencil size={14} />
            </button>
            <CopyButton text={m.content} label="Copy message" />
            </div>
          </div>
        )}
      </div>
    );
  }

  return <AnswerBubble {...{ m, sessionId, question, isLastAssistant, busy, onRegenerate, onContinue, onSwitchVersion }} />;
});

function AnswerBubble({
  m,
  sessionId,
  question,
  isLastAssistant,
  busy,
  onRegenerate,
  onContinue,
  onSwitchVersion,
}: Omit<Props, "message" | "onEdit"> & { m: UiMessage }) {
  const { sources, valid } = useGrounding(m);
  const streaming = m.status === "streaming";
  const files = sources ? new Set(sources.map((s) => s.file_id)).size : 0;
  return (
    <div id={`m-${m.id}`} className="group" data-testid="message-assistant" data-status={m.status} aria-busy={streaming}>
      {streaming && m.content === "" ? (
        <div className="flex h-7 items-center gap-1" aria-label="Assistant is typing">
          {[0, 1, 2].map((i) => (
            <span key={i} className="typing-dot h-2 w-2 rounded-full bg-zinc-400" style={{ animationDelay: `${i * 0.15}s` }} />
          ))}
          {sources && (
            <span className="ml-2 text-xs text-zinc-500" data-testid="grounding-status">
              {sources.length > 0
                ? `Read ${sources.length} passage${sources.length === 1 ? "" : "s"} from ${files} file${files === 1 ? "" : "s"}…`
                : "Nothing relevant found in your files…"}
            </span>
          )}
        </div>
      ) : (
        (m.content !== "" || m.status !== "error") && (
          <div className="message-content">
            <CitationProvider sources={sources}>
              <Markdown text={m.content} streaming={streaming} citations={sources ? valid : undefined} />
            </CitationProvider>
          </div>
        )
      )}
      {m.status === "error" && (
        <div
          role="alert"
          data-testid="answer-error"
          className="mt-2 rounded-lg border border-red-200 bg-red-50 px-3 py-2 text-sm text-red-700 dark:border-red-900 dark:bg-red-950 dark:text-red-300"
        >
          {m.error ?? "The answer could not be completed."}
          {isLastAssistant && (
            <button
              type="button"
              className="btn-secondary ml-2 h-7 px-2 py-0 text-xs"
              disabled={busy}
              onClick={() => void onRegenerate()}
              title="Ask for this answer again (the failed one stays as an earlier version)"
            >
              <RefreshCw size={12} aria-hidden /> Retry
            </button>
          )}
          {m.errorDetails && (
            <details className="mt-1 text-xs opacity-80">
              <summary className="cursor-pointer select-none">Details</summary>
              <span className="select-all break-all font-mono">{m.errorDetails}</span>
            </details>
          )}
        </div>
      )}
      {!streaming && <AnswerSources m={m} />}
      {!streaming && (
        <div className="mt-1 flex flex-wrap items-center gap-1">
          {m.siblingCount > 1 ? (
            <VersionSwitcher m={m} busy={busy} onSwitch={onSwitchVersion} />
          ) : (
            question && <VersionSwitcher m={question} busy={busy} onSwitch={onSwitchVersion} what="answer" className="inline-flex md:hidden" />
          )}
          <CopyButton text={m.content} label="Copy answer" />
          <AnswerFeedback sessionId={sessionId} m={m} />
          {isLastAssistant && (
            <button type="button" className="btn-icon h-7 w-7" aria-label="Regenerate answer" disabled={busy} onClick={() => void onRegenerate()}>
              <RefreshCw size={14} />
            </button>
          )}
          {/* Only once the answer is read back from the server (a stored id to continue). */}
          {isLastAssistant && canContinue(m) && m.status !== "error" && !m.id.startsWith("local-") && (
            <button
              type="button"
              className="btn-secondary h-7 px-2 py-0 text-xs"
              disabled={busy}
              onClick={() => void onContinue(m.id)}
              title={m.status === "stopped" ? "Continue the stopped answer" : "Continue the answer cut at max tokens"}
            >
              <Play size={12} aria-hidden /> Continue
            </button>
          )}
          <AnswerStats m={m} />
        </div>
      )}
    </div>
  );
}
