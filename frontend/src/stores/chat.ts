/**
 * Chat state. The server is the source of truth: sessions and messages are fetched from it,
 * and when a stream names a `session_id` the server stores both turns itself. This store only
 * caches what the server has plus the answer currently streaming.
 */
import { create } from "zustand";
import { ApiError } from "@/api/client";
import { api } from "@/api/endpoints";
import { continueAnswer as continueStream, resumeAnswer, stopStream, streamAnswer } from "@/hooks/use-stream";
import type { ChatMessageOut, ChatSessionDetail, ChatSessionImport, ChatSessionOut, JsonObject, JsonValue, Role } from "@/api/types";
import { effectiveChatSettings, newChatBody, settingsPatch, type ChatSettings } from "@/lib/chat-settings";
import { StreamError } from "@/api/sse";
import { parseCited, parseSources, type Source } from "@/lib/citations";
import { humanError } from "@/lib/errors";
import { type Knowledge, NO_KNOWLEDGE } from "@/lib/knowledge";
import { currentLimits } from "./limits";
import { effectiveModel } from "./models";
import { useSettings } from "./settings";
import { useFolders } from "./folders";
import { requestedFor, stillFor } from "./session-user";
import { toast, toastError } from "./toasts";

export type MessageStatus = "done" | "streaming" | "stopped" | "error";

export interface MessageMeta {
  model?: string;
  latencyMs?: number;
  ttftMs?: number;
  tokens?: number;
  /** A grounded answer's numbered passages (`meta.sources`; on a stream, its `meta` event). */
  sources?: Source[];
  /** The numbers the answer cites (`meta.cited`), once stored. */
  cited?: number[];
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
  /** Branches: how many versions this message has (edits and regenerations add versions)… */
  siblingCount: number;
  /** …and which one this is, 1-based, oldest first. */
  siblingIndex: number;
  /** The stored `finish_reason` of an answer ("length": cut at max tokens, can be continued). */
  finishReason?: string;
  /** The user's rating of an answer (thumbs up 1, down -1) and comment, as stored. */
  feedback?: AnswerFeedback;
}

export interface AnswerFeedback {
  rating: 1 | -1;
  comment: string | null;
}

/** The server id of a message (local ids exist only until the message is stored). */
export const storedId = (m: UiMessage): string | null =>
  m.serverId ?? (m.id.startsWith("local-") ? null : m.id);

/** Whether an answer can be continued: it was stopped, or cut at max tokens. */
export const canContinue = (m: UiMessage) =>
  m.role === "assistant" && (m.status === "stopped" || m.finishReason === "length");

export const NEW_CHAT_TITLE = "New Chat";
const PAGE_SIZE = 50;
/** A folder's chats are read in pages of this many (the server's largest)… */
const FOLDER_PAGE_SIZE = 200;
/** …up to this many pages. */
const FOLDER_PAGES_MAX = 5;

interface Streaming {
  sessionId: string;
  messageId: string;
}

export interface ChatState {
  /** Every chat loaded so far: pages of the list, pinned chats, archived chats once asked for. */
  sessions: ChatSessionOut[];
  sessionsStatus: "idle" | "loading" | "ready" | "error";
  archivedStatus: "idle" | "loading" | "ready" | "error";
  hasMore: boolean;
  /** `before` cursor of the next page of unarchived chats. */
  pageCursor: string | null;
  /** Folders whose chats were read with the folder filter (once each, when first expanded). */
  folderSessionsLoaded: string[];
  messages: Record<string, UiMessage[]>;
  loading: string | null;
  activeId: string | null;
  streaming: Streaming | null;

  /** The knowledge picked for the new chat (no session yet): given to it when it is created. */
  draftKnowledge: Knowledge;
  /** Sets a chat's knowledge (null: the new chat's draft); the server's answer wins. */
  setKnowledge: (id: string | null, knowledge: Knowledge) => Promise<boolean>;

  loadSessions: () => Promise<void>;
  /**
   * Reads a folder's unarchived chats with the `folder_id` filter, so a folder shows its chats
   * even when they are older than the pages loaded so far. Once per folder.
   */
  loadFolderSessions: (folderId: string) => Promise<void>;
  loadMoreSessions: () => Promise<void>;
  openSession: (id: string) => Promise<boolean>;
  /** "New chat": no chat open, and the next one is made outside any folder. */
  newChat: () => void;
  /**
   * The empty chat page is shown (route "/"): no chat open. The folder picked with "New chat in
   * folder" stays, since that page is where its chat is started.
   */
  showNewChat: () => void;
  /**
   * Ensures a session exists, starts streaming the answer, resolves with the session id.
   * `onStored` says whether the server took the message (false: nothing was stored, the
   * message can be sent again — the composer gives the text back).
   */
  send: (text: string, onStored?: (stored: boolean) => void) => Promise<string | null>;
  stop: () => void;
  regenerate: () => Promise<void>;
  editAndResend: (messageId: string, text: string) => Promise<void>;
  /** Streams the continuation of a stopped or length-cut answer into the same message. */
  continueAnswer: (messageId: string) => Promise<void>;
  /** Shows the previous (-1) or next (+1) version of a message and the branch below it. */
  switchVersion: (messageId: string, delta: -1 | 1) => Promise<void>;
  /** Reloads a chat's active path from the server (ids, versions, stored meta). */
  syncSession: (id: string) => Promise<void>;
  rename: (id: string, title: string) => Promise<boolean>;
  setPinned: (id: string, pinned: boolean) => Promise<boolean>;
  setArchived: (id: string, archived: boolean) => Promise<boolean>;
  /** Moves a chat into a folder (null: out of its folder). */
  setFolder: (id: string, folderId: string | null) => Promise<boolean>;
  loadArchived: () => Promise<void>;
  /** Stores a chat's own model, temperature, max tokens and system prompt. */
  saveChatSettings: (id: string, settings: ChatSettings) => Promise<boolean>;
  /** The settings a generation in this chat uses. */
  chatSettings: (id: string | null) => ChatSettings;
  /** Imports a file of Sable's JSON export as a new chat; resolves with its id. */
  importChat: (text: string) => Promise<string | null>;
  /**
   * Rates an answer of a chat (null clears the rating), optimistically; the stored rating
   * comes back on failure. Resolves with whether the server took it.
   */
  rateAnswer: (sessionId: string, messageId: string, feedback: AnswerFeedback | null) => Promise<boolean>;
  remove: (id: string) => Promise<boolean>;
}

/**
 * When to look for the title the gateway generates in the background after a chat's first
 * answer (ms after the answer). Mutable for tests.
 */
export const titlePoll = { delaysMs: [1_500, 4_000, 9_000] };

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
  const out: MessageMeta = {
    model: typeof meta["model"] === "string" ? meta["model"] : undefined,
    latencyMs: num(meta["latency_ms"]),
    ttftMs: num(meta["ttft_ms"]) ?? num(meta["time_to_first_token_ms"]) ?? num(meta["first_token_ms"]),
    tokens: num(meta["completion_tokens"]) ?? num(meta["tokens"]) ?? usageTokens,
  };
  return { ...out, ...groundingFrom(meta) };
}

/** `sources` and `cited` of a stored answer or of a stream's `meta` event (absent: none). */
export function groundingFrom(meta: JsonObject): Pick<MessageMeta, "sources" | "cited"> {
  const out: Pick<MessageMeta, "sources" | "cited"> = {};
  if ("sources" in meta) out.sources = parseSources(meta["sources"]);
  const cited = parseCited(meta["cited"]);
  if (cited) out.cited = cited;
  return out;
}

/**
 * A stored answer's failure, `meta.error`: `{code, message}` (older answers stored only the
 * message). Null when the answer did not fail.
 */
export function storedError(meta: JsonObject | null | undefined): { message: string; details: string } | null {
  const error = meta?.["error"];
  // Read as the stream said it ("CODE: message"), so a reload shows the same sentence.
  const human = (text: string) => humanError(new StreamError(text));
  if (typeof error === "string") return error ? { message: human(error).message, details: error } : null;
  if (!error || typeof error !== "object" || Array.isArray(error)) return null;
  const code = typeof error["code"] === "string" ? error["code"] : "";
  const text = typeof error["message"] === "string" ? error["message"] : "";
  const h = human(code ? `${code}: ${text}` : text);
  return { message: h.message, details: h.details ?? (code ? `${code}: ${text}` : text) };
}

export function fromServer(m: ChatMessageOut): UiMessage {
  const stopped = m.meta?.["stopped"] === true || m.meta?.["cancelled"] === true;
  const failure = m.role === "assistant" ? storedError(m.meta) : null;
  const finish = m.meta?.["finish_reason"];
  const failed = failure !== null;
  return {
    id: m.id,
    role: m.role,
    content: m.content,
    createdAt: m.created_at,
    meta: metaFromServer(m.meta),
    status: failed ? "error" : stopped ? "stopped" : "done",
    ...(failure ? { error: failure.message, errorDetails: failure.details } : {}),
    siblingCount: m.sibling_count ?? 1,
    siblingIndex: m.sibling_index ?? 1,
    finishReason: typeof finish === "string" ? finish : undefined,
    ...(m.feedback && (m.feedback.rating === 1 || m.feedback.rating === -1)
      ? { feedback: { rating: m.feedback.rating, comment: m.feedback.comment ?? null } }
      : {}),
  };
}

/**
 * Reads a file written by Sable's JSON export (`…/export?format=json`) into an import body;
 * null when it is not one (no `messages` list of role/content objects).
 */
export function parseExport(text: string): ChatSessionImport | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (!v || typeof v !== "object" || Array.isArray(v)) return null;
  const o = v as Record<string, unknown>;
  if (!Array.isArray(o["messages"])) return null;
  const roles = new Set<string>(["user", "assistant", "system"]);
  const messages: ChatSessionImport["messages"] = [];
  for (const raw of o["messages"] as unknown[]) {
    if (!raw || typeof raw !== "object") return null;
    const m = raw as Record<string, unknown>;
    const role = m["role"];
    const content = m["content"];
    if (typeof role !== "string" || !roles.has(role) || typeof content !== "string") return null;
    const meta = m["meta"];
    messages.push({
      role: role as Role,
      content,
      meta: meta && typeof meta === "object" && !Array.isArray(meta) ? (meta as { [k: string]: JsonValue }) : null,
    });
  }
  const str = (k: string) => (typeof o[k] === "string" ? o[k] : null);
  const numOrNull = (k: string) => (typeof o[k] === "number" ? o[k] : null);
  const bool = (k: string) => (typeof o[k] === "boolean" ? o[k] : null);
  return {
    title: str("title"),
    system_prompt: str("system_prompt"),
    model: str("model"),
    temperature: numOrNull("temperature"),
    max_tokens: numOrNull("max_tokens"),
    pinned: bool("pinned"),
    archived: bool("archived"),
    messages,
  };
}

/** Date groups of the sidebar, newest first. */
export type DateGroup = "Today" | "Yesterday" | "Previous 7 days" | "Older";
export const DATE_GROUPS: DateGroup[] = ["Today", "Yesterday", "Previous 7 days", "Older"];

/** Which date group a chat updated at `iso` falls in, by local calendar days before `now`. */
export function dateGroup(iso: string, now: Date = new Date()): DateGroup {
  const startOfDay = (d: Date) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  const t = new Date(iso);
  if (Number.isNaN(t.getTime())) return "Older";
  const days = Math.round((startOfDay(now) - startOfDay(t)) / 86_400_000);
  if (days <= 0) return "Today";
  if (days === 1) return "Yesterday";
  if (days <= 7) return "Previous 7 days";
  return "Older";
}

/**
 * The sidebar's groups: pinned chats first, then the others by date (archived chats are left
 * out; `archived: true` lists only them, newest first, in one group).
 */
export function groupSessions(
  sessions: ChatSessionOut[],
  opts: { archived?: boolean; now?: Date } = {},
): { label: "Pinned" | "Archived" | DateGroup; sessions: ChatSessionOut[] }[] {
  if (opts.archived) {
    const list = sessions.filter((s) => s.archived === true);
    return list.length ? [{ label: "Archived", sessions: list }] : [];
  }
  const live = sessions.filter((s) => s.archived !== true);
  const out: { label: "Pinned" | "Archived" | DateGroup; sessions: ChatSessionOut[] }[] = [];
  const pinned = live.filter((s) => s.pinned === true);
  if (pinned.length) out.push({ label: "Pinned", sessions: pinned });
  for (const label of DATE_GROUPS) {
    const list = live.filter((s) => s.pinned !== true && dateGroup(s.updated_at, opts.now) === label);
    if (list.length) out.push({ label, sessions: list });
  }
  return out;
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

type UserData =
  | "sessions"
  | "sessionsStatus"
  | "archivedStatus"
  | "hasMore"
  | "pageCursor"
  | "folderSessionsLoaded"
  | "messages"
  | "loading"
  | "activeId"
  | "draftKnowledge";

/** The chats of no one: the store before anything is loaded, and after its user changes. */
export function emptyChatData(): Pick<ChatState, UserData> {
  return {
    sessions: [],
    sessionsStatus: "idle",
    archivedStatus: "idle",
    hasMore: false,
    pageCursor: null,
    folderSessionsLoaded: [],
    messages: {},
    loading: null,
    activeId: null,
    draftKnowledge: NO_KNOWLEDGE,
  };
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
      meta: { model: effectiveModel(effectiveChatSettings(session, useSettings.getState()).model) },
      status: "streaming",
      siblingCount: 1,
      siblingIndex: 1,
    };
    set((s) => ({
      messages: { ...s.messages, [sessionId]: [...(s.messages[sessionId] ?? []), assistant] },
      streaming: { sessionId, messageId },
    }));

    const outcome = await streamAnswer(
      { sessionId, prompt, session, replaceFrom: opts.replaceFrom },
      {
        onToken: (token) => patchMessage(sessionId, messageId, (m) => ({ ...m, content: m.content + token })),
        onMeta: (meta) => patchMessage(sessionId, messageId, (m) => ({ ...m, meta: { ...m.meta, ...groundingFrom(meta) } })),
        onUserMessageId: (serverId) => {
          if (opts.userMessageId) patchMessage(sessionId, opts.userMessageId, (m) => ({ ...m, serverId }));
          // The gateway titled a new chat from this message as it stored it.
          if (before.length === 0) void refreshSummary(sessionId);
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
    // A failed answer is stored too (meta.error): reading it back gives the bubble its id.
    if (outcome.status !== "error") afterAnswer(sessionId, before.length === 0);
    else if (outcome.accepted) void get().syncSession(sessionId);
    return outcome.accepted;
  };

  /**
   * Once an answer is stored: the chat is read back (server ids, versions for the switcher,
   * stored meta such as finish_reason), and after a chat's first answer its title is looked up
   * a few times, since the gateway writes a better one in the background.
   */
  const afterAnswer = (sessionId: string, firstAnswer: boolean) => {
    void get().syncSession(sessionId);
    if (!firstAnswer) return;
    for (const ms of titlePoll.delaysMs) setTimeout(() => void refreshSummary(sessionId), ms);
  };

  /** Refreshes one chat's row (title, flags) from the server without loading its messages. */
  const refreshSummary = async (sessionId: string) => {
    if (!get().sessions.some((x) => x.id === sessionId)) return;
    try {
      const { messages: _page, ...summary } = await api.getSession(sessionId, 1);
      set((s) => ({
        sessions: s.sessions.map((x) => (x.id === sessionId ? { ...x, title: summary.title } : x)),
      }));
    } catch {
      /* the next look (or the next list load) will do */
    }
  };

  const showDetail = (id: string, detail: ChatSessionDetail) => {
    const { messages: msgs, ...summary } = detail;
    set((s) => ({
      messages: { ...s.messages, [id]: msgs.map(fromServer) },
      sessions: mergeSessions(s.sessions, [{ ...summary, message_count: msgs.length }]),
    }));
  };

  /** Applies a PATCH optimistically; the server's answer (or the old row on failure) wins. */
  const patchSession = async (id: string, patch: Partial<ChatSessionOut>, failTitle: string): Promise<boolean> => {
    const prev = get().sessions.find((x) => x.id === id);
    if (!prev) return false;
    set((s) => ({ sessions: s.sessions.map((x) => (x.id === id ? { ...x, ...patch } : x)) }));
    try {
      const updated = await api.updateSession(id, patch);
      set((s) => ({
        sessions: sortSessions(s.sessions.map((x) => (x.id === id ? { ...updated, message_count: x.message_count } : x))),
      }));
      return true;
    } catch (e) {
      set((s) => ({ sessions: s.sessions.map((x) => (x.id === id ? prev : x)) }));
      toastError(failTitle, e);
      return false;
    }
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
          siblingCount: 1,
          siblingIndex: 1,
        };
        set((s) => ({
          messages: { ...s.messages, [sessionId]: [...(s.messages[sessionId] ?? []), bubble] },
          streaming: { sessionId, messageId },
        }));
      },
      onToken: (token) => patchMessage(sessionId, messageId, (m) => ({ ...m, content: m.content + token })),
      onMeta: (meta) => patchMessage(sessionId, messageId, (m) => ({ ...m, meta: { ...m.meta, ...groundingFrom(meta) } })),
    });
    if (!outcome) return;
    if (outcome.status === "error") {
      patchMessage(sessionId, messageId, (m) => ({ ...m, status: "error", error: outcome.error, errorDetails: outcome.details }));
    } else {
      patchMessage(sessionId, messageId, (m) => ({ ...m, status: outcome.status, meta: { ...m.meta, tokens: outcome.tokens } }));
    }
    if (get().streaming?.messageId === messageId) set({ streaming: null });
    if (outcome.status !== "error") void get().syncSession(sessionId);
  };

  const appendUser = (sessionId: string, text: string) => {
    const msg: UiMessage = {
      id: localId("u"),
      role: "user",
      content: text,
      createdAt: new Date().toISOString(),
      meta: {},
      status: "done",
      siblingCount: 1,
      siblingIndex: 1,
    };
    set((s) => ({ messages: { ...s.messages, [sessionId]: [...(s.messages[sessionId] ?? []), msg] } }));
    return msg.id;
  };

  return {
    ...emptyChatData(),
    streaming: null,

    // The lists and an opened chat are kept only while the user they were asked for is still
    // signed in: after a sign-out or another user's sign-in (the stores are reset) an answer
    // that arrives late belongs to nobody on screen.
    loadSessions: async () => {
      set({ sessionsStatus: "loading" });
      const user = requestedFor();
      try {
        // The newest unarchived chats, plus every pinned one (they head the list even when old).
        const [list, pinned] = await Promise.all([
          api.listSessions(PAGE_SIZE, undefined, { archived: false }),
          api.listSessions(200, undefined, { pinned: true, archived: false }).catch(() => []),
        ]);
        if (!stillFor(user)) return;
        const last = list.at(-1);
        set((s) => ({
          sessions: mergeSessions(s.sessions, [...list, ...pinned]),
          sessionsStatus: "ready",
          hasMore: list.length >= PAGE_SIZE,
          pageCursor: last ? `${last.updated_at},${last.id}` : null,
        }));
      } catch (e) {
        if (!stillFor(user)) return;
        set({ sessionsStatus: "error" });
        if (!(e instanceof ApiError)) return; // offline: the banner explains it
        toastError("Could not load conversations", e);
      }
    },

    loadFolderSessions: async (folderId) => {
      if (get().folderSessionsLoaded.includes(folderId)) return;
      set((s) => ({ folderSessionsLoaded: [...s.folderSessionsLoaded, folderId] }));
      const user = requestedFor();
      try {
        let before: string | undefined;
        for (let page = 0; page < FOLDER_PAGES_MAX; page++) {
          const list = await api.listSessions(FOLDER_PAGE_SIZE, before, { archived: false, folderId });
          if (!stillFor(user)) return;
          set((s) => ({ sessions: mergeSessions(s.sessions, list) }));
          const last = list.at(-1);
          if (list.length < FOLDER_PAGE_SIZE || !last) break;
          before = `${last.updated_at},${last.id}`;
        }
      } catch (e) {
        if (!stillFor(user)) return;
        // Tried again the next time the folder is expanded.
        set((s) => ({ folderSessionsLoaded: s.folderSessionsLoaded.filter((x) => x !== folderId) }));
        if (e instanceof ApiError) toastError("Could not load the folder's chats", e);
      }
    },

    loadMoreSessions: async () => {
      const cursor = get().pageCursor;
      if (!cursor) return;
      const user = requestedFor();
      try {
        const list = await api.listSessions(PAGE_SIZE, cursor, { archived: false });
        if (!stillFor(user)) return;
        const before = get().sessions.length;
        const last = list.at(-1);
        set((s) => ({ sessions: mergeSessions(s.sessions, list), pageCursor: last ? `${last.updated_at},${last.id}` : null }));
        set({ hasMore: list.length >= PAGE_SIZE && get().sessions.length > before });
      } catch (e) {
        if (stillFor(user)) toastError("Could not load more conversations", e);
      }
    },

    loadArchived: async () => {
      set({ archivedStatus: "loading" });
      const user = requestedFor();
      try {
        const list = await api.listSessions(200, undefined, { archived: true });
        if (!stillFor(user)) return;
        set((s) => ({ sessions: mergeSessions(s.sessions, list), archivedStatus: "ready" }));
      } catch (e) {
        if (!stillFor(user)) return;
        set({ archivedStatus: "error" });
        toastError("Could not load archived conversations", e);
      }
    },

    openSession: async (id) => {
      set({ activeId: id });
      if (get().messages[id]) return true;
      set({ loading: id });
      const user = requestedFor();
      try {
        const detail = await api.getSession(id);
        if (!stillFor(user)) return false;
        showDetail(id, detail);
        void resumeIfRunning(id);
        return true;
      } catch (e) {
        if (!stillFor(user)) return false;
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

    newChat: () => {
      set({ activeId: null });
      useFolders.getState().setDraftFolder(null);
    },

    showNewChat: () => set({ activeId: null }),

    send: async (raw, onStored) => {
      const text = raw.trim();
      const max = currentLimits()?.prompt_max_chars;
      if (!text || get().streaming || (max !== undefined && [...text].length > max)) {
        onStored?.(false);
        return null;
      }
      let sessionId = get().activeId;
      if (!sessionId) {
        try {
          // Untitled: the gateway titles the chat from this message (never mid-word), and
          // later from the model, which it only does while that automatic title is in place.
          const knowledge = get().draftKnowledge;
          const body = useFolders.getState().newChatBody(newChatBody(useSettings.getState()));
          const created = await api.createSession(knowledge.collection_ids.length || knowledge.file_ids.length ? { ...body, knowledge } : body);
          sessionId = created.id;
          set((s) => ({
            sessions: mergeSessions(s.sessions, [created]),
            messages: { ...s.messages, [created.id]: [] },
            activeId: created.id,
            draftKnowledge: NO_KNOWLEDGE,
          }));
          useFolders.getState().setDraftFolder(null);
        } catch (e) {
          toastError("Could not start a conversation", e);
          onStored?.(false);
          return null;
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

    continueAnswer: async (messageId) => {
      const sessionId = get().activeId;
      if (!sessionId || get().streaming) return;
      const target = (get().messages[sessionId] ?? []).find((m) => m.id === messageId);
      const storedId = serverIdOf(target);
      if (!target || !storedId || !canContinue(target)) return;
      const was = target;
      patchMessage(sessionId, messageId, (m) => ({ ...m, status: "streaming", error: undefined }));
      set({ streaming: { sessionId, messageId } });
      const outcome = await continueStream(sessionId, storedId, {
        onToken: (token) => patchMessage(sessionId, messageId, (m) => ({ ...m, content: m.content + token })),
      });
      if (get().streaming?.messageId === messageId) set({ streaming: null });
      if (outcome.status === "error" && !outcome.accepted) {
        patchMessage(sessionId, messageId, () => was);
        toast.error("Could not continue the answer", outcome.error, outcome.details);
        return;
      }
      if (outcome.status === "error") {
        patchMessage(sessionId, messageId, (m) => ({ ...m, status: "error", error: outcome.error, errorDetails: outcome.details }));
        return;
      }
      patchMessage(sessionId, messageId, (m) => ({ ...m, status: outcome.status, finishReason: undefined }));
      touchSession(sessionId, 0);
      void get().syncSession(sessionId);
    },

    switchVersion: async (messageId, delta) => {
      const sessionId = get().activeId;
      if (!sessionId || get().streaming?.sessionId === sessionId) return;
      const m = (get().messages[sessionId] ?? []).find((x) => x.id === messageId);
      const storedId = serverIdOf(m);
      if (!m || !storedId) return;
      const user = requestedFor();
      try {
        const { ids } = await api.messageVersions(sessionId, storedId);
        const target = ids[m.siblingIndex - 1 + delta];
        if (!target || !stillFor(user)) return;
        const detail = await api.activateMessage(sessionId, target);
        if (stillFor(user)) showDetail(sessionId, detail);
      } catch (e) {
        if (stillFor(user)) toastError("Could not switch versions", e);
      }
    },

    syncSession: async (id) => {
      if (get().streaming?.sessionId === id) return;
      const user = requestedFor();
      try {
        const detail = await api.getSession(id);
        // An answer started meanwhile: its bubble stays; the next sync will catch up. Another
        // user signed in (or out) meanwhile: the chat is not theirs.
        if (get().streaming?.sessionId === id || !stillFor(user)) return;
        showDetail(id, detail);
      } catch (e) {
        console.warn("could not reload the conversation", e);
      }
    },

    setPinned: (id, pinned) => patchSession(id, { pinned }, pinned ? "Could not pin" : "Could not unpin"),

    setFolder: (id, folderId) => patchSession(id, { folder_id: folderId }, "Could not move the chat"),
    setArchived: (id, archived) => patchSession(id, { archived }, archived ? "Could not archive" : "Could not unarchive"),

    chatSettings: (id) =>
      effectiveChatSettings(get().sessions.find((x) => x.id === id), useSettings.getState()),

    setKnowledge: async (id, knowledge) => {
      if (id === null) {
        set({ draftKnowledge: knowledge });
        return true;
      }
      return patchSession(id, { knowledge }, "Could not change the chat's files");
    },

    saveChatSettings: (id, settings) => patchSession(id, settingsPatch(settings), "Could not save the chat's settings"),

    importChat: async (text) => {
      const body = parseExport(text);
      if (!body) {
        toast.error("Not a Sable chat export", "Choose a file saved with Export → JSON.");
        return null;
      }
      try {
        const { already_imported: already, ...created } = await api.importSession(body);
        set((s) => ({ sessions: mergeSessions(s.sessions, [created]) }));
        if (already) toast.info("Already imported", `You imported this chat before: opening “${created.title}” instead of making a copy.`);
        else toast.success("Chat imported");
        return created.id;
      } catch (e) {
        toastError("Import failed", e);
        return null;
      }
    },

    rateAnswer: async (sessionId, messageId, feedback) => {
      const message = get().messages[sessionId]?.find((m) => m.id === messageId);
      const serverId = message ? storedId(message) : null;
      if (!message || !serverId) return false;
      const before = message.feedback;
      const apply = (f: AnswerFeedback | undefined) =>
        patchMessage(sessionId, messageId, (m) => {
          const { feedback: _old, ...rest } = m;
          return f ? { ...rest, feedback: f } : rest;
        });
      apply(feedback ?? undefined);
      try {
        if (feedback) {
          const stored = await api.putFeedback(sessionId, serverId, { rating: feedback.rating, comment: feedback.comment });
          apply(fromServer(stored).feedback);
        } else {
          await api.deleteFeedback(sessionId, serverId);
        }
        return true;
      } catch (e) {
        apply(before);
        toastError("Could not save your feedback", e);
        return false;
      }
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
