import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ChatSessionOut } from "@/api/types";
import { json, mockFetch, sseBody, until } from "@/test/fetch-mock";
import { metaFromServer, useChat } from "./chat";
import { useSettings } from "./settings";
import { useToasts } from "./toasts";

const SID = "11111111-1111-1111-1111-111111111111";
const session = (over: Partial<ChatSessionOut> = {}): ChatSessionOut => ({
  id: SID,
  user_id: "00000000-0000-0000-0000-000000000001",
  title: "New Chat",
  system_prompt: null,
  created_at: "2026-01-01T00:00:00Z",
  updated_at: "2026-01-01T00:00:00Z",
  message_count: 0,
  ...over,
});

const initial = useChat.getState();
beforeEach(() => {
  useChat.setState({ ...initial, sessions: [], messages: {}, activeId: null, streaming: null }, true);
  useToasts.setState({ toasts: [] });
  useSettings.getState().reset();
});
afterEach(() => vi.unstubAllGlobals());

describe("chat store: sending", () => {
  it("creates a session titled after the message, streams with session_id and never posts messages itself", async () => {
    const calls = mockFetch((c, signal) => {
      if (c.method === "POST" && c.url === "/api/v1/chat/sessions") return json(session({ title: "Hello there" }), 201);
      if (c.url === "/api/v1/generate/stream") return sseBody(["Hi", " you"], "done", signal);
      return json({}, 500);
    });
    const id = await useChat.getState().send("  Hello there  ");
    expect(id).toBe(SID);
    await until(() => useChat.getState().streaming === null);

    const msgs = useChat.getState().messages[SID] ?? [];
    expect(msgs.map((m) => [m.role, m.content, m.status])).toEqual([
      ["user", "Hello there", "done"],
      ["assistant", "Hi you", "done"],
    ]);
    expect(msgs[1]?.meta.ttftMs).toBeTypeOf("number");
    expect(msgs[1]?.meta.latencyMs).toBeTypeOf("number");
    expect(calls.find((c) => c.url === "/api/v1/chat/sessions")?.body).toEqual({ title: "Hello there" });
    const stream = calls.find((c) => c.url === "/api/v1/generate/stream");
    expect(stream?.body).toMatchObject({ prompt: "Hello there", session_id: SID, temperature: 0.7, max_tokens: 1024 });
    expect(calls.some((c) => c.url.endsWith("/messages"))).toBe(false);
    expect(useChat.getState().sessions[0]?.message_count).toBe(2);
  });

  it("stop keeps the partial answer and marks it stopped", async () => {
    useChat.setState({ sessions: [session({ title: "x", message_count: 2 })], messages: { [SID]: [] }, activeId: SID });
    mockFetch((c, signal) => (c.url === "/api/v1/generate/stream" ? sseBody(["partial ", "text"], "hang", signal) : json({}, 500)));
    await useChat.getState().send("slow one");
    await until(() => (useChat.getState().messages[SID]?.[1]?.content ?? "") === "partial text");
    useChat.getState().stop();
    await until(() => useChat.getState().streaming === null);
    const a = useChat.getState().messages[SID]?.[1];
    expect(a?.status).toBe("stopped");
    expect(a?.content).toBe("partial text");
    expect(useToasts.getState().toasts).toHaveLength(0);
  });

  it("an [ERROR] event is shown once, on the bubble, as a sentence with the code behind Details", async () => {
    useChat.setState({ sessions: [session({ title: "x", message_count: 2 })], messages: { [SID]: [] }, activeId: SID });
    mockFetch((c, signal) =>
      c.url === "/api/v1/generate/stream" ? sseBody(["a"], { error: "CONTEXT_TOO_LONG: 9000 tokens" }, signal) : json({}, 500),
    );
    let stored: boolean | undefined;
    await useChat.getState().send("q", (s) => (stored = s));
    await until(() => useChat.getState().streaming === null);
    const a = useChat.getState().messages[SID]?.[1];
    expect(a?.status).toBe("error");
    expect(a?.error).toMatch(/conversation is too long/);
    expect(a?.errorDetails).toContain("CONTEXT_TOO_LONG");
    expect(useToasts.getState().toasts).toHaveLength(0);
    expect(stored).toBe(true);
  });

  it("a refused request stores nothing: the view is restored, one toast, and the composer keeps the text", async () => {
    useChat.setState({ sessions: [session({ title: "x", message_count: 2 })], messages: { [SID]: [] }, activeId: SID });
    mockFetch((c) =>
      c.url === "/api/v1/generate/stream"
        ? new Response(JSON.stringify({ error: { code: "RATE_LIMITED", message: "slow down", request_id: "req-9" } }), {
            status: 429,
            headers: { "content-type": "application/json", "retry-after": "12" },
          })
        : json({}, 500),
    );
    let stored: boolean | undefined;
    await useChat.getState().send("q", (s) => (stored = s));
    await until(() => stored !== undefined);
    expect(stored).toBe(false);
    expect(useChat.getState().messages[SID]).toEqual([]);
    const t = useToasts.getState().toasts;
    expect(t).toHaveLength(1);
    expect(t[0]).toMatchObject({ kind: "error", title: "Message not sent", description: "Too many requests right now. Try again in 12 s." });
    expect(t[0]?.details).toContain("request req-9");
  });

  it("a message over 10,000 characters is not sent", async () => {
    const calls = mockFetch(() => json({}, 500));
    let stored: boolean | undefined;
    expect(await useChat.getState().send("x".repeat(10_001), (s) => (stored = s))).toBeNull();
    expect(stored).toBe(false);
    expect(calls).toHaveLength(0);
  });

  it("a stream that ends without [DONE] completes normally", async () => {
    useChat.setState({ sessions: [session({ title: "x", message_count: 2 })], messages: { [SID]: [] }, activeId: SID });
    mockFetch((c, signal) => (c.url === "/api/v1/generate/stream" ? sseBody(["all ", "there"], "eof", signal) : json({}, 500)));
    await useChat.getState().send("q");
    await until(() => useChat.getState().streaming === null);
    expect(useChat.getState().messages[SID]?.[1]).toMatchObject({ status: "done", content: "all there" });
  });

  it("renames a 'New Chat' session after its first message", async () => {
    useChat.setState({ sessions: [session()], messages: { [SID]: [] }, activeId: SID });
    const calls = mockFetch((c, signal) => {
      if (c.method === "PATCH") return json(session({ title: "First question" }));
      return sseBody(["ok"], "done", signal);
    });
    await useChat.getState().send("First question");
    await until(() => useChat.getState().streaming === null);
    expect(calls.find((c) => c.method === "PATCH")?.body).toEqual({ title: "First question" });
    expect(useChat.getState().sessions[0]?.title).toBe("First question");
  });

  it("regenerate replaces the last answer and edit-resend truncates after the edited message", async () => {
    useChat.setState({ sessions: [session({ title: "x" })], messages: { [SID]: [] }, activeId: SID });
    let n = 0;
    const calls = mockFetch((_c, signal) => sseBody([`answer ${++n}`], "done", signal));
    await useChat.getState().send("q1");
    await until(() => useChat.getState().streaming === null);
    await useChat.getState().regenerate();
    let msgs = useChat.getState().messages[SID] ?? [];
    expect(msgs.map((m) => m.content)).toEqual(["q1", "answer 2"]);
    const firstUser = msgs[0]?.id ?? "";
    await useChat.getState().editAndResend(firstUser, "q1 edited");
    msgs = useChat.getState().messages[SID] ?? [];
    expect(msgs.map((m) => m.content)).toEqual(["q1 edited", "answer 3"]);
    expect(calls.map((c) => (c.body as { prompt: string }).prompt)).toEqual(["q1", "q1", "q1 edited"]);
  });

  it("sends the settings' model, temperature, max tokens and system prompt", async () => {
    useSettings.getState().set({ model: "m-1", temperature: 1.3, maxTokens: 99999, systemPrompt: "Be brief" });
    useChat.setState({ sessions: [session({ title: "x" })], messages: { [SID]: [] }, activeId: SID });
    const calls = mockFetch((_c, signal) => sseBody(["ok"], "done", signal));
    await useChat.getState().send("q");
    await until(() => useChat.getState().streaming === null);
    expect(calls[0]?.body).toMatchObject({ model: "m-1", temperature: 1.3, max_tokens: 8192, system_prompt: "Be brief" });
  });
});

describe("chat store: sessions", () => {
  it("loads sessions newest first", async () => {
    mockFetch(() =>
      json([
        session({ id: "a", updated_at: "2026-01-01T00:00:00Z" }),
        session({ id: "b", updated_at: "2026-01-02T00:00:00Z" }),
      ]),
    );
    await useChat.getState().loadSessions();
    expect(useChat.getState().sessions.map((s) => s.id)).toEqual(["b", "a"]);
    expect(useChat.getState().sessionsStatus).toBe("ready");
  });

  it("opens a session from the server and maps stored meta", async () => {
    mockFetch(() =>
      json({
        ...session({ title: "T" }),
        messages: [
          { id: "m1", session_id: SID, role: "user", content: "q", meta: null, created_at: "2026-01-01T00:00:00Z" },
          {
            id: "m2",
            session_id: SID,
            role: "assistant",
            content: "a",
            meta: { model: "mock-1", latency_ms: 120, ttft_ms: 15, completion_tokens: 4 },
            created_at: "2026-01-01T00:00:01Z",
          },
        ],
      }),
    );
    expect(await useChat.getState().openSession(SID)).toBe(true);
    const msgs = useChat.getState().messages[SID] ?? [];
    expect(msgs[1]?.meta).toEqual({ model: "mock-1", latencyMs: 120, ttftMs: 15, tokens: 4 });
    expect(useChat.getState().sessions[0]?.message_count).toBe(2);
  });

  it("opening a missing session clears it and returns false", async () => {
    useChat.setState({ sessions: [session()] });
    mockFetch(() => json({ error: { code: "NOT_FOUND", message: "Session not found" } }, 404));
    expect(await useChat.getState().openSession(SID)).toBe(false);
    expect(useChat.getState().sessions).toEqual([]);
    expect(useChat.getState().activeId).toBeNull();
  });

  it("rename is optimistic and reverts when the server refuses", async () => {
    useChat.setState({ sessions: [session({ title: "Old" })] });
    mockFetch(() => json({ error: { code: "VALIDATION_ERROR", message: "too long" } }, 422));
    const p = useChat.getState().rename(SID, "New");
    expect(useChat.getState().sessions[0]?.title).toBe("New");
    expect(await p).toBe(false);
    expect(useChat.getState().sessions[0]?.title).toBe("Old");
  });

  it("delete removes the session and restores it when the server fails", async () => {
    useChat.setState({ sessions: [session()], activeId: SID, messages: { [SID]: [] } });
    mockFetch(() => new Response(null, { status: 204 }));
    expect(await useChat.getState().remove(SID)).toBe(true);
    expect(useChat.getState().sessions).toEqual([]);
    expect(useChat.getState().activeId).toBeNull();

    useChat.setState({ sessions: [session()] });
    mockFetch(() => json({ error: { code: "INTERNAL_ERROR", message: "db down" } }, 500));
    expect(await useChat.getState().remove(SID)).toBe(false);
    expect(useChat.getState().sessions).toHaveLength(1);
  });

  it("metaFromServer accepts alternative spellings", () => {
    expect(metaFromServer({ time_to_first_token_ms: 9, usage: { completion_tokens: 3 } })).toEqual({
      model: undefined,
      latencyMs: undefined,
      ttftMs: 9,
      tokens: 3,
    });
    expect(metaFromServer(null)).toEqual({});
  });
});
