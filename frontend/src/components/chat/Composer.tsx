import { ArrowUp, Square } from "lucide-react";
import { useEffect, useRef, useState } from "react";
import { isTouchDevice, useIsTouch } from "@/hooks/use-touch";
import { clearDraft, loadDraft, saveDraft } from "@/lib/drafts";
import { useChat } from "@/stores/chat";
import { useLimits } from "@/stores/limits";
import { ModelSelect } from "../layout/SettingsDialog";
import { ChatModelSelect } from "./ChatSettingsDialog";
import { AttachButton, KnowledgeChips } from "./KnowledgePicker";

/** The counter appears from 90 % of the server's limit on. */
const COUNTER_FROM = 0.9;

interface Props {
  /** The open chat (its own model is picked here), or null for a new chat (the global model). */
  sessionId: string | null;
  /** An answer is being written in this chat (Stop is offered). */
  streaming: boolean;
  /** An answer is being written in another chat (one at a time). */
  disabled: boolean;
  /** `onStored(false)`: the message was not stored; the composer gives the text back. */
  onSend: (text: string, onStored: (stored: boolean) => void) => void;
  onStop: () => void;
}

/** The model of the open chat, stored on the chat itself. */
function SessionModel({ sessionId }: { sessionId: string }) {
  const model = useChat((s) => s.chatSettings(sessionId).model);
  return (
    <ChatModelSelect
      id="composer-model"
      compact
      value={model}
      onChange={(m) => {
        const st = useChat.getState();
        void st.saveChatSettings(sessionId, { ...st.chatSettings(sessionId), model: m });
      }}
    />
  );
}

export function Composer({ sessionId, streaming, disabled, onSend, onStop }: Props) {
  const touch = useIsTouch();
  // Each chat has its own draft (localStorage), shown again when the chat is opened.
  const [text, setText] = useState(() => loadDraft(sessionId));
  const [draftOf, setDraftOf] = useState(sessionId);
  if (draftOf !== sessionId) {
    // Another chat opened (or the new chat got its id): its own draft, adjusted while rendering.
    setDraftOf(sessionId);
    setText(loadDraft(sessionId));
  }
  const ref = useRef<HTMLTextAreaElement>(null);
  const chars = [...text].length;
  // The server's prompt limit (GET /api/v1/auth/config); unknown: the server alone checks.
  const max = useLimits((s) => s.limits?.prompt_max_chars);
  const counting = max !== undefined && chars >= Math.floor(max * COUNTER_FROM);
  const tooLong = max !== undefined && chars > max;
  const busy = streaming || disabled;
  const edit = (value: string) => {
    setText(value);
    saveDraft(sessionId, value);
  };

  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    el.style.height = "auto";
    el.style.height = `${Math.min(el.scrollHeight, 200)}px`;
  }, [text]);

  // The message box has the focus when a chat opens (not on touch devices, where focusing
  // would pop up the on-screen keyboard over the conversation).
  useEffect(() => {
    if (!isTouchDevice()) ref.current?.focus({ preventScroll: true });
  }, [sessionId]);

  const submit = () => {
    if (!text.trim() || tooLong || busy) return;
    // The box empties at once, so the message reads as sent; a refused one comes back.
    const sent = text;
    const from = sessionId;
    setText("");
    clearDraft(from);
    onSend(sent, (stored) => {
      if (stored) return;
      setText((now) => (now.trim() ? now : sent));
      // Under the chat now open: a new chat may have got its id meanwhile.
      saveDraft(useChat.getState().activeId ?? from, sent);
      ref.current?.focus();
    });
  };

  return (
    <form
      className="mx-auto w-full max-w-3xl px-3 pb-3 sm:px-4 sm:pb-4"
      onSubmit={(e) => {
        e.preventDefault();
        submit();
      }}
    >
      <div className="rounded-2xl border border-zinc-300 bg-white shadow-sm focus-within:border-accent-500 focus-within:ring-2 focus-within:ring-violet-500/20 dark:border-zinc-700 dark:bg-zinc-900">
        {/* A new chat has no header yet: what it will answer from shows here. */}
        {!sessionId && (
          <div className="px-3 pt-2 empty:hidden">
            <KnowledgeChips sessionId={null} />
          </div>
        )}
        <label htmlFor="chat-input" className="sr-only">
          Message
        </label>
        <textarea
          id="chat-input"
          ref={ref}
          rows={1}
          value={text}
          aria-invalid={tooLong || undefined}
          aria-describedby={counting ? "chat-input-count" : busy ? "chat-input-busy" : undefined}
          onChange={(e) => edit(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
              e.preventDefault();
              submit();
            }
          }}
          placeholder={touch ? "Message Sable…" : "Message Sable…  (Enter to send, Shift+Enter for a new line)"}
          className="block max-h-[200px] w-full resize-none bg-transparent px-4 pb-1 pt-3 text-[15px] outline-none placeholder:text-zinc-400 focus-visible:outline-none"
        />
        <div className="flex items-center justify-between gap-2 px-2 pb-2">
          <div className="flex min-w-0 items-center gap-1">
            <AttachButton sessionId={sessionId} />
            {sessionId ? <SessionModel sessionId={sessionId} /> : <ModelSelect id="composer-model" compact />}
          </div>
          <div className="flex items-center gap-2">
            {counting ? (
              <span
                id="chat-input-count"
                data-testid="char-counter"
                className={`text-xs tabular-nums ${tooLong ? "font-medium text-red-600 dark:text-red-400" : "text-zinc-500"}`}
              >
                {chars.toLocaleString("en-US")} / {max.toLocaleString("en-US")}
                {tooLong ? " · too long to send" : ""}
              </span>
            ) : (
              text.length > 20 && <span className="hidden text-xs text-zinc-500 sm:inline">~{Math.ceil(text.length / 4)} tokens</span>
            )}
            {streaming ? (
              <button type="button" onClick={onStop} className="btn-secondary h-8 rounded-full px-3" aria-label="Stop generating">
                <Square size={14} fill="currentColor" /> Stop
              </button>
            ) : (
              <button
                type="submit"
                disabled={!text.trim() || disabled || tooLong}
                className="btn-primary h-8 w-8 rounded-full p-0"
                aria-label="Send message"
              >
                <ArrowUp size={16} />
              </button>
            )}
          </div>
        </div>
      </div>
      {busy && text.trim() !== "" && (
        // Why Enter does nothing now: one answer at a time; the text waits in the box.
        <p id="chat-input-busy" role="status" data-testid="composer-busy" className="mt-1 px-2 text-xs text-zinc-500">
          {streaming
            ? "An answer is being written. Send this when it ends, or press Stop."
            : "Another chat is still answering. Send this when it ends."}
        </p>
      )}
    </form>
  );
}
