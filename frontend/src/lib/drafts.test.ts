import { beforeEach, describe, expect, it } from "vitest";
import { clearAllDrafts, clearDraft, loadDraft, saveDraft } from "./drafts";

describe("drafts", () => {
  beforeEach(() => localStorage.clear());

  it("keeps one draft per chat and one for the new chat", () => {
    saveDraft("a", "first");
    saveDraft(null, "fresh");
    expect(loadDraft("a")).toBe("first");
    expect(loadDraft("b")).toBe("");
    expect(loadDraft(null)).toBe("fresh");
    clearDraft("a");
    expect(loadDraft("a")).toBe("");
    expect(loadDraft(null)).toBe("fresh");
  });

  it("a blank draft is no draft, and clearAllDrafts leaves other keys alone", () => {
    saveDraft("a", "x");
    saveDraft("a", "   ");
    expect(localStorage.length).toBe(0);
    saveDraft("b", "y");
    localStorage.setItem("sable-settings", "{}");
    clearAllDrafts();
    expect(loadDraft("b")).toBe("");
    expect(localStorage.getItem("sable-settings")).toBe("{}");
  });
});
