import { describe, expect, it } from "vitest";
import type { CollectionOut, FileOut } from "@/api/types";
import { hasKnowledge, knowledgeItems, knowledgeOf, knowledgeSummary, NO_KNOWLEDGE, toggleId } from "./knowledge";

describe("chat knowledge", () => {
  it("reads a session's knowledge leniently", () => {
    expect(knowledgeOf({ knowledge: { collection_ids: ["c"], file_ids: ["a", 3] } })).toEqual({ collection_ids: ["c"], file_ids: ["a"] });
    expect(knowledgeOf({ title: "old gateway" })).toEqual(NO_KNOWLEDGE);
    expect(knowledgeOf(undefined)).toEqual(NO_KNOWLEDGE);
    expect(hasKnowledge(NO_KNOWLEDGE)).toBe(false);
  });

  it("toggles ids without repeats", () => {
    expect(toggleId(["a"], "b", true)).toEqual(["a", "b"]);
    expect(toggleId(["a", "b"], "a", true)).toEqual(["b", "a"]);
    expect(toggleId(["a", "b"], "a", false)).toEqual(["b"]);
  });

  it("names attached items and flags the ones gone once the lists are known", () => {
    const files = [{ id: "a", filename: "a.md" }] as FileOut[];
    const cols = [{ id: "c", name: "Contracts" }] as CollectionOut[];
    const k = { collection_ids: ["c"], file_ids: ["a", "gone"] };
    expect(knowledgeItems(k, files, cols, true)).toEqual([
      { kind: "collection", id: "c", name: "Contracts", missing: false },
      { kind: "file", id: "a", name: "a.md", missing: false },
      { kind: "file", id: "gone", name: "a file", missing: true },
    ]);
    expect(knowledgeItems(k, [], [], false).every((i) => !i.missing)).toBe(true);
    expect(knowledgeSummary(k)).toBe("1 collection, 2 files");
  });
});
