import { describe, expect, it } from "vitest";
import { formatMs, parseSnippet, relativeTime } from "./format";

describe("format helpers", () => {
  it("parses search snippets into marked and plain segments, unescaping entities", () => {
    expect(parseSnippet("a &lt;b&gt; <mark>rust</mark> &amp; <mark>tokio</mark>!")).toEqual([
      { text: "a <b> ", mark: false },
      { text: "rust", mark: true },
      { text: " & ", mark: false },
      { text: "tokio", mark: true },
      { text: "!", mark: false },
    ]);
    expect(parseSnippet("&lt;script&gt;")).toEqual([{ text: "<script>", mark: false }]);
  });
  it("formats durations and relative times", () => {
    expect(formatMs(812)).toBe("812 ms");
    expect(formatMs(1234)).toBe("1.23 s");
    const now = Date.parse("2026-01-01T12:00:00Z");
    expect(relativeTime("2026-01-01T11:59:50Z", now)).toBe("just now");
    expect(relativeTime("2026-01-01T11:55:00Z", now)).toBe("5m ago");
    expect(relativeTime("2026-01-01T09:00:00Z", now)).toBe("3h ago");
  });
});
