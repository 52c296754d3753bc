import { describe, expect, it } from "vitest";
import { splitSlides, taskUrl } from "./workshop-data";

describe("splitSlides", () => {
  it("splits at lines of --- and drops empty slides", () => {
    expect(splitSlides("# One\n\ntext\n\n---\n\n## Two\n---\n\n---\n## Three\n")).toEqual([
      "# One\n\ntext",
      "## Two",
      "## Three",
    ]);
  });

  it("keeps --- inside fenced code", () => {
    const deck = "# A\n```yaml\n---\nkey: v\n```\n---\n# B";
    expect(splitSlides(deck)).toEqual(["# A\n```yaml\n---\nkey: v\n```", "# B"]);
  });

  it("a table's separator row is not a slide break", () => {
    expect(splitSlides("| a | b |\n| --- | --- |\n| 1 | 2 |")).toHaveLength(1);
  });
});

describe("taskUrl", () => {
  it("points at the task's page", () => {
    expect(taskUrl("0.4")).toBe("/learn/workshop/0.4/overview");
    expect(taskUrl("7", "slides")).toBe("/learn/workshop/7/slides");
  });
});
