/**
 * Chat state. The server is the source of truth: sessions and messages are fetched from it,
 * and when a stream names a `session_id` the server stores both turns itself. This store only
 * caches what the server has plus the answer currently streaming.
 */
import { create } from "zustand";
import { ApiError } from "@/api/client";
import { api } from "@/api/endpoints";
import { resumeAnswer, stopStream, streamAnswer } from "@/hooks/use-stream";
import type { ChatMessageOut, ChatSessionOut, JsonObject, Role } from "@/api/types";
import { effectiveModel } from "./models";
import { useSettings } from "./settings";
import { toast, toastError } from "./toasts";

export type MessageStatus = "done" | "streaming" | "stopped" | "error";

export interface MessageMeta {
  model?: string;
  latencyMs?: number;
  ttftMs?: number;
  tokens?: number;
}

export interface UiMessage {
  id: string;
  role: Role;
  content: string;
  createdAt: string;
  meta: MessageMeta;
  status: MessageStatus;
  error?: string;
  /** Code and request id of the error, behind a "Details" disclosure. */
  errorDetails?: string;
  /** The server's id of a message created in this tab (local ids start with `local-`). */
  serverId?: string;
}

export const NEW_CHAT_TITLE = "New Chat";
/** The gateway's prompt limit, in Unicode code points. */
export const MAX_MESSAGE_CHARS = 10_000;
const PAGE_SIZE = 50;

interface Streaming {
  sessionId: string;
  messageId: string;
}

export interface ChatState {
  sessions: ChatSessionOut[];
  sessionsStatus: "idle" | "loading" | "ready" | "error";
  hasMore: boolean;
  messages: Record<string, UiMessage[]>;
  loading: string | null;
  activeId: string | null;
  streaming: Streaming | null;

  loadSessions: () => Promise<void>;
  loadMoreSessions: () => Promise<void>;
  openSession: (id: string) => Promise<boolean>;
  newChat: () => void;
  /**
   * Ensures a session exists, starts streaming the answer, resolves with the session id.
   * `onStored` says whether the server took the message (false: nothing was stored, the
   * message can be sent again — the composer gives the text back).
   */
  send: (text: string, onStored?: (stored: boolean) => void) => Promise<string | null>;
  stop: () => void;
  regenerate: () => Promise<void>;
  editAndResend: (messageId: string, text: string) => Promise<void>;
  rename: (id: string, title: string) => Promise<boolean>;
  remove: (id: string) => Promise<boolean>;
}

let localSeq = 0;
const localId = (p: string) => `local-${p}-${Date.now().toString(36)}-${(localSeq++).toString(36)}`;

function num(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

/** Reads the per-answer numbers whichever spelling the server stored them under. */
export function metaFromServer(meta: JsonObject | null | undefined): MessageMeta {
  if (!meta) return {};
  const usage = meta["usage"];
  const usageTokens =
    usage && typeof usage === "object" && !Array.isArray(usage) ? num(usage["completion_tokens"]) : undefined;
  return {
    model: typeof meta["model"] === "string" ? meta["model"] : undefined,
    latencyMs: num(meta["latency_ms"]),
    ttftMs: num(meta["ttft_ms"]) ?? num(meta["time_to_first_token_ms"]) ?? num(meta["first_token_ms"]),
    tokens: num(meta["completion_tokens"]) ?? num(meta["tokens"]) ?? usageTokens,
  };
}

export function fromServer(m: ChatMessageOut): UiMessage {
  const stopped = m.meta?.["stopped"] === true || m.meta?.["cancelled"] === true;
  return {
    id: m.id,
    role: m.role,
    content: m.content,
    createdAt: m.created_at,
    meta: metaFromServer(m.meta),
    status: stopped ? "stopped" : "done",
  };
}

function sortSessions(list: ChatSessionOut[]): ChatSessionOut[] {
  return [...list].sort((a, b) => (a.updated_at < b.updated_at ? 1 : a.updated_at > b.updated_at ? -1 : 0));
}

function mergeSessions(a: ChatSessionOut[], b: ChatSessionOut[]): ChatSessionOut[] {
  const byId = new Map<string, ChatSessionOut>();
  for (const s of a) byId.set(s.id, s);
  for (const s of b) byId.set(s.id, s);
  return sortSessions([...byId.values()]);
}

export const useChat = create<ChatState>()((set, get) => {
  const patchMessage = (sessionId: string, messageId: string, f: (m: UiMessage) => UiMessage) =>
    set((s) => ({
      messages: {
        ...s.messages,
        [sessionId]: (s.messages[sessionId] ?? []).map((m) => (m.id === messageId ? f(m) : m)),
      },
    }));

  const touchSession = (sessionId: string, addedMessages: number) =>
    set((s) => ({
      sessions: sortSessions(
        s.sessions.map((x) =>
          x.id === sessionId
            ? { ...x, updated_at: new Date().toISOString(), message_count: x.message_count + addedMessages }
            : x,
        ),
      ),
    }));

  /** The stored id of a message, when the server has told us (messages loaded from it have it). */
  const serverIdOf = (m: UiMessage | undefined): string | undefined =>
    m ? (m.serverId ?? (m.id.startsWith("local-") ? undefined : m.id)) : undefined;

  /** Streams an answer to `prompt` into a fresh assistant bubble appended to the session. */
  const runStream = async (
    sessionId: string,
    prompt: string,
    opts: { userMessageId?: string; replaceFrom?: string; before?: UiMessage[] } = {},
  ): Promise<boolean> => {
    const session = get().sessions.find((x) => x.id === sessionId);
    const before = opts.before ?? get().messages[sessionId] ?? [];
    const messageId = localId("a");
    const assistant: UiMessage = {
      id: messageId,
      role: "assistant",
      content: "",
      createdAt: new Date().toISOString(),
      meta: { model: effectiveModel(useSettings.getState().model) },
      status: "streaming",
    };
    set((s) => ({
      messages: { ...s.messages, [sessionId]: [...(s.messages[sessionId] ?? []), assistant] },
      streaming: { sessionId, messageId },
    }));

    const outcome = await streamAnswer(
      { sessionId, prompt, sessionSystemPrompt: session?.system_prompt, replaceFrom: opts.replaceFrom },
      {
        onToken: (token) => patchMessage(sessionId, messageId, (m) => ({ ...m, content: m.content + token })),
        onUserMessageId: (serverId) => {
          if (opts.userMessageId) patchMessage(sessionId, opts.userMessageId, (m) => ({ ...m, serverId }));
        },
      },
    );
    if (outcome.status === "error" && !outcome.accepted) {
      // Nothing was stored: the view goes back to what it was and the error is said once.
      set((s) => ({ messages: { ...s.messages, [sessionId]: before } }));
      toast.error("Message not sent", outcome.error, outcome.details);
    } else if (outcome.status === "error") {
      // Shown in the answer's bubble (one place; no toast).
      patchMessage(sessionId, messageId, (m) => ({ ...m, status: "error", error: outcome.error, errorDetails: outcome.details }));
    } else {
      const { status, latencyMs, ttftMs, tokens } = outcome;
      patchMessage(sessionId, messageId, (m) => ({ ...m, status, meta: { ...m.meta, latencyMs, ttftMs, tokens } }));
    }
    if (get().streaming?.messageId === messageId) set({ streaming: null });
    if (outcome.accepted) touchSession(sessionId, 2);
    return outcome.accepted;
  };

  /**
   * Shows an answer the gateway is still generating in the session (it goes on server-side
   * when a tab reloads or closes): a streaming bubble fed from the start, then the stored turn.
   */
  const resumeIfRunning = async (sessionId: string): Promise<void> => {
    if (get().streaming) return;
    const messageId = localId("a");
    const outcome = await resumeAnswer(sessionId, {
      onAccepted: () => {
        const bubble: UiMessage = {
          id: messageId,
          role: "assistant",
          content: "",
          createdAt: new Date().toISOString(),
          meta: {},
          status: "streaming",
        };
        set((s) => ({
          messages: { ...s.messages, [sessionId]: [...(s.messages[sessionId] ?? []), bubble] },
          streaming: { sessionId, messageId },
        }));
      },
      onToken: (token) => patchMessage(sessionId, messageId, (m) => ({ ...m, content: m.content + token })),
    });
    if (!outcome) return;
    if (outcome.status === "error") {
      patchMessage(sessionId, messageId, (m) => ({ ...m, status: "error", error: outcome.error, errorDetails: outcome.details }));
    } else {
      patchMessage(sessionId, messageId, (m) => ({ ...m, status: outcome.status, meta: { ...m.meta, tokens: outcome.tokens } }));
    }
    if (get().streaming?.messageId === messageId) set({ streaming: null });
  };

  const appendUser = (sessionId: string, text: string) => {
    const msg: UiMessage = {
      id: localId("u"),
      role: "user",
      content: text,
      createdAt: new Date().toISOString(),
      meta: {},
      status: "done",
    };
    set((s) => ({ messages: { ...s.messages, [sessionId]: [...(s.messages[sessionId] ?? []), msg] } }));
    return msg.id;
  };

  return {
    sessions: [],
    sessionsStatus: "idle",
    hasMore: false,
    messages: {},
    loading: null,
    activeId: null,
    streaming: null,

    loadSessions: async () => {
      set({ sessionsStatus: "loading" });
      try {
        const list = await api.listSessions(PAGE_SIZE);
        set((s) => ({
          sessions: mergeSessions(s.sessions, list),
          sessionsStatus: "ready",
          hasMore: list.length >= PAGE_SIZE,
        }));
      } catch (e) {
        set({ sessionsStatus: "error" });
        if (!(e instanceof ApiError)) return; // offline: the banner explains it
        toastError("Could not load conversations", e);
      }
    },

    loadMoreSessions: async () => {
      const last = get().sessions.at(-1);
      if (!last) return;
      try {
        const list = await api.listSessions(PAGE_SIZE, `${last.updated_at},${last.id}`);
        const before = get().sessions.length;
        set((s) => ({ sessions: mergeSessions(s.sessions, list) }));
        set({ hasMore: list.length >= PAGE_SIZE && get().sessions.length > before });
      } catch (e) {
        toastError("Could not load more conversations", e);
      }
    },

    openSession: async (id) => {
      set({ activeId: id });
      if (get().messages[id]) return true;
      set({ loading: id });
      try {
        const detail = await api.getSession(id);
        const { messages: msgs, ...summary } = detail;
        set((s) => ({
          messages: { ...s.messages, [id]: msgs.map(fromServer) },
          sessions: mergeSessions(s.sessions, [{ ...summary, message_count: msgs.length }]),
        }));
        void resumeIfRunning(id);
        return true;
      } catch (e) {
        if (e instanceof ApiError && (e.status === 404 || e.status === 400)) {
          set((s) => ({ sessions: s.sessions.filter((x) => x.id !== id), activeId: null }));
          toast.warning("Conversation not found", "It may have been deleted.");
        } else {
          toastError("Could not open conversation", e);
        }
        if (get().activeId === id) set({ activeId: null });
        return false;
      } finally {
        if (get().loading === id) set({ loading: null });
      }
    },

    newChat: () => set({ activeId: null }),

    send: async (raw, onStored) => {
      const text = raw.trim();
      if (!text || get().streaming || [...text].length > MAX_MESSAGE_CHARS) {
        onStored?.(false);
        return null;
      }
      let sessionId = get().activeId;
      if (!sessionId) {
        try {
          const created = await api.createSession({ title: text.slice(0, 50) });
          sessionId = created.id;
          set((s) => ({
            sessions: mergeSessions(s.sessions, [created]),
            messages: { ...s.messages, [created.id]: [] },
            activeId: created.id,
          }));
        } catch (e) {
          toastError("Could not start a conversation", e);
          onStored?.(false);
          return null;
        }
      } else {
        const session = get().sessions.find((x) => x.id === sessionId);
        if (session && session.title === NEW_CHAT_TITLE && session.message_count === 0) {
          void get().rename(sessionId, text.slice(0, 50));
        }
      }
      const before = get().messages[sessionId] ?? [];
      const userMessageId = appendUser(sessionId, text);
      void runStream(sessionId, text, { userMessageId, before }).then((stored) => onStored?.(stored));
      return sessionId;
    },

    stop: stopStream,

    regenerate: async () => {
      const sessionId = get().activeId;
      if (!sessionId || get().streaming) return;
      const list = get().messages[sessionId] ?? [];
      const lastUserIdx = list.findLastIndex((m) => m.role === "user");
      const lastUser = list[lastUserIdx];
      if (!lastUser) return;
      // Drop the answers after the last question; the new answer replaces them in view.
      // The server replaces the stored question and its answers with the new turn; when the
      // question's stored id is unknown, the new turn is appended instead.
      const replaceFrom = serverIdOf(lastUser);
      set((s) => ({ messages: { ...s.messages, [sessionId]: list.slice(0, lastUserIdx + 1) } }));
      await runStream(sessionId, lastUser.content, { userMessageId: lastUser.id, replaceFrom, before: list });
    },

    editAndResend: async (messageId, raw) => {
      const text = raw.trim();
      const sessionId = get().activeId;
      if (!text || !sessionId || get().streaming) return;
      const list = get().messages[sessionId] ?? [];
      const idx = list.findIndex((m) => m.id === messageId);
      if (idx < 0) return;
      const replaceFrom = serverIdOf(list[idx]);
      set((s) => ({ messages: { ...s.messages, [sessionId]: list.slice(0, idx) } }));
      const userMessageId = appendUser(sessionId, text);
      await runStream(sessionId, text, { userMessageId, replaceFrom, before: list });
    },

    rename: async (id, raw) => {
      const title = raw.trim().slice(0, 200);
      const prev = get().sessions.find((x) => x.id === id);
      if (!prev || !title || title === prev.title) return false;
      set((s) => ({ sessions: s.sessions.map((x) => (x.id === id ? { ...x, title } : x)) }));
      try {
        const updated = await api.updateSession(id, { title });
        set((s) => ({
          sessions: sortSessions(
            s.sessions.map((x) => (x.id === id ? { ...updated, message_count: x.message_count } : x)),
          ),
        }));
        return true;
      } catch (e) {
        set((s) => ({ sessions: s.sessions.map((x) => (x.id === id ? { ...x, title: prev.title } : x)) }));
        toastError("Rename failed", e);
        return false;
      }
    },

    remove: async (id) => {
      const before = get().sessions;
      if (get().streaming?.sessionId === id) get().stop();
      set((s) => ({
        sessions: s.sessions.filter((x) => x.id !== id),
        activeId: s.activeId === id ? null : s.activeId,
      }));
      try {
        await api.deleteSession(id);
        set((s) => {
          const messages = { ...s.messages };
          delete messages[id];
          return { messages };
        });
        return true;
      } catch (e) {
        if (e instanceof ApiError && e.status === 404) return true; // already gone
        set({ sessions: before });
        toastError("Delete failed", e);
        return false;
      }
    },
  };
});
