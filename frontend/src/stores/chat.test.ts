import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { SERVER_LIMITS } from "@/test/limits";
import { useLimits } from "./limits";
import type { ChatMessageOut, ChatSessionOut } from "@/api/types";
import { json, mockFetch, sseBody, until } from "@/test/fetch-mock";
import { canContinue, dateGroup, fromServer, groupSessions, metaFromServer, parseExport, titlePoll, useChat } from "./chat";
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

/** A stored message as the server returns it. */
const msg = (id: string, role: "user" | "assistant", content: string, over: Partial<ChatMessageOut> = {}): ChatMessageOut => ({
  id,
  session_id: SID,
  role,
  content,
  meta: null,
  created_at: "2026-01-01T00:00:00Z",
  parent_id: null,
  sibling_count: 1,
  sibling_index: 1,
  ...over,
});

const initial = useChat.getState();
beforeEach(() => {
  useLimits.setState({ limits: SERVER_LIMITS });
  titlePoll.delaysMs = [];
  useChat.setState({ ...initial, sessions: [], messages: {}, activeId: null, streaming: null }, true);
  useToasts.setState({ toasts: [] });
  useSettings.getState().reset();
});
afterEach(() => vi.unstubAllGlobals());

describe("chat store: sending", () => {
  it("creates a session with the global settings, streams with session_id and never posts messages itself", async () => {
    const calls = mockFetch((c, signal) => {
      if (c.method === "POST" && c.url === "/api/v1/chat/sessions") return json(session({ temperature: 0.7, max_tokens: 1024 }), 201);
      if (c.url === "/api/v1/generate/stream?meta=1") return sseBody(["Hi", " you"], "done", signal);
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
    // Untitled: the gateway titles the chat from the message (and later from the model).
    expect(calls.find((c) => c.url === "/api/v1/chat/sessions")?.body).toEqual({
      model: null,
      temperature: 0.7,
      max_tokens: 1024,
      system_prompt: null,
    });
    const stream = calls.find((c) => c.url === "/api/v1/generate/stream?meta=1");
    expect(stream?.body).toMatchObject({ prompt: "Hello there", session_id: SID, temperature: 0.7, max_tokens: 1024 });
    expect(calls.some((c) => c.url.endsWith("/messages"))).toBe(false);
    expect(useChat.getState().sessions[0]?.message_count).toBe(2);
  });

  it("stop keeps the partial answer and marks it stopped", async () => {
    useChat.setState({ sessions: [session({ title: "x", message_count: 2 })], messages: { [SID]: [] }, activeId: SID });
    mockFetch((c, signal) => (c.url === "/api/v1/generate/stream?meta=1" ? sseBody(["partial ", "text"], "hang", signal) : json({}, 500)));
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
      c.url === "/api/v1/generate/stream?meta=1" ? sseBody(["a"], { error: "CONTEXT_TOO_LONG: 9000 tokens" }, signal) : json({}, 500),
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
      c.url === "/api/v1/generate/stream?meta=1"
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
    mockFetch((c, signal) => (c.url === "/api/v1/generate/stream?meta=1" ? sseBody(["all ", "there"], "eof", signal) : json({}, 500)));
    await useChat.getState().send("q");
    await until(() => useChat.getState().streaming === null);
    expect(useChat.getState().messages[SID]?.[1]).toMatchObject({ status: "done", content: "all there" });
  });

  it("a new chat's title comes from the server: when the turn is stored, then the background title", async () => {
    titlePoll.delaysMs = [20, 60];
    useChat.setState({ sessions: [session()], messages: { [SID]: [] }, activeId: SID });
    let looks = 0;
    const calls = mockFetch((c, signal) => {
      if (c.url === `/api/v1/chat/sessions/${SID}?limit=1`) {
        looks += 1;
        return json({ ...session({ title: looks < 3 ? "First question" : "A generated title" }), messages: [] });
      }
      if (c.url === "/api/v1/generate/stream?meta=1") {
        const r = sseBody(["ok"], "done", signal);
        r.headers.set("x-user-message-id", "u1");
        return r;
      }
      return json({}, 500);
    });
    await useChat.getState().send("First question");
    await until(() => useChat.getState().sessions[0]?.title === "A generated title");
    expect(calls.some((c) => c.method === "PATCH")).toBe(false);
  });

  it("regenerate and edit make new versions; the switcher shows the server's versions and switches", async () => {
    // The server's tree: three versions of the question (u1; u2 regenerated; u3 edited), each
    // with its answer. `made` versions exist so far; `path` is the active path.
    const questions = ["q1", "q1", "q1 edited"];
    let made = 1;
    const version = (n: number) => [
      msg(`u${n}`, "user", questions[n - 1] ?? "", { sibling_count: made, sibling_index: n }),
      msg(`a${n}`, "assistant", `answer ${n}`, { parent_id: `u${n}` }),
    ];
    let path = version(1);
    useChat.setState({ sessions: [session({ title: "x", message_count: 2 })], messages: { [SID]: path.map(fromServer) }, activeId: SID });
    const calls = mockFetch((c, signal) => {
      if (c.url === "/api/v1/generate/stream?meta=1") {
        made += 1;
        path = version(made);
        const r = sseBody([`answer ${made}`], "done", signal);
        r.headers.set("x-user-message-id", `u${made}`);
        return r;
      }
      if (c.url.endsWith("/versions")) return json({ ids: ["u1", "u2", "u3"].slice(0, made) });
      const activate = /\/messages\/u(\d)\/activate$/.exec(c.url);
      if (activate) {
        path = version(Number(activate[1]));
        return json({ ...session({ message_count: 2 }), messages: path });
      }
      if (c.url === `/api/v1/chat/sessions/${SID}`) return json({ ...session({ message_count: 2 }), messages: path });
      return json({}, 500);
    });
    const shown = () => (useChat.getState().messages[SID] ?? []).map((m) => [m.content, m.siblingIndex, m.siblingCount]);

    await useChat.getState().regenerate();
    await until(() => useChat.getState().messages[SID]?.[0]?.id === "u2");
    expect(shown()).toEqual([
      ["q1", 2, 2],
      ["answer 2", 1, 1],
    ]);
    const streams = () => calls.filter((c) => c.url === "/api/v1/generate/stream?meta=1").map((c) => c.body);
    expect(streams()[0]).toMatchObject({ prompt: "q1", replace_from_message_id: "u1" });

    await useChat.getState().editAndResend("u2", "q1 edited");
    await until(() => useChat.getState().messages[SID]?.[0]?.id === "u3");
    expect(streams()[1]).toMatchObject({ prompt: "q1 edited", replace_from_message_id: "u2" });
    expect(shown()[0]).toEqual(["q1 edited", 3, 3]);

    // ‹ : the version before u3 is activated and its branch shown; ‹ again: the first one.
    await useChat.getState().switchVersion("u3", -1);
    expect(calls.at(-1)?.url).toBe(`/api/v1/chat/sessions/${SID}/messages/u2/activate`);
    expect(shown()).toEqual([
      ["q1", 2, 3],
      ["answer 2", 1, 1],
    ]);
    await useChat.getState().switchVersion("u2", -1);
    expect(shown()[1]).toEqual(["answer 1", 1, 1]);
    // At the first version, ‹ does nothing.
    const before = calls.length;
    await useChat.getState().switchVersion("u1", -1);
    expect(calls.length - before).toBe(1); // only the versions lookup
    expect(shown()[0]).toEqual(["q1", 1, 3]);
  });

  it("continue streams into the same answer and then shows what the server stored", async () => {
    const u1 = msg("u1", "user", "q");
    const a1 = msg("a1", "assistant", "partial", { parent_id: "u1", meta: { stopped: true, finish_reason: "stopped" } });
    useChat.setState({ sessions: [session({ title: "x", message_count: 2 })], messages: { [SID]: [u1, a1].map(fromServer) }, activeId: SID });
    expect(useChat.getState().messages[SID]?.[1]?.status).toBe("stopped");
    const calls = mockFetch((c, signal) => {
      if (c.method === "POST" && c.url === `/api/v1/chat/sessions/${SID}/messages/a1/continue`) return sseBody([" and", " more"], "done", signal);
      if (c.url === `/api/v1/chat/sessions/${SID}`) {
        return json({
          ...session(),
          messages: [u1, { ...a1, content: "partial and more", meta: { stopped: false, finish_reason: "stop" } }],
        });
      }
      return json({}, 500);
    });
    await useChat.getState().continueAnswer("a1");
    const shown = useChat.getState().messages[SID] ?? [];
    expect(shown).toHaveLength(2);
    expect(shown[1]).toMatchObject({ id: "a1", content: "partial and more", status: "done" });
    await until(() => calls.some((c) => c.url === `/api/v1/chat/sessions/${SID}`));
    await until(() => useChat.getState().messages[SID]?.[1]?.finishReason === "stop");
    expect(useChat.getState().streaming).toBeNull();
  });

  it("an answer cut at max tokens can be continued; a finished one cannot", () => {
    const cut = fromServer(msg("a1", "assistant", "cut", { meta: { finish_reason: "length" } }));
    const done = fromServer(msg("a2", "assistant", "done", { meta: { finish_reason: "stop" } }));
    expect(canContinue(cut)).toBe(true);
    expect(canContinue(done)).toBe(false);
  });

  it("a stored failed answer (meta.error {code, message}) reads as failed, with the code behind Details", () => {
    const failed = fromServer(
      msg("a1", "assistant", "", { meta: { finish_reason: "error", error: { code: "PROVIDER_TIMEOUT", message: "no answer in 30 s" } } }),
    );
    expect(failed.status).toBe("error");
    expect(failed.error).toBe("The model took too long to answer. Try again.");
    expect(failed.errorDetails).toContain("PROVIDER_TIMEOUT");
    expect(failed.errorDetails).toContain("no answer in 30 s");
    const legacy = fromServer(msg("a2", "assistant", "part", { meta: { error: "it broke" } }));
    expect(legacy.status).toBe("error");
    expect(fromServer(msg("a3", "assistant", "fine", { meta: { error: null } })).status).toBe("done");
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

  it("loads the newest unarchived chats plus every pinned one", async () => {
    const calls = mockFetch((c) =>
      json(c.url.includes("pinned=true") ? [session({ id: "old-pin", pinned: true, updated_at: "2020-01-01T00:00:00Z" })] : [session({ id: "new" })]),
    );
    await useChat.getState().loadSessions();
    expect(calls.map((c) => c.url).sort()).toEqual([
      "/api/v1/chat/sessions?limit=200&pinned=true&archived=false",
      "/api/v1/chat/sessions?limit=50&archived=false",
    ]);
    expect(useChat.getState().sessions.map((x) => x.id)).toEqual(["new", "old-pin"]);
  });

  it("pin and archive are stored with PATCH; a refused change is undone", async () => {
    useChat.setState({ sessions: [session({ title: "T", message_count: 4 })] });
    const calls = mockFetch(() => json(session({ title: "T", pinned: true, updated_at: "2026-01-02T00:00:00Z" })));
    expect(await useChat.getState().setPinned(SID, true)).toBe(true);
    expect(calls[0]).toMatchObject({ method: "PATCH", url: `/api/v1/chat/sessions/${SID}`, body: { pinned: true } });
    expect(useChat.getState().sessions[0]).toMatchObject({ pinned: true, message_count: 4 });

    mockFetch(() => json({ error: { code: "INTERNAL_ERROR", message: "down" } }, 500));
    const p = useChat.getState().setArchived(SID, true);
    expect(useChat.getState().sessions[0]?.archived).toBe(true); // optimistic
    expect(await p).toBe(false);
    expect(useChat.getState().sessions[0]?.archived).toBeFalsy();
  });

  it("a chat's own settings are stored on it with PATCH and used by its next answer", async () => {
    useChat.setState({ sessions: [session({ title: "x", temperature: 0.7, max_tokens: 1024 })], messages: { [SID]: [] }, activeId: SID });
    useSettings.getState().set({ model: "global-model", temperature: 1.9 });
    const calls = mockFetch((c, signal) => {
      if (c.method === "PATCH") return json(session({ title: "x", model: "m-2", temperature: 0.3, max_tokens: 77, system_prompt: "Pirate" }));
      if (c.url === "/api/v1/generate/stream?meta=1") return sseBody(["ok"], "done", signal);
      return json({}, 500);
    });
    expect(await useChat.getState().saveChatSettings(SID, { model: "m-2", temperature: 0.3, maxTokens: 77, systemPrompt: "Pirate" })).toBe(true);
    expect(calls[0]?.body).toEqual({ model: "m-2", temperature: 0.3, max_tokens: 77, system_prompt: "Pirate" });
    await useChat.getState().send("q");
    await until(() => useChat.getState().streaming === null);
    expect(calls.find((c) => c.url === "/api/v1/generate/stream?meta=1")?.body).toMatchObject({
      model: "m-2",
      temperature: 0.3,
      max_tokens: 77,
      system_prompt: "Pirate",
    });
  });

  it("says so when the same chat file was imported before, and opens that chat", async () => {
    mockFetch(() => json({ ...session({ id: "first", title: "Trip" }), already_imported: true }, 200));
    const file = JSON.stringify({ title: "Trip", messages: [{ role: "user", content: "hi" }] });
    expect(await useChat.getState().importChat(file)).toBe("first");
    const last = useToasts.getState().toasts.at(-1);
    expect(last?.title).toBe("Already imported");
    expect(last?.kind).toBe("info");
    expect(useChat.getState().sessions.find((x) => x.id === "first")).not.toHaveProperty("already_imported");
  });

  it("rates an answer, keeps the server's feedback, and restores the old one when refused", async () => {
    const stored = { rating: -1, comment: "Too short", updated_at: "2026-12-06T09:00:00Z" };
    const answer = { id: "a1", session_id: "s1", role: "assistant" as const, content: "Yes.", meta: null, created_at: "2026-12-06T09:00:00Z", parent_id: null, sibling_count: 1, sibling_index: 1 };
    useChat.setState({ messages: { s1: [fromServer(answer)] } });
    let refuse = false;
    const calls = mockFetch(() => (refuse ? json({ error: { code: "NOT_FOUND", message: "gone" } }, 404) : json({ ...answer, feedback: stored })));
    expect(await useChat.getState().rateAnswer("s1", "a1", { rating: -1, comment: "Too short" })).toBe(true);
    expect(calls[0]).toMatchObject({ method: "PUT", url: "/api/v1/chat/sessions/s1/messages/a1/feedback" });
    expect(calls[0]?.body).toEqual({ rating: -1, comment: "Too short" });
    expect(useChat.getState().messages["s1"]?.[0]?.feedback).toEqual({ rating: -1, comment: "Too short" });
    refuse = true;
    expect(await useChat.getState().rateAnswer("s1", "a1", null)).toBe(false);
    expect(calls[1]).toMatchObject({ method: "DELETE" });
    expect(useChat.getState().messages["s1"]?.[0]?.feedback).toEqual({ rating: -1, comment: "Too short" });
    // Reloaded from the server, the rating is there.
    expect(fromServer({ ...answer, feedback: stored }).feedback).toEqual({ rating: -1, comment: "Too short" });
  });

  it("imports a JSON export as a new chat; a file that is not one is refused without a request", async () => {
    const calls = mockFetch(() => json(session({ id: "imported", title: "Trip" }), 201));
    const file = JSON.stringify({
      id: "old",
      title: "Trip",
      system_prompt: null,
      pinned: true,
      messages: [
        { id: "x", role: "user", content: "hi", meta: null, created_at: "2026-01-01T00:00:00Z" },
        { id: "y", role: "assistant", content: "hello", meta: { model: "m" }, created_at: "2026-01-01T00:00:00Z" },
      ],
    });
    expect(await useChat.getState().importChat(file)).toBe("imported");
    expect(calls[0]).toMatchObject({ method: "POST", url: "/api/v1/chat/import" });
    expect(calls[0]?.body).toMatchObject({
      title: "Trip",
      pinned: true,
      messages: [
        { role: "user", content: "hi", meta: null },
        { role: "assistant", content: "hello", meta: { model: "m" } },
      ],
    });
    expect(useChat.getState().sessions.map((x) => x.id)).toContain("imported");

    expect(await useChat.getState().importChat("not json")).toBeNull();
    expect(await useChat.getState().importChat(JSON.stringify({ messages: [{ role: "robot", content: "x" }] }))).toBeNull();
    expect(calls).toHaveLength(1);
    expect(useToasts.getState().toasts.at(-1)?.title).toBe("Not a Sable chat export");
    expect(parseExport(JSON.stringify({ messages: [] }))).toMatchObject({ messages: [] });
  });

  it("groups chats: pinned first, then Today, Yesterday, Previous 7 days, Older; archived apart", () => {
    const now = new Date(2026, 10, 29, 10, 0, 0);
    const at = (daysAgo: number, hour = 9) => new Date(2026, 10, 29 - daysAgo, hour).toISOString();
    expect(dateGroup(at(0, 0), now)).toBe("Today");
    expect(dateGroup(at(1, 23), now)).toBe("Yesterday");
    expect(dateGroup(at(2), now)).toBe("Previous 7 days");
    expect(dateGroup(at(7), now)).toBe("Previous 7 days");
    expect(dateGroup(at(8), now)).toBe("Older");
    const list = [
      session({ id: "t", updated_at: at(0) }),
      session({ id: "p", updated_at: at(30), pinned: true }),
      session({ id: "y", updated_at: at(1) }),
      session({ id: "w", updated_at: at(3) }),
      session({ id: "o", updated_at: at(40) }),
      session({ id: "arch", updated_at: at(0), archived: true }),
    ];
    expect(groupSessions(list, { now }).map((g) => [g.label, g.sessions.map((x) => x.id)])).toEqual([
      ["Pinned", ["p"]],
      ["Today", ["t"]],
      ["Yesterday", ["y"]],
      ["Previous 7 days", ["w"]],
      ["Older", ["o"]],
    ]);
    expect(groupSessions(list, { archived: true, now })).toEqual([{ label: "Archived", sessions: [list[5]] }]);
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
