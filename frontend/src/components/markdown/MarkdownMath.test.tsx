import { act, createElement } from "react";
import { createRoot, type Root } from "react-dom/client";
import { MemoryRouter } from "react-router";
import { afterEach, describe, expect, it } from "vitest";
import { hasMath, loadMath, Markdown } from "./Markdown";

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

let root: Root | null = null;
afterEach(() => {
  act(() => root?.unmount());
  root = null;
});

async function render(text: string): Promise<HTMLElement> {
  const host = document.createElement("div");
  document.body.append(host);
  root = createRoot(host);
  act(() => root?.render(createElement(MemoryRouter, null, createElement(Markdown, { text }))));
  // KaTeX is imported on demand: let the import settle and the component re-render.
  await act(async () => {
    await loadMath();
  });
  return host;
}

describe("math detection (decides whether KaTeX is loaded)", () => {
  it("finds inline and display math", () => {
    expect(hasMath("Euler: $e^{i\\pi} + 1 = 0$.")).toBe(true);
    expect(hasMath("$x$ alone")).toBe(true);
    expect(hasMath("Display:\n\n$$\n\\int_0^1 x\\,dx\n$$\n")).toBe(true);
  });
  it("ignores prices and text without dollars", () => {
    expect(hasMath("It costs $5 and $10 later.")).toBe(false);
    expect(hasMath("no math here")).toBe(false);
    expect(hasMath("a lone $ sign")).toBe(false);
  });
});

describe("Markdown with math", () => {
  it("renders $…$ and $$…$$ with KaTeX", async () => {
    const host = await render("Inline $a^2 + b^2 = c^2$ and display:\n\n$$\n\\frac{1}{2}\n$$\n");
    const inline = host.querySelectorAll(".katex");
    // One inline formula and one display formula (which KaTeX also marks .katex inside).
    expect(inline.length).toBeGreaterThanOrEqual(2);
    expect(host.querySelector(".katex-display")).not.toBeNull();
    // KaTeX's MathML copy holds the formula's structure: a superscript and a fraction.
    expect(host.querySelector(".katex msup")).not.toBeNull();
    expect(host.querySelector(".katex-display mfrac")).not.toBeNull();
    // The TeX source is no longer shown as text.
    expect(host.textContent).not.toContain("$$");
  });

  it("leaves text without math alone (no KaTeX markup)", async () => {
    const host = await render("It costs $5 and $10 later.");
    expect(host.querySelector(".katex")).toBeNull();
    expect(host.textContent).toContain("$5 and $10");
  });

  it("puts tables in a horizontal scroller", async () => {
    const host = await render("| target | value |\n|---|---|\n| a | b |\n");
    const scroller = host.querySelector('[data-testid="md-table-scroll"]');
    expect(scroller?.classList.contains("overflow-x-auto")).toBe(true);
    expect(scroller?.querySelector("table td")?.textContent).toBe("a");
  });
});
