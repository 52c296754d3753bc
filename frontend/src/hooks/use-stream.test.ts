import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { json, mockFetch, sseBody, until } from "@/test/fetch-mock";
import { useSettings } from "@/stores/settings";
import { buildGenerateRequest, stopStream, streamAnswer } from "./use-stream";

beforeEach(() => useSettings.getState().reset());
afterEach(() => vi.unstubAllGlobals());

describe("streamAnswer", () => {
  it("delivers tokens, counts them and reports done with timings", async () => {
    mockFetch((c, signal) => (c.url === "/api/v1/generate/stream?meta=1" ? sseBody(["a", "b", "c"], "done", signal) : json({}, 500)));
    const tokens: string[] = [];
    const out = await streamAnswer({ sessionId: "s", prompt: "hi" }, { onToken: (t) => tokens.push(t) });
    expect(tokens).toEqual(["a", "b", "c"]);
    expect(out).toMatchObject({ status: "done", tokens: 3 });
    expect(out.ttftMs).toBeTypeOf("number");
  });

  it("reports [ERROR] as an error outcome and never rejects", async () => {
    mockFetch((_c, signal) => sseBody(["x"], { error: "PROVIDER_OVERLOADED: model exploded" }, signal));
    const out = await streamAnswer({ sessionId: "s", prompt: "hi" }, { onToken: () => undefined });
    expect(out).toMatchObject({ status: "error", error: "The model is busy. Try again in a moment.", tokens: 1, accepted: true });
    expect(out.status === "error" && out.details).toBe("PROVIDER_OVERLOADED · model exploded");
  });

  it("stopStream ends the stream as stopped", async () => {
    mockFetch((_c, signal) => sseBody(["partial"], "hang", signal));
    let got = "";
    const p = streamAnswer({ sessionId: "s", prompt: "hi" }, { onToken: (t) => (got += t) });
    await until(() => got === "partial");
    stopStream();
    await expect(p).resolves.toMatchObject({ status: "stopped", tokens: 1 });
  });

  it("a chat's own settings win over the global ones; a chat without them follows the global ones", () => {
    const chat = {
      id: "s",
      user_id: "u",
      title: "t",
      created_at: "2026-01-01T00:00:00Z",
      updated_at: "2026-01-01T00:00:00Z",
      message_count: 0,
    };
    useSettings.getState().set({ model: "global-m", temperature: 1.5, maxTokens: 50, systemPrompt: "global" });
    const own = { ...chat, model: null, temperature: 0.2, max_tokens: 300, system_prompt: "chat's" };
    expect(buildGenerateRequest({ sessionId: "s", prompt: "p", session: own })).toMatchObject({
      model: undefined,
      temperature: 0.2,
      max_tokens: 300,
      system_prompt: "chat's",
    });
    // A chat created before per-chat settings: the global settings, the chat's prompt if any.
    const legacy = { ...chat, system_prompt: "session" };
    expect(buildGenerateRequest({ sessionId: "s", prompt: "p", session: legacy })).toMatchObject({
      model: "global-m",
      temperature: 1.5,
      max_tokens: 50,
      system_prompt: "session",
    });
    expect(buildGenerateRequest({ sessionId: "s", prompt: "p" }).system_prompt).toBe("global");
  });
});
