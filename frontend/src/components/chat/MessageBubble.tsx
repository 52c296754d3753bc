import { Check, Copy, Pencil, RefreshCw } from "lucide-react";
import { memo, useState } from "react";
import { copyText } from "@/lib/clipboard";
import { clockTime, formatMs, shortModel } from "@/lib/format";
import type { UiMessage } from "@/stores/chat";
import { toast } from "@/stores/toasts";
import { Markdown } from "../markdown/Markdown";

interface Props {
  message: UiMessage;
  isLastAssistant: boolean;
  busy: boolean;
  /** Stable store actions, so bubbles that did not change skip re-rendering while tokens stream. */
  onRegenerate: () => Promise<void>;
  onEdit: (messageId: string, text: string) => Promise<void>;
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
    </span>
  );
}

export const MessageBubble = memo(function MessageBubble({ message: m, isLastAssistant, busy, onRegenerate, onEdit }: Props) {
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
          <div className="mt-0.5 flex opacity-100 md:opacity-0 md:group-focus-within:opacity-100 md:group-hover:opacity-100">
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
        )}
      </div>
    );
  }

  const streaming = m.status === "streaming";
  return (
    <div id={`m-${m.id}`} className="group" data-testid="message-assistant" data-status={m.status} aria-busy={streaming}>
      {streaming && m.content === "" ? (
        <div className="flex h-7 items-center gap-1" aria-label="Assistant is typing">
          {[0, 1, 2].map((i) => (
            <span key={i} className="typing-dot h-2 w-2 rounded-full bg-zinc-400" style={{ animationDelay: `${i * 0.15}s` }} />
          ))}
        </div>
      ) : (
        <div className="message-content">
          <Markdown text={m.content} streaming={streaming} />
        </div>
      )}
      {m.status === "error" && (
        <div role="alert" className="mt-2 rounded-lg border border-red-200 bg-red-50 px-3 py-2 text-sm text-red-700 dark:border-red-900 dark:bg-red-950 dark:text-red-300">
          {m.error ?? "The answer could not be completed."}
          {m.errorDetails && (
            <details className="mt-1 text-xs opacity-80">
              <summary className="cursor-pointer select-none">Details</summary>
              <span className="select-all break-all font-mono">{m.errorDetails}</span>
            </details>
          )}
        </div>
      )}
      {!streaming && (
        <div className="mt-1 flex items-center gap-1">
          <CopyButton text={m.content} label="Copy answer" />
          {isLastAssistant && (
            <button type="button" className="btn-icon h-7 w-7" aria-label="Regenerate answer" disabled={busy} onClick={() => void onRegenerate()}>
              <RefreshCw size={14} />
            </button>
          )}
          <AnswerStats m={m} />
        </div>
      )}
    </div>
  );
});
