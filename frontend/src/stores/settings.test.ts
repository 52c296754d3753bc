import { beforeEach, describe, expect, it } from "vitest";
import { SERVER_LIMITS } from "@/test/limits";
import { useLimits } from "./limits";
import { DEFAULT_SETTINGS, sanitize, SETTINGS_KEY, useSettings } from "./settings";

beforeEach(() => {
  useLimits.setState({ limits: SERVER_LIMITS });
  useSettings.getState().reset();
});

describe("settings store", () => {
  it("clamps values to what the API accepts", () => {
    expect(sanitize({ temperature: 5, maxTokens: 0 })).toEqual({ temperature: 2, maxTokens: 1 });
    expect(sanitize({ temperature: -1, maxTokens: 100000 })).toEqual({ temperature: 0, maxTokens: 8192 });
    expect(sanitize({ temperature: 0.66, maxTokens: 12.6 })).toEqual({ temperature: 0.7, maxTokens: 13 });
    expect(sanitize({ maxTokens: Number.NaN })).toEqual({ maxTokens: DEFAULT_SETTINGS.maxTokens });
  });

  it("takes the limits from the server, not from copies", () => {
    useLimits.setState({ limits: { ...SERVER_LIMITS, max_tokens_max: 500, system_prompt_max_chars: 5 } });
    expect(sanitize({ maxTokens: 9000, systemPrompt: "abcdefgh" })).toEqual({ maxTokens: 500, systemPrompt: "abcde" });
    useLimits.setState({ limits: null });
    expect(sanitize({ maxTokens: 9000, systemPrompt: "abcdefgh" })).toEqual({ maxTokens: 9000, systemPrompt: "abcdefgh" });
  });

  it("persists to localStorage and resets to defaults", () => {
    useSettings.getState().set({ model: "m", theme: "dark", systemPrompt: "hi", persona: "creative" });
    const stored = JSON.parse(localStorage.getItem(SETTINGS_KEY) ?? "{}") as { state: Record<string, unknown> };
    expect(stored.state).toMatchObject({ model: "m", theme: "dark", systemPrompt: "hi", persona: "creative" });
    expect(stored.state).not.toHaveProperty("set");
    useSettings.getState().reset();
    expect(useSettings.getState()).toMatchObject(DEFAULT_SETTINGS);
  });
});
