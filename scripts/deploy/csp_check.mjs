// Loads the SPA through the edge nginx in Debian's Chromium and fails on any Content Security
// Policy violation or on an app that does not render. Run by scripts/test_nginx.sh when
// chromium and frontend/node_modules/playwright-core are present.
//   node scripts/deploy/csp_check.mjs http://127.0.0.1:19080
import { createRequire } from "node:module";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const { chromium } = createRequire(join(root, "frontend", "package.json"))("playwright-core");
const base = process.argv[2] ?? "http://127.0.0.1:19080";
const exe = process.env.CHROMIUM ?? "/usr/bin/chromium";

const profile = mkdtempSync(join(tmpdir(), "sable-csp-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: exe,
  headless: true,
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
let failed = 0;
try {
  const page = context.pages()[0] ?? (await context.newPage());
  const problems = [];
  page.on("console", (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) problems.push(m.text());
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  await page.addInitScript(() => {
    window.__csp = [];
    document.addEventListener("securitypolicyviolation", (e) =>
      window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"}`),
    );
  });
  for (const path of ["/", "/jobs", "/dashboard", "/chat/does-not-exist"]) {
    await page.goto(base + path, { waitUntil: "networkidle" });
    await page.waitForTimeout(300);
    const rendered = await page.evaluate(() => document.getElementById("root")?.childElementCount ?? 0);
    const csp = await page.evaluate(() => window.__csp);
    const all = [...csp, ...problems.splice(0)];
    if (rendered === 0) all.push("the app did not render into #root");
    if (all.length) {
      failed++;
      console.log(`  FAIL ${path}: ${all.join("; ")}`);
    } else {
      console.log(`  ok   ${path} renders in Chromium with no CSP violation`);
    }
  }
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
