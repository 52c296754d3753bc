import { describe, expect, it } from "vitest";
import type { ModelInfo } from "@/api/types";
import { contextSize, groupByProvider, modelLabel } from "./models";

const m = (id: string, provider: string, extra: Partial<ModelInfo> = {}): ModelInfo => ({
  id,
  provider,
  capabilities: ["chat"],
  ...extra,
});

describe("model picker helpers", () => {
  it("groups models by provider in the server's order", () => {
    const groups = groupByProvider([m("a/x", "a"), m("b/y", "b"), m("a/z", "a")]);
    expect(groups.map((g) => [g.provider, g.models.map((x) => x.id)])).toEqual([
      ["a", ["a/x", "a/z"]],
      ["b", ["b/y"]],
    ]);
  });

  it("says context sizes as people do", () => {
    expect(contextSize(8192)).toBe("8K");
    expect(contextSize(131072)).toBe("128K");
    expect(contextSize(1048576)).toBe("1M");
    expect(contextSize(512)).toBe("512");
    expect(contextSize(null)).toBeNull();
    expect(contextSize(0)).toBeNull();
  });

  it("labels a model with its capabilities and context", () => {
    expect(modelLabel(m("local/big", "local", { capabilities: ["chat", "vision"], context_window: 8192 }))).toBe(
      "local/big · chat, vision · 8K context",
    );
    expect(modelLabel(m("plain", "p", { capabilities: [] }))).toBe("plain");
  });
});
