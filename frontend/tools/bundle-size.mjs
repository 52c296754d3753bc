// Reports the gzip size of the JS the browser loads before first render: the entry script
// plus every modulepreload in dist/index.html (lazy chunks excluded). Exits 1 above the budget.
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { join } from "node:path";

const dist = process.env.DIST ?? new URL("../dist/", import.meta.url).pathname;
const budgetKb = Number(process.env.BUNDLE_BUDGET_KB ?? 300);
const html = readFileSync(join(dist, "index.html"), "utf8");
const refs = [
  ...html.matchAll(/<script[^>]+type="module"[^>]+src="([^"]+)"/g),
  ...html.matchAll(/<link[^>]+rel="modulepreload"[^>]+href="([^"]+)"/g),
].map((m) => m[1]);

let total = 0;
for (const ref of refs) {
  const buf = readFileSync(join(dist, ref.replace(/^\//, "")));
  const gz = gzipSync(buf, { level: 9 }).length;
  total += gz;
  console.log(`${ref.padEnd(48)} ${(buf.length / 1024).toFixed(1).padStart(8)} KB  gzip ${(gz / 1024).toFixed(1).padStart(7)} KB`);
}
console.log(`initial JS gzip total: ${(total / 1024).toFixed(1)} KB (budget ${budgetKb} KB)`);
if (total / 1024 > budgetKb) {
  console.error("initial JS is over budget");
  process.exit(1);
}
