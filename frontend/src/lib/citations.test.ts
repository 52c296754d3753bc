import { describe, expect, it } from "vitest";
import { citedIn, locatePassage, parseCited, parseSources, passageWindow, sourceLabel, splitCitations, uncitedSources, type Source } from "./citations";

const src = (n: number, over: Partial<Source> = {}): Source => ({
  n,
  file_id: `f${n}`,
  filename: `file${n}.md`,
  chunk_id: `c${n}`,
  page: null,
  heading: null,
  snippet: `passage ${n}`,
  score: 1 / n,
  ...over,
});

describe("citation markers", () => {
  const valid = new Set([1, 2, 3]);

  it("turns [n], [n][m] and [n, m] of known sources into citations", () => {
    expect(splitCitations("Zebras migrate [1]. Both [2][3], or [1, 3].", valid)).toEqual([
      { text: "Zebras migrate " },
      { cite: 1 },
      { text: ". Both " },
      { cite: 2 },
      { cite: 3 },
      { text: ", or " },
      { cite: 1 },
      { cite: 3 },
      { text: "." },
    ]);
  });

  it("leaves unknown numbers, links and reference definitions as text", () => {
    expect(splitCitations("In [2024] and [7], see [1](http://x) and [2]: y", valid)).toEqual([{ text: "In [2024] and [7], see [1](http://x) and [2]: y" }]);
    // One unknown number keeps the whole bracket as text (it is not a citation list).
    expect(splitCitations("[1, 9]", valid)).toEqual([{ text: "[1, 9]" }]);
  });

  it("lists cited numbers in order of first use", () => {
    expect(citedIn("b [3] a [1] again [3]", valid)).toEqual([3, 1]);
  });
});

describe("meta.sources and meta.cited", () => {
  it("reads well-formed sources sorted by number and drops malformed ones", () => {
    const parsed = parseSources([
      { n: 2, file_id: "b", filename: "b.pdf", chunk_id: "c", page: 4, heading: "Terms", snippet: "s", score: 0.5, char_start: 10, char_end: 20 },
      { n: 1, file_id: "a", filename: "a.md", chunk_id: "c", page: null, heading: null, snippet: "t", score: 0.9, deleted: true },
      { n: "x", file_id: "z" },
      "junk",
      { n: 3 },
    ]);
    expect(parsed.map((s) => [s.n, s.file_id, s.deleted ?? false])).toEqual([
      [1, "a", true],
      [2, "b", false],
    ]);
    expect(parsed[1]).toMatchObject({ page: 4, char_start: 10, char_end: 20 });
    expect(parseSources(null)).toEqual([]);
    expect(parseCited([1, "2", 3.5, 4])).toEqual([1, 4]);
    expect(parseCited(undefined)).toBeNull();
  });

  it("folds the uncited sources, best score first, within the display budget", () => {
    const sources = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => src(n, { score: n === 8 ? 5 : 1 / n }));
    const { shown, hidden } = uncitedSources(sources, [1, 2], 3);
    expect(shown.map((s) => s.n)).toEqual([8, 3, 4]);
    expect(hidden).toBe(3);
    expect(uncitedSources([src(1)], [1]).shown).toEqual([]);
  });

  it("names a source by file, page and heading", () => {
    expect(sourceLabel(src(1, { filename: "report.pdf", page: 4, heading: "Terms > Termination" }))).toBe("report.pdf, page 4 · Terms > Termination");
    expect(sourceLabel(src(1))).toBe("file1.md");
  });
});

describe("finding a passage in its file", () => {
  const full = "# Title\n\nZebras cross the   Mara\nriver every July.\n\nThey eat grass.";

  it("finds it exactly, or although whitespace differs, or without its ellipsis", () => {
    expect(locatePassage(full, "They eat grass.")).toEqual({ start: full.indexOf("They"), end: full.length });
    const loose = locatePassage(full, "Zebras cross the Mara river every July.");
    expect(loose && full.slice(loose.start, loose.end)).toBe("Zebras cross the   Mara\nriver every July.");
    const cut = locatePassage(full, "Zebras cross the Mara river…");
    expect(cut && full.slice(cut.start, cut.end)).toBe("Zebras cross the   Mara\nriver");
    expect(locatePassage(full, "Lions hunt at night.")).toBeNull();
    expect(locatePassage(full, "  ")).toBeNull();
  });

  it("cuts the surrounding text at spaces and marks what was left out", () => {
    const long = `${"alpha ".repeat(50)}THE PASSAGE${" omega".repeat(50)}`;
    const at = locatePassage(long, "THE PASSAGE");
    expect(at).not.toBeNull();
    if (!at) return;
    const w = passageWindow(long, at, 20);
    expect(w.passage).toBe("THE PASSAGE");
    expect(w.before.startsWith("…")).toBe(true);
    expect(w.before.endsWith("alpha ")).toBe(true);
    expect(w.after.endsWith("…")).toBe(true);
    expect(passageWindow("x THE y", { start: 2, end: 5 })).toEqual({ before: "x ", passage: "THE", after: " y" });
  });
});
