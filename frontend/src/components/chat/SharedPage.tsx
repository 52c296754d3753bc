/**
 * A shared chat (`/shared/<token>`, issue 25.11): public, outside the signed-in shell. It
 * shows the chat as it was shared (title and messages, nothing about its owner); a signed-in
 * reader can continue it as a chat of their own.
 */
import { LoaderCircle, MessageSquarePlus } from "lucide-react";
import { useEffect, useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { ApiError, describeError } from "@/api/client";
import { shareApi, type SharedChat } from "@/api/organise";
import { clockTime } from "@/lib/format";
import { useAuth } from "@/stores/auth";
import { useChat } from "@/stores/chat";
import { toastError } from "@/stores/toasts";
import { Toasts } from "../layout/Toasts";
import { Markdown } from "../markdown/Markdown";

type Load = { state: "loading" } | { state: "ready"; chat: SharedChat } | { state: "gone" } | { state: "error"; message: string };

function errorText(meta: SharedChat["messages"][number]["meta"]): string | null {
  const error = meta?.error;
  if (error && typeof error === "object" && !Array.isArray(error) && typeof error.message === "string") return error.message;
  return null;
}

export function SharedPage() {
  const { token = "" } = useParams();
  const [load, setLoad] = useState<Load>({ state: "loading" });
  const [copying, setCopying] = useState(false);
  const auth = useAuth((s) => s.status);
  const navigate = useNavigate();

  useEffect(() => {
    let live = true;
    shareApi
      .read(token)
      .then((chat) => live && setLoad({ state: "ready", chat }))
      .catch((e: unknown) => {
        if (!live) return;
        if (e instanceof ApiError && e.status === 404) setLoad({ state: "gone" });
        else setLoad({ state: "error", message: describeError(e) });
      });
    return () => {
      live = false;
    };
  }, [token]);

  useEffect(() => {
    if (load.state === "ready") document.title = `${load.chat.title} · Shared chat · Sable`;
  }, [load]);

  const signedIn = auth === "signed-in" || auth === "off";
  const continueChat = async () => {
    setCopying(true);
    try {
      const copy = await shareApi.copy(token);
      await useChat.getState().loadSessions();
      void navigate(`/chat/${copy.id}`);
    } catch (e) {
      toastError("Could not continue this chat", e);
      setCopying(false);
    }
  };

  return (
    <div className="flex h-full flex-col overflow-y-auto bg-white dark:bg-zinc-950">
      <header className="sticky top-0 z-10 flex items-center justify-between gap-2 border-b border-zinc-200 bg-white/95 px-4 py-2 dark:border-zinc-800 dark:bg-zinc-950/95">
        <Link to="/" className="flex items-center gap-2 text-sm font-semibold">
          <img src="/favicon.svg" alt="" className="h-6 w-6" /> Sable
        </Link>
        {load.state === "ready" &&
          (signedIn ? (
            <button type="button" className="btn-primary" disabled={copying} onClick={() => void continueChat()}>
              <MessageSquarePlus size={16} aria-hidden /> Continue this chat
            </button>
          ) : auth === "signed-out" ? (
            <Link className="btn-primary" to={`/sign-in?next=${encodeURIComponent(`/shared/${token}`)}`}>
              Sign in to continue this chat
            </Link>
          ) : null)}
      </header>
      {/* Outside the app shell, so its own notifications (a failed "Continue this chat"). */}
      <Toasts />
      <main className="mx-auto w-full max-w-3xl flex-1 px-4 pb-16 pt-6">
        {load.state === "loading" && (
          <div className="flex justify-center pt-20 text-zinc-400" aria-busy="true" aria-label="Loading">
            <LoaderCircle size={20} className="animate-spin" aria-hidden />
          </div>
        )}
        {load.state === "gone" && (
          <div className="pt-20 text-center">
            <h1 className="text-xl font-semibold">This shared chat is not available</h1>
            <p className="mt-2 text-sm text-zinc-500">The link is wrong, or its owner stopped sharing the chat.</p>
          </div>
        )}
        {load.state === "error" && (
          <p role="alert" className="pt-20 text-center text-sm text-red-600">
            Could not load the shared chat: {load.message}
          </p>
        )}
        {load.state === "ready" && (
          <>
            <h1 className="text-xl font-semibold" data-testid="shared-title">
              {load.chat.title}
            </h1>
            <p className="mb-6 mt-1 text-xs text-zinc-500">
              Shared chat · a read-only copy as of {new Date(load.chat.shared_at).toLocaleString()}
            </p>
            <div className="space-y-6" role="log" aria-label="Shared conversation">
              {load.chat.messages.map((m, i) =>
                m.role === "user" ? (
                  <div key={i} className="flex justify-end" data-testid="shared-user">
                    <div className="max-w-[85%] whitespace-pre-wrap break-words rounded-2xl bg-zinc-100 px-4 py-2.5 dark:bg-zinc-800">{m.content}</div>
                  </div>
                ) : (
                  <div key={i} data-testid={m.role === "assistant" ? "shared-assistant" : "shared-system"} className="min-w-0">
                    {m.content && <Markdown text={m.content} />}
                    {errorText(m.meta) && (
                      <p className="mt-1 text-sm text-red-600 dark:text-red-400">This answer failed: {errorText(m.meta)}</p>
                    )}
                    <span className="text-[11px] text-zinc-500">
                      {clockTime(m.created_at)}
                      {typeof m.meta?.model === "string" && ` · ${m.meta.model}`}
                    </span>
                  </div>
                ),
              )}
            </div>
          </>
        )}
      </main>
    </div>
  );
}
