/**
 * remark plugin: citation markers `[n]` of a grounded answer become links to `#cite-n`, which
 * the markdown renderer draws as buttons that open the source. Works on the parsed tree, so
 * markers inside code and real links stay as they are; numbers the answer was not given stay
 * text (see splitCitations).
 */
import type { Parent, PhrasingContent, Root, RootContent } from "mdast";
import { createContext } from "react";
import { type Source, splitCitations } from "@/lib/citations";

export const CITE_HREF = "#cite-";

/** The source number of a citation link's href, or null for any other link. */
export function citeNumber(href: string | undefined): number | null {
  if (!href?.startsWith(CITE_HREF)) return null;
  const n = Number(href.slice(CITE_HREF.length));
  return Number.isInteger(n) && n > 0 ? n : null;
}

function walk(node: Parent, valid: ReadonlySet<number>): void {
  const out: RootContent[] = [];
  for (const child of node.children) {
    if (child.type === "text") {
      const segs = splitCitations(child.value, valid);
      if (segs.length === 1 && "text" in segs[0]!) {
        out.push(child);
        continue;
      }
      for (const s of segs) {
        const part: PhrasingContent =
          "text" in s ? { type: "text", value: s.text } : { type: "link", url: `${CITE_HREF}${s.cite}`, children: [{ type: "text", value: String(s.cite) }] };
        out.push(part);
      }
      continue;
    }
    if (child.type !== "link" && child.type !== "linkReference" && "children" in child) walk(child, valid);
    out.push(child);
  }
  node.children = out;
}

export function remarkCitations(valid: ReadonlySet<number>) {
  return () => (tree: Root) => walk(tree, valid);
}

export interface CitationHandlers {
  /** The answer's sources by number. */
  sources: ReadonlyMap<number, Source>;
  open: (n: number) => void;
}

/** Given by an answer bubble to the citation buttons inside its markdown. */
export const CitationContext = createContext<CitationHandlers | null>(null);
