/**
 * Grounded answers (issue 24): the numbered sources an answer was given (`meta.sources`), the
 * numbers it cites (`meta.cited`), and the citation markers `[n]` in its text.
 */
import type { JsonObject, JsonValue } from "@/api/types";

/** One passage the answer was given, as the server stores it in `meta.sources`. */
export interface Source {
  /** The number the answer cites it by: `[n]`, 1-based. */
  n: number;
  file_id: string;
  filename: string;
  chunk_id: string;
  page: number | null;
  heading: string | null;
  /** The passage's text as the model was given it (kept after the file is deleted). */
  snippet: string;
  score: number;
  /** Where the passage sits in the file's extracted text, when the server says. */
  char_start?: number;
  char_end?: number;
  /** The file was deleted since: the snippet is all that is left. */
  deleted?: boolean;
}

const isObj = (v: JsonValue | undefined): v is JsonObject => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: JsonValue | undefined): string | null => (typeof v === "string" ? v : null);
const int = (v: JsonValue | undefined): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

/** Reads `meta.sources`, dropping entries without a number or a file (never throws on odd JSON). */
export function parseSources(v: JsonValue | undefined): Source[] {
  if (!Array.isArray(v)) return [];
  const out: Source[] = [];
  for (const item of v) {
    if (!isObj(item)) continue;
    const n = int(item["n"]);
    const fileId = str(item["file_id"]);
    if (n === null || n < 1 || !fileId) continue;
    const s: Source = {
      n,
      file_id: fileId,
      filename: str(item["filename"]) ?? "unnamed file",
      chunk_id: str(item["chunk_id"]) ?? "",
      page: int(item["page"]),
      heading: str(item["heading"]),
      snippet: str(item["snippet"]) ?? "",
      score: int(item["score"]) ?? 0,
    };
    const start = int(item["char_start"]);
    const end = int(item["char_end"]);
    if (start !== null && end !== null && end >= start) {
      s.char_start = start;
      s.char_end = end;
    }
    if (item["deleted"] === true) s.deleted = true;
    out.push(s);
  }
  return out.sort((a, b) => a.n - b.n);
}

/** Reads `meta.cited`: the numbers the answer used; null when the server did not say. */
export function parseCited(v: JsonValue | undefined): number[] | null {
  if (!Array.isArray(v)) return null;
  return v.filter((x): x is number => typeof x === "number" && Number.isInteger(x) && x > 0);
}

/**
 * `[1]`, `[2][3]`, `[1, 2]`, `[1,2]`: a bracket holding one or more numbers. Not a markdown
 * link (`[1](url)`) and not a reference definition (`[1]: url`).
 */
const MARKER = /\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\](?![(:])/g;

export type Segment = { text: string } | { cite: number };

/**
 * Splits text into plain runs and citations of numbers in `valid` (numbers with no source
 * stay text: the model may write "[2024]" or cite a number it was not given).
 */
export function splitCitations(text: string, valid: ReadonlySet<number>): Segment[] {
  const out: Segment[] = [];
  let last = 0;
  const push = (t: string) => {
    if (!t) return;
    const prev = out[out.length - 1];
    if (prev && "text" in prev) prev.text += t;
    else out.push({ text: t });
  };
  for (const m of text.matchAll(MARKER)) {
    const nums = (m[1] ?? "").split(",").map((x) => Number(x.trim()));
    if (!nums.every((n) => valid.has(n))) continue;
    push(text.slice(last, m.index));
    for (const n of nums) out.push({ cite: n });
    last = m.index + m[0].length;
  }
  push(text.slice(last));
  return out;
}

/** The numbers an answer cites, first use first; used while `meta.cited` is not known yet. */
export function citedIn(text: string, valid: ReadonlySet<number>): number[] {
  const seen: number[] = [];
  for (const seg of splitCitations(text, valid)) {
    if ("cite" in seg && !seen.includes(seg.cite)) seen.push(seg.cite);
  }
  return seen;
}

/** Sources listed under an answer before "Show all": the rest stay folded. */
export const UNCITED_SHOWN = 5;

/**
 * The sources the answer was given but did not cite (best score first), split into the ones
 * shown when the list is unfolded and how many more hide behind "Show all".
 */
export function uncitedSources(sources: Source[], cited: number[], shown = UNCITED_SHOWN): { shown: Source[]; hidden: number } {
  const used = new Set(cited);
  const rest = sources.filter((s) => !used.has(s.n)).sort((a, b) => b.score - a.score || a.n - b.n);
  return { shown: rest.slice(0, shown), hidden: Math.max(0, rest.length - shown) };
}

/** "report.pdf, page 4 · Terms > Termination": where a passage comes from. */
export function sourceLabel(s: Pick<Source, "filename" | "page" | "heading">): string {
  let label = s.filename;
  if (s.page) label += `, page ${s.page}`;
  if (s.heading) label += ` · ${s.heading}`;
  return label;
}

/**
 * Finds `passage` in `full` although whitespace differs (the chunker and extractor may
 * collapse runs of spaces and newlines) and the passage may end with an ellipsis. Returns the
 * character range in `full`, or null when it is not there.
 */
export function locatePassage(full: string, passage: string): { start: number; end: number } | null {
  const needle = passage.trim().replace(/(…|\.\.\.)$/, "").trim();
  if (!needle) return null;
  const exact = full.indexOf(needle);
  if (exact >= 0) return { start: exact, end: exact + needle.length };
  // Collapse whitespace on both sides, remembering where each kept character of `full` was.
  const pos: number[] = [];
  let flat = "";
  let space = false;
  for (let i = 0; i < full.length; i++) {
    const c = full[i] ?? "";
    if (/\s/.test(c)) {
      if (!space && flat) {
        flat += " ";
        pos.push(i);
      }
      space = true;
    } else {
      flat += c;
      pos.push(i);
      space = false;
    }
  }
  const flatNeedle = needle.replace(/\s+/g, " ");
  const at = flat.indexOf(flatNeedle);
  if (at < 0) return null;
  const start = pos[at] ?? 0;
  const endIdx = pos[at + flatNeedle.length - 1] ?? start;
  return { start, end: endIdx + 1 };
}

/** Text around a located passage: up to `context` characters either side, cut at spaces. */
export function passageWindow(full: string, at: { start: number; end: number }, context = 600) {
  let from = Math.max(0, at.start - context);
  let to = Math.min(full.length, at.end + context);
  if (from > 0) {
    const sp = full.indexOf(" ", from);
    if (sp >= 0 && sp < at.start) from = sp + 1;
  }
  if (to < full.length) {
    const sp = full.lastIndexOf(" ", to);
    if (sp > at.end) to = sp;
  }
  return {
    before: (from > 0 ? "…" : "") + full.slice(from, at.start),
    passage: full.slice(at.start, at.end),
    after: full.slice(at.end, to) + (to < full.length ? "…" : ""),
  };
}
