import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ChatMessageOut, ChatSessionOut } from "@/api/types";
import { json, mockFetch, until } from "@/test/fetch-mock";
import { SERVER_LIMITS } from "@/test/limits";
import { fromServer, titlePoll, useChat } from "./chat";
import { useLimits } from "./limits";
import { useSettings } from "./settings";

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
const source = { n: 1, file_id: "f1", filename: "zebra.md", chunk_id: "c1", page: null, heading: "Migration", snippet: "Zebras cross the Mara river.", score: 0.03 };

/** The gateway's stream of a grounded answer: the meta event with the sources, then tokens. */
function groundedStream() {
  const enc = new TextEncoder();
  const wire = [`event: meta\ndata: ${JSON.stringify({ sources: [source] })}\n\n`, 'data: "Zebras cross [1]."\n\n', "data: [DONE]\n\n"];
  let i = 0;
  return new Response(
    new ReadableStream<Uint8Array>({
      pull(ctrl) {
        const part = wire[i++];
        if (part === undefined) ctrl.close();
        else ctrl.enqueue(enc.encode(part));
      },
    }),
    { status: 200, headers: { "content-type": "text/event-stream" } },
  );
}

const initial = useChat.getState();
beforeEach(() => {
  useLimits.setState({ limits: SERVER_LIMITS });
  titlePoll.delaysMs = [];
  useChat.setState({ ...initial, sessions: [], messages: {}, activeId: null, streaming: null }, true);
  useSettings.getState().reset();
});
afterEach(() => vi.unstubAllGlobals());

describe("chat store: grounded answers", () => {
  it("a new chat is created with the knowledge picked before it existed, and the stream's sources land on the answer", async () => {
    await useChat.getState().setKnowledge(null, { collection_ids: ["col"], file_ids: ["f1"] });
    const calls = mockFetch((c) => {
      if (c.method === "POST" && c.url === "/api/v1/chat/sessions") return json(session({ knowledge: { collection_ids: ["col"], file_ids: ["f1"] } }), 201);
      if (c.url === "/api/v1/generate/stream?meta=1") return groundedStream();
      return json({ ...session(), messages: [] });
    });
    let seenDuringStream = false;
    const unsub = useChat.subscribe((s) => {
      const a = s.messages[SID]?.find((m) => m.role === "assistant" && m.status === "streaming");
      if (a?.meta.sources?.length === 1) seenDuringStream = true;
    });
    await useChat.getState().send("Where do zebras go?");
    await until(() => useChat.getState().streaming === null);
    unsub();
    expect(calls.find((c) => c.url === "/api/v1/chat/sessions")?.body).toMatchObject({ knowledge: { collection_ids: ["col"], file_ids: ["f1"] } });
    expect(seenDuringStream).toBe(true);
    expect(useChat.getState().draftKnowledge).toEqual({ collection_ids: [], file_ids: [] });
  });

  it("changing a chat's knowledge PATCHes it and keeps the server's answer", async () => {
    useChat.setState({ sessions: [session()], activeId: SID });
    const k = { collection_ids: [], file_ids: ["f1", "f2"] };
    const calls = mockFetch(() => json(session({ knowledge: k })));
    expect(await useChat.getState().setKnowledge(SID, k)).toBe(true);
    expect(calls[0]).toMatchObject({ method: "PATCH", url: `/api/v1/chat/sessions/${SID}`, body: { knowledge: k } });
    expect(useChat.getState().sessions[0]?.knowledge).toEqual(k);
  });

  it("a stored answer keeps its sources and cited numbers after a reload", () => {
    const stored: ChatMessageOut = {
      id: "m1",
      session_id: SID,
      role: "assistant",
      content: "Zebras cross [1].",
      meta: { model: "mock", sources: [source, { ...source, n: 2, deleted: true }], cited: [1] },
      created_at: "2026-01-01T00:00:00Z",
      parent_id: null,
      sibling_count: 1,
      sibling_index: 1,
    };
    const m = fromServer(stored);
    expect(m.meta.sources?.map((s) => [s.n, s.deleted ?? false])).toEqual([
      [1, false],
      [2, true],
    ]);
    expect(m.meta.cited).toEqual([1]);
    expect(fromServer({ ...stored, meta: { model: "mock" } }).meta.sources).toBeUndefined();
  });
});
