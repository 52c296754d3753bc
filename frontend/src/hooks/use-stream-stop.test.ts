import { afterEach, describe, expect, it, vi } from "vitest";
import { json, mockFetch, until } from "@/test/fetch-mock";
import { stopStream, streamAnswer } from "./use-stream";

afterEach(() => vi.unstubAllGlobals());

describe("stopStream with a gateway that generates server-side", () => {
  it("asks the gateway to stop and keeps the stream until it ends, so the text shown is the text stored", async () => {
    const enc = new TextEncoder();
    let end: (() => void) | null = null;
    const calls = mockFetch((c) => {
      if (c.url === "/openapi.json") return json({ paths: { "/api/v1/chat/sessions/{id}/stop": {} } });
      if (c.url === "/api/v1/chat/sessions/s1/stop") {
        end?.();
        return json({ stopped: true });
      }
      return new Response(
        new ReadableStream<Uint8Array>({
          start(ctrl) {
            ctrl.enqueue(enc.encode('data: "partial"\n\n'));
            end = () => {
              ctrl.enqueue(enc.encode('data: " last"\n\ndata: [DONE]\n\n'));
              ctrl.close();
            };
          },
        }),
        { status: 200, headers: { "content-type": "text/event-stream" } },
      );
    });
    let text = "";
    const p = streamAnswer({ sessionId: "s1", prompt: "hi" }, { onToken: (t) => (text += t) });
    await until(() => text === "partial");
    stopStream();
    await expect(p).resolves.toMatchObject({ status: "stopped", tokens: 2 });
    expect(text).toBe("partial last");
    expect(calls.some((c) => c.method === "POST" && c.url === "/api/v1/chat/sessions/s1/stop")).toBe(true);
  });
});
