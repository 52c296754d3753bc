// Holds the chat route, where almost every visit starts, to a budget of gzipped JavaScript:
// the entry script, every chunk it imports statically (the modulepreloads of index.html) and,
// should ChatPage ever become a lazy route, its chunk and their static imports. Lazy pages
// (jobs, dashboard, learn, account) and on-demand libraries (highlight.js, Mermaid, …) are
// listed but not counted. Reads the build's manifest (vite.config.ts: build.manifest).
// Exits 1 above the budget, which fails scripts/test_frontend.sh and CI.
//
//   node tools/bundle-size.mjs      Env: DIST (default dist/), BUNDLE_BUDGET_KB (default 200)
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { join } from "node:path";

const dist = process.env.DIST ?? new URL("../dist/", import.meta.url).pathname;
const budgetKb = Number(process.env.BUNDLE_BUDGET_KB ?? 200);
// Source modules that make up the chat route besides the entry (ChatPage is in the entry
// chunk today and then has no manifest key of its own).
const CHAT_ROUTE = ["src/components/chat/ChatPage.tsx"];

/** @type {Record<string, {file: string, imports?: string[], dynamicImports?: string[], isEntry?: boolean}>} */
const manifest = JSON.parse(readFileSync(join(dist, ".vite/manifest.json"), "utf8"));
const entries = Object.keys(manifest).filter((k) => manifest[k].isEntry);
if (entries.length === 0) {
  console.error(`no entry in ${dist}.vite/manifest.json`);
  process.exit(1);
}

/** Manifest keys a chunk loads before it runs: itself and its static imports, transitively. */
function staticClosure(keys) {
  const seen = new Set();
  const stack = [...keys];
  while (stack.length) {
    const key = stack.pop();
    if (seen.has(key) || !manifest[key]) continue;
    seen.add(key);
    stack.push(...(manifest[key].imports ?? []));
  }
  return seen;
}

const chat = staticClosure([...entries, ...CHAT_ROUTE.filter((k) => manifest[k])]);
const gz = (file) => gzipSync(readFileSync(join(dist, file)), { level: 9 }).length;
const kb = (n) => (n / 1024).toFixed(1).padStart(7);

let total = 0;
console.log("chat route (counted):");
for (const key of chat) {
  const size = gz(manifest[key].file);
  total += size;
  console.log(`  ${manifest[key].file.padEnd(56)} gzip ${kb(size)} KB`);
}

// The lazy pages and libraries, for the record: what each costs when it is first needed.
// Breadth-first over the app's own dynamic imports, so a lazy page's lazy parts (the
// dashboard's charts) are listed too; libraries' internal lazy chunks (Mermaid's diagrams) not.
const lazy = new Set();
const queue = [...chat];
while (queue.length) {
  const key = queue.shift();
  for (const d of manifest[key]?.dynamicImports ?? []) {
    if (lazy.has(d) || chat.has(d)) continue;
    lazy.add(d);
    queue.push(...[...staticClosure([d])].filter((k) => k.startsWith("src/")));
  }
}
console.log("loaded on demand (not counted):");
for (const key of [...lazy].sort()) {
  const extra = [...staticClosure([key])].filter((k) => !chat.has(k));
  const size = extra.reduce((sum, k) => sum + gz(manifest[k].file), 0);
  console.log(`  ${key.padEnd(56)} gzip ${kb(size)} KB (${extra.length} chunk${extra.length === 1 ? "" : "s"})`);
}

console.log(`chat route JavaScript, gzip: ${(total / 1024).toFixed(1)} KB (budget ${budgetKb} KB)`);
if (total / 1024 > budgetKb) {
  console.error(`the chat route loads ${(total / 1024).toFixed(1)} KB of gzipped JavaScript, over the ${budgetKb} KB budget`);
  process.exit(1);
}
