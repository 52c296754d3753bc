import { act } from "react";
import { createRoot, type Root } from "react-dom/client";
import { afterEach, describe, expect, it } from "vitest";
import type { Source } from "@/lib/citations";
import type { UiMessage } from "@/stores/chat";
import { useSourcePanel } from "@/stores/source-panel";
import { MessageBubble } from "./MessageBubble";

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const src = (n: number, over: Partial<Source> = {}): Source => ({
  n,
  file_id: `f${n}`,
  filename: `file${n}.md`,
  chunk_id: `c${n}`,
  page: n === 1 ? 4 : null,
  heading: null,
  snippet: `passage ${n}`,
  score: 1 / n,
  ...over,
});

const answer = (content: string, sources: Source[] | undefined, cited?: number[]): UiMessage => ({
  id: "a1",
  role: "assistant",
  content,
  createdAt: "2026-01-01T00:00:00Z",
  meta: { sources, cited },
  status: "done",
  siblingCount: 1,
  siblingIndex: 1,
});

let root: Root | null = null;
function render(m: UiMessage): HTMLElement {
  const el = document.createElement("div");
  document.body.appendChild(el);
  root = createRoot(el);
  const noop = () => Promise.resolve();
  act(() => root?.render(<MessageBubble message={m} sessionId="s1" isLastAssistant={false} busy={false} onRegenerate={noop} onEdit={noop} onContinue={noop} onSwitchVersion={noop} />));
  return el;
}
afterEach(() => {
  act(() => root?.unmount());
  root = null;
  document.body.innerHTML = "";
  useSourcePanel.setState({ source: null });
});

describe("an answer with sources", () => {
  it("links its citations, lists the cited sources and folds the others", () => {
    const sources = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => src(n));
    const el = render(answer("Zebras migrate [1] and graze [2].", sources, [1, 2]));
    const cites = [...el.querySelectorAll<HTMLButtonElement>("[data-cite]")];
    expect(cites.map((b) => b.dataset["cite"])).toEqual(["1", "2"]);
    expect(cites[0]?.getAttribute("aria-label")).toBe("Source 1: file1.md, page 4");
    act(() => cites[0]?.click());
    expect(useSourcePanel.getState().source?.n).toBe(1);

    const cited = el.querySelector('[aria-label="Sources cited"]');
    expect(cited?.querySelectorAll('[data-testid="source-chip"]').length).toBe(2);
    // Six given but not cited: folded, then five shown and the rest behind "Show all".
    const fold = el.querySelector<HTMLButtonElement>('[data-testid="uncited-sources"] button');
    expect(fold?.textContent).toContain("6 more passages given but not cited");
    expect(el.querySelector('[aria-label="Sources not cited"]')).toBeNull();
    act(() => fold?.click());
    expect(el.querySelectorAll('[aria-label="Sources not cited"] [data-testid="source-chip"]').length).toBe(5);
    const showAll = [...el.querySelectorAll("button")].find((b) => b.textContent?.startsWith("Show all"));
    act(() => showAll?.click());
    expect(el.querySelectorAll('[aria-label="Sources not cited"] [data-testid="source-chip"]').length).toBe(6);
  });

  it("marks a deleted source as such, still openable", () => {
    const el = render(answer("From a gone file [1].", [src(1, { deleted: true })], [1]));
    const cite = el.querySelector<HTMLButtonElement>("[data-cite]");
    expect(cite?.getAttribute("aria-label")).toContain("(source deleted)");
    expect(el.querySelector('[data-testid="source-chip"]')?.textContent).toContain("source deleted");
  });

  it("says when the search found nothing, and shows nothing for an ungrounded answer", () => {
    expect(render(answer("I could not find it.", [])).textContent).toContain("nothing relevant was found");
    act(() => root?.unmount());
    expect(render(answer("Plain [1].", undefined)).querySelector("[data-cite], [data-testid='answer-sources']")).toBeNull();
  });
});
