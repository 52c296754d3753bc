/** Lazily loaded syntax highlighter (highlight.js, common languages) in its own chunk. */
import type { HLJSApi } from "highlight.js";

const ALIASES: Record<string, string> = {
  sh: "bash",
  shell: "bash",
  zsh: "bash",
  console: "bash",
  jsonc: "json",
  proto: "protobuf",
  proto3: "protobuf",
  dockerfile: "dockerfile",
  tf: "hcl",
  terraform: "hcl",
  rs: "rust",
  py: "python",
  js: "javascript",
  ts: "typescript",
  yml: "yaml",
};

let loading: Promise<HLJSApi> | null = null;

export function loadHighlighter(): Promise<HLJSApi> {
  loading ??= import("highlight.js/lib/common").then((m) => m.default);
  return loading;
}

export function normaliseLanguage(lang: string): string {
  const l = lang.toLowerCase();
  return ALIASES[l] ?? l;
}

/** Returns highlighted HTML (escaped by highlight.js), or null for unknown languages. */
export async function highlight(code: string, lang: string): Promise<string | null> {
  const hljs = await loadHighlighter();
  const language = normaliseLanguage(lang);
  if (!hljs.getLanguage(language)) return null;
  return hljs.highlight(code, { language, ignoreIllegals: true }).value;
}
