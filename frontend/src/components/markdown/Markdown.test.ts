import { describe, expect, it } from "vitest";
import { resolveDocLink } from "./Markdown";

describe("doc links", () => {
  it("resolves relative .md links inside the docs root", () => {
    expect(resolveDocLink("", "docs/benchmarks.md")).toBe("docs/benchmarks.md");
    expect(resolveDocLink("docs", "../ARCHITECTURE.md#crates")).toBe("ARCHITECTURE.md#crates");
    expect(resolveDocLink("docs", "./other.md")).toBe("docs/other.md");
  });
  it("leaves external, absolute, anchor, escaping and non-markdown links alone", () => {
    expect(resolveDocLink("", "https://example.com/x.md")).toBeNull();
    expect(resolveDocLink("", "/abs.md")).toBeNull();
    expect(resolveDocLink("", "#section")).toBeNull();
    expect(resolveDocLink("", "../outside.md")).toBeNull();
    expect(resolveDocLink("", "crates/gateway/src/lib.rs")).toBeNull();
  });
});
