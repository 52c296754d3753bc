/**
 * Streaming one answer: the generate request built from the settings, the SSE fetch, timing
 * (time to first token, latency, token count) and stop. The chat store calls `streamAnswer`
 * and keeps only the resulting messages; components read the streaming state via `useStream`.
 */
import { api } from "@/api/endpoints";
import type { StreamEnd } from "@/api/sse";
import { humanError } from "@/lib/errors";
import type { ChatSessionOut, GenerateRequest, JsonObject } from "@/api/types";
import { effectiveChatSettings } from "@/lib/chat-settings";
import { useChat } from "@/stores/chat";
import { useSettings } from "@/stores/settings";

export interface StreamRequest {
  sessionId: string;
  prompt: string;
  /** The chat: its own settings (model, temperature, max tokens, system prompt) apply. */
  session?: ChatSessionOut;
  /** Stored message id: the new turn becomes a new version (sibling) of it. */
  replaceFrom?: string;
}

export interface StreamStats {
  latencyMs: number;
  ttftMs?: number;
  tokens: number;
}

/**
 * `accepted`: the server answered the request (and stored the user turn); an error before that
 * means nothing was stored, so the message can simply be sent again.
 */
export type StreamOutcome = StreamStats & { accepted: boolean } & (
    | { status: "done" }
    | { status: "stopped" }
    | { status: "error"; error: string; details?: string }
  );

export interface StreamHandlers {
  onToken: (token: string) => void;
  /** The server took the request (response headers arrived), before the first token. */
  onAccepted?: () => void;
  /** The server's id of the stored user turn (X-User-Message-Id). */
  onUserMessageId?: (id: string) => void;
  /** Sable's `meta` event: a grounded answer's sources, before the first token. */
  onMeta?: (meta: JsonObject) => void;
}

/** The generate request for a chat turn, from the chat's settings (or the global ones). */
export function buildGenerateRequest(r: StreamRequest): GenerateRequest {
  const s = effectiveChatSettings(r.session, useSettings.getState());
  return {
    prompt: r.prompt,
    model: s.model || undefined,
    temperature: s.temperature,
    max_tokens: s.maxTokens,
    system_prompt: s.systemPrompt.trim() || undefined,
    session_id: r.sessionId,
    replace_from_message_id: r.replaceFrom,
  };
}

/** How long a stopped stream may take to end by itself before it is cut. */
const STOP_GRACE_MS = 3000;

interface Active {
  ctrl: AbortController;
  sessionId: string;
  stopRequested: boolean;
  timer?: ReturnType<typeof setTimeout>;
}
let active: Active | null = null;

/**
 * Stops the answer currently streaming (its partial text is kept, status "stopped"). The
 * gateway generates server-side and keeps going when the client just disconnects, so it is
 * asked to stop; its stream then ends with what it stored, so the text shown is the text
 * saved. Without that route (or when asking fails, or the stream does not end within
 * STOP_GRACE_MS) the stream is cut.
 */
export function stopStream(): void {
  const a = active;
  if (!a || a.stopRequested) return;
  a.stopRequested = true;
  const cut = () => a.ctrl.abort();
  api.stopGeneration(a.sessionId).then((asked) => !asked && cut(), cut);
  a.timer = setTimeout(cut, STOP_GRACE_MS);
}

type Opener = (
  signal: AbortSignal,
  onToken: (token: string) => void,
  onUserMessageId: ((id: string) => void) | undefined,
  onAccepted: () => void,
  onMeta: ((meta: JsonObject) => void) | undefined,
) => Promise<StreamEnd | null>;

/** One stream, shared by a new answer and a resumed one: timing, stop, errors as outcomes. */
async function run(sessionId: string, open: Opener, handlers: StreamHandlers): Promise<StreamOutcome | null> {
  const ctrl = new AbortController();
  const me: Active = { ctrl, sessionId, stopRequested: false };
  active = me;
  const started = performance.now();
  let ttftMs: number | undefined;
  let tokens = 0;
  let accepted = false;
  const stats = () => ({ latencyMs: Math.round(performance.now() - started), ttftMs, tokens, accepted });
  try {
    const end = await open(
      ctrl.signal,
      (token) => {
        if (ttftMs === undefined) ttftMs = Math.round(performance.now() - started);
        tokens += 1;
        handlers.onToken(token);
      },
      handlers.onUserMessageId,
      () => {
        accepted = true;
        handlers.onAccepted?.();
      },
      handlers.onMeta,
    );
    if (end === null) return null;
    return { status: me.stopRequested ? "stopped" : "done", ...stats() };
  } catch (e) {
    if (ctrl.signal.aborted || me.stopRequested) return { status: "stopped", ...stats() };
    const h = humanError(e);
    return { status: "error", error: h.message, details: h.details, ...stats() };
  } finally {
    clearTimeout(me.timer);
    if (active === me) active = null;
  }
}

/** Streams one answer; never rejects — failures come back as `{status: "error"}`. */
export async function streamAnswer(r: StreamRequest, handlers: StreamHandlers): Promise<StreamOutcome> {
  const body = buildGenerateRequest(r);
  const out = await run(
    r.sessionId,
    (signal, onToken, onUserMessageId, onAccepted, onMeta) =>
      api.generateStream(body, onToken, signal, onUserMessageId, onAccepted, onMeta),
    handlers,
  );
  // generateStream never answers "nothing running"; null cannot happen here.
  return out ?? { status: "done", latencyMs: 0, tokens: 0, accepted: true };
}

/**
 * Attaches to the answer the gateway is still generating in a session (after a reload, or
 * from another tab): null when nothing is running there. `onAccepted` fires before the first
 * token, when there is an answer to show.
 */
export function resumeAnswer(sessionId: string, handlers: StreamHandlers): Promise<StreamOutcome | null> {
  return run(
    sessionId,
    (signal, onToken, onUserMessageId, onAccepted, onMeta) => api.resumeStream(sessionId, onToken, signal, onUserMessageId, onAccepted, onMeta),
    handlers,
  );
}

/**
 * Continues a stopped or length-cut answer (stored message `messageId`): the continuation's
 * tokens go to `onToken`; they are appended to the same message on the server.
 */
export async function continueAnswer(sessionId: string, messageId: string, handlers: StreamHandlers): Promise<StreamOutcome> {
  const out = await run(
    sessionId,
    (signal, onToken, _onUserMessageId, onAccepted) => api.continueStream(sessionId, messageId, onToken, signal, onAccepted),
    handlers,
  );
  return out ?? { status: "done", latencyMs: 0, tokens: 0, accepted: true };
}

/** For components: which answer is streaming (null when none), and how to stop it. */
export function useStream() {
  const streaming = useChat((s) => s.streaming);
  return { streaming, stop: stopStream };
}
