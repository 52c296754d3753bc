import { afterEach, describe, expect, it, vi } from "vitest";
import { json, mockFetch, sseBody, until } from "@/test/fetch-mock";
import { useChat } from "./chat";

const SID = "22222222-2222-2222-2222-222222222222";
afterEach(() => vi.unstubAllGlobals());

describe("chat store: answers still generating on the server", () => {
  it("opening a session attaches to its running generation and shows it streaming to the end", async () => {
    let resumed = 0;
    // What the server has stored: the answer is there once its generation has ended.
    const stored: unknown[] = [{ id: "m1", session_id: SID, role: "user", content: "q", meta: null, created_at: "2026-01-01T00:00:00Z" }];
    mockFetch((c, signal) => {
      if (c.url === "/openapi.json") return json({ paths: { "/api/v1/chat/sessions/{id}/stream": {} } });
      if (c.url === `/api/v1/chat/sessions/${SID}`) {
        return json({
          id: SID,
          user_id: "u",
          title: "t",
          system_prompt: null,
          created_at: "2026-01-01T00:00:00Z",
          updated_at: "2026-01-01T00:00:00Z",
          message_count: 1,
          messages: [...stored],
        });
      }
      if (c.url === `/api/v1/chat/sessions/${SID}/stream?meta=1`) {
        resumed += 1;
        if (resumed > 1) return new Response(null, { status: 204 });
        stored.push({ id: "m2", session_id: SID, role: "assistant", content: "Hi there", meta: { finish_reason: "stop" }, created_at: "2026-01-01T00:00:01Z" });
        return sseBody(["Hi", " there"], "done", signal);
      }
      return json({}, 500);
    });
    expect(await useChat.getState().openSession(SID)).toBe(true);
    await until(() => useChat.getState().messages[SID]?.[1]?.status === "done");
    expect(useChat.getState().messages[SID]?.map((m) => [m.role, m.content])).toEqual([
      ["user", "q"],
      ["assistant", "Hi there"],
    ]);
    expect(useChat.getState().streaming).toBeNull();

    // Once it has ended, the stored answer replaces the bubble (server ids from then on).
    await until(() => useChat.getState().messages[SID]?.[1]?.id === "m2");

    // Nothing running (204): no bubble is added.
    stored.pop();
    useChat.setState({ messages: {} });
    await useChat.getState().openSession(SID);
    await until(() => resumed === 2);
    await new Promise((r) => setTimeout(r, 20));
    expect(useChat.getState().messages[SID]).toHaveLength(1);
  });
});
