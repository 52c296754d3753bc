import { ArrowDown, Download, Share2, SlidersHorizontal } from "lucide-react";
import { useEffect, useRef, useState } from "react";
import { useLocation, useNavigate, useParams } from "react-router";
import { useAutoScroll } from "@/hooks/use-auto-scroll";
import { useStream } from "@/hooks/use-stream";
import { exportSession } from "@/lib/export";
import { useChat, type UiMessage } from "@/stores/chat";
import { useFolders } from "@/stores/folders";
import { useSourcePanel } from "@/stores/source-panel";
import { ChatSettingsDialog } from "./ChatSettingsDialog";
import { ShareDialog } from "./ShareDialog";
import { Composer } from "./Composer";
import { KnowledgeChips } from "./KnowledgePicker";
import { MessageBubble } from "./MessageBubble";
import { SourcePanel } from "./SourcePanel";

const SUGGESTIONS = [
  "Explain how server-sent events work",
  "Write a Rust function that reverses a string",
  "Draw a mermaid flowchart of a job queue",
  "Compare Postgres SKIP LOCKED with a Redis queue in a table",
];
const EMPTY: UiMessage[] = [];

export function ChatPage() {
  const { sessionId } = useParams();
  const navigate = useNavigate();
  const { hash } = useLocation();
  const activeId = useChat((s) => s.activeId);
  const messages = useChat((s) => (s.activeId ? (s.messages[s.activeId] ?? EMPTY) : EMPTY));
  const loading = useChat((s) => s.loading !== null && s.loading === s.activeId);
  const { streaming, stop } = useStream();
  const session = useChat((s) => s.sessions.find((x) => x.id === s.activeId));
  const { openSession, showNewChat, send, regenerate, editAndResend, continueAnswer, switchVersion } = useChat.getState();
  const [settingsOpen, setSettingsOpen] = useState(false);
  const [shareOpen, setShareOpen] = useState(false);
  const { container, content, atBottom, scrollToBottom } = useAutoScroll<HTMLDivElement, HTMLDivElement>();
  const scrolledHash = useRef<string | null>(null);

  // A source panel belongs to the chat it was opened in.
  useEffect(() => useSourcePanel.getState().close(), [sessionId]);

  useEffect(() => {
    if (sessionId) {
      // A chat opened: a folder picked earlier for a new chat no longer applies.
      useFolders.getState().setDraftFolder(null);
      void openSession(sessionId).then((ok) => {
        if (!ok) void navigate("/", { replace: true });
      });
    } else {
      // Not newChat(): "New chat in folder" navigates here from a chat and its folder must stay.
      showNewChat();
    }
  }, [sessionId, openSession, showNewChat, navigate]);

  // Jump to a message picked from search results.
  useEffect(() => {
    if (!hash.startsWith("#m-") || scrolledHash.current === hash || messages.length === 0) return;
    const el = document.getElementById(hash.slice(1));
    if (!el) return;
    scrolledHash.current = hash;
    el.scrollIntoView({ block: "center" });
    el.classList.add("ring-2", "ring-amber-400", "rounded-xl");
    setTimeout(() => el.classList.remove("ring-2", "ring-amber-400", "rounded-xl"), 2500);
  }, [hash, messages]);

  // "New chat in folder": the chat is made in that folder, with its defaults, on the first send.
  const draftFolder = useFolders((s) => (s.draftFolderId ? (s.folders.find((f) => f.id === s.draftFolderId) ?? null) : null));
  const streamingHere = streaming !== null && streaming.sessionId === activeId;
  const lastAssistantId = [...messages].reverse().find((m) => m.role === "assistant")?.id;

  const onSend = async (text: string, onStored: (stored: boolean) => void) => {
    scrollToBottom();
    const id = await send(text, onStored);
    if (id && id !== sessionId) void navigate(`/chat/${id}`, { replace: !sessionId });
  };

  return (
    <div className="flex h-full">
      <div className="flex h-full min-w-0 flex-1 flex-col">
        {session && (
          <div className="flex items-center justify-between gap-2 border-b border-zinc-100 px-4 py-1.5 text-xs text-zinc-500 dark:border-zinc-900">
            <span className="flex min-w-0 items-center gap-2">
              <span className="truncate" data-testid="chat-title">
                {session.title}
              </span>
              <KnowledgeChips sessionId={session.id} />
            </span>
            <span className="flex shrink-0 gap-1">
              <button
                type="button"
                className="btn-secondary px-2 py-0.5 text-xs"
                onClick={() => setSettingsOpen(true)}
                aria-haspopup="dialog"
                title="Model, temperature, max tokens and system prompt of this chat"
              >
                {/* On a phone the buttons shrink to icons and short labels, so the title keeps room. */}
                <SlidersHorizontal size={12} aria-hidden /> <span className="sr-only sm:not-sr-only">Chat settings</span>
              </button>
              <button type="button" className="btn-secondary px-2 py-0.5 text-xs" onClick={() => setShareOpen(true)} aria-haspopup="dialog" title="A read-only link to this chat">
                <Share2 size={12} aria-hidden /> <span className="sr-only sm:not-sr-only">Share</span>
              </button>
              <button type="button" className="btn-secondary px-2 py-0.5 text-xs" onClick={() => void exportSession(session.id, session.title, "markdown")}>
                <Download size={12} aria-hidden /> <span className="sm:hidden" aria-hidden>MD</span>
                <span className="sr-only sm:not-sr-only">Markdown</span>
              </button>
              <button type="button" className="btn-secondary px-2 py-0.5 text-xs" onClick={() => void exportSession(session.id, session.title, "json")}>
                <Download size={12} aria-hidden /> JSON
              </button>
            </span>
          </div>
        )}
        <div ref={container} className="relative min-h-0 flex-1 overflow-y-auto" data-testid="message-scroll">
          <div ref={content} className="mx-auto w-full max-w-3xl space-y-6 px-4 pb-16 pt-6" role="log" aria-live="polite" aria-label="Conversation">
            {loading && messages.length === 0 && (
              <div className="space-y-3" aria-label="Loading messages">
                {[0, 1].map((i) => (
                  <div key={i} className="h-14 animate-pulse rounded-xl bg-zinc-100 dark:bg-zinc-900" />
                ))}
              </div>
            )}
            {!loading && messages.length === 0 && (
              <div className="flex flex-col items-center pt-[12vh] text-center">
                <h2 className="text-2xl font-semibold">How can I help you today?</h2>
                {draftFolder && (
                  <p className="mt-2 text-sm text-zinc-500" data-testid="new-chat-folder">
                    This chat will be saved in “{draftFolder.name}”{draftFolder.system_prompt || draftFolder.model ? ", with its settings" : ""}.
                  </p>
                )}
                <div className="mt-6 grid w-full max-w-xl grid-cols-1 gap-2 sm:grid-cols-2">
                  {SUGGESTIONS.map((s) => (
                    <button
                      key={s}
                      type="button"
                      onClick={() => void onSend(s, () => undefined)}
                      className="rounded-xl border border-zinc-200 px-3 py-2.5 text-left text-sm hover:bg-zinc-50 dark:border-zinc-800 dark:hover:bg-zinc-900"
                    >
                      {s}
                    </button>
                  ))}
                </div>
              </div>
            )}
            {messages.map((m, i) => (
              <MessageBubble
                key={m.id}
                message={m}
                sessionId={activeId ?? ""}
                question={m.role === "assistant" && messages[i - 1]?.role === "user" ? messages[i - 1] : undefined}
                isLastAssistant={m.id === lastAssistantId}
                busy={streaming !== null}
                onRegenerate={regenerate}
                onEdit={editAndResend}
                onContinue={continueAnswer}
                onSwitchVersion={switchVersion}
              />
            ))}
          </div>
        </div>
        <div className="relative">
          {!atBottom && messages.length > 0 && (
            // Over the conversation's bottom padding (pb-16 below), so it covers no bubble.
            <button
              type="button"
              onClick={() => scrollToBottom(true)}
              className="absolute -top-11 left-1/2 z-10 inline-flex -translate-x-1/2 items-center gap-1 rounded-full border border-zinc-200 bg-white px-3 py-1.5 text-xs shadow-md dark:border-zinc-700 dark:bg-zinc-900"
            >
              <ArrowDown size={14} aria-hidden /> Jump to latest
            </button>
          )}
          <Composer
            sessionId={activeId}
            streaming={streamingHere}
            disabled={streaming !== null && !streamingHere}
            onSend={(t, onStored) => void onSend(t, onStored)}
            onStop={stop}
          />
        </div>
        {session && <ChatSettingsDialog sessionId={session.id} open={settingsOpen} onClose={() => setSettingsOpen(false)} />}
        {/* Mounted while open: each opening starts from the server's status. */}
        {session && shareOpen && <ShareDialog key={session.id} sessionId={session.id} open={shareOpen} onClose={() => setShareOpen(false)} />}
      </div>
      <SourcePanel />
    </div>
  );
}
