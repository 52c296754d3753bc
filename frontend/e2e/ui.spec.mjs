// The live dashboard (issue 13.5), jobs that completed with errors (16.2), math and diagrams in
// answers (16.7) and the visual defects of issue 16.6 that live in the dashboard, the markdown
// renderer, the settings dialog and the mobile drawer.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { ADMIN, BASE, OUT, newUser, openBrowser, signInWithApi, signUpWithApi } from "./lib.mjs";

/** @type {Awaited<ReturnType<typeof openBrowser>>} */
let browser;
/** This file's user's API from Node (lib's signUpWithApi). */
let api;
const user = newUser("ui");

/** The y-axis tick labels of recharts 3 (rendered in the axis' tick-labels layer). */
const Y_TICKS = ".recharts-yAxis-tick-labels .recharts-cartesian-axis-tick-value, .recharts-yAxis .recharts-cartesian-axis-tick-value";

/**
 * The y-axis tick labels of the charts that stick out of their chart (cut off at the left), and
 * how many labels there are (so the check cannot pass on a page without any).
 */
async function clippedAxisLabels(page) {
  const { clipped, count, sample } = await page.evaluate((Y_TICKS) => {
    const out = [];
    let count = 0;
    for (const chart of document.querySelectorAll('[data-testid="metrics-chart"]')) {
      // The plot's surface is the largest svg (legend icons are small svgs of the same class).
      const surfaces = [...chart.querySelectorAll("svg.recharts-surface")].map((el) => el.getBoundingClientRect());
      if (surfaces.length === 0) continue;
      const box = surfaces.reduce((a, b) => (b.width > a.width ? b : a));
      for (const tick of chart.querySelectorAll(Y_TICKS)) {
        count++;
        const r = tick.getBoundingClientRect();
        if (r.left < box.left - 0.5 || r.right > box.right + 0.5) out.push(`${chart.getAttribute("data-chart")}: "${tick.textContent}"`);
      }
    }
    const sample = document.querySelector('[data-testid="metrics-chart"] svg')?.outerHTML.slice(0, 3000) ?? "no svg";
    return { clipped: out, count, sample };
  }, Y_TICKS);
  assert.ok(count > 0, `no y-axis labels found in ${sample}`);
  return clipped;
}

describe("dashboard, jobs, markdown and settings", () => {
  before(async () => {
    browser = await openBrowser({ width: 1440, height: 900 });
    ({ api } = await signUpWithApi(browser.page, user));
  });

  after(async () => {
    await browser?.close();
  });

  test("a user who is not an admin is told live metrics are for admins, and the summary is not asked", async (t) => {
    if (!ADMIN) return t.skip("without accounts the one user is the admin");
    const { page, consoleErrors } = browser;
    let asked = false;
    const watch = (r) => {
      if (r.url().includes("/api/v1/metrics/summary")) asked = true;
    };
    page.on("request", watch);
    try {
      await page.goto(`${BASE}/dashboard`);
      await page.getByTestId("metrics-admin-only").waitFor();
      await page.waitForTimeout(3500); // more than one poll interval
    } finally {
      page.off("request", watch);
    }
    assert.equal(asked, false, "a non-admin's dashboard asked for the summary (a 403 in the console)");
    assert.equal(await page.getByTestId("metrics-charts").count(), 0);
    assert.deepEqual(consoleErrors, []);
  });

  test("a job with a failed prompt says 'Completed with 1 error' and shows that prompt's error, expandable", async () => {
    const { page, consoleErrors } = browser;
    // [mock:reject]: the provider refuses that prompt, a permanent per-prompt error.
    const job = await api("POST", "/api/v1/jobs", { prompts: ["first fine prompt", "[mock:reject] refused prompt", "third fine prompt"] });
    const id = job.job_id;
    let done;
    for (let i = 0; i < 100; i++) {
      done = await api("GET", `/api/v1/jobs/${id}`);
      if (!["pending", "running"].includes(done.status)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(done.status, "completed", JSON.stringify(done));
    assert.equal(done.failed_prompts, 1, JSON.stringify(done));
    const message = done.prompt_errors?.find((e) => e.index === 1)?.message ?? "";
    assert.ok(message.length > 60, `the error is long enough to be clipped: ${message}`);

    await page.goto(`${BASE}/jobs`);
    const card = page.locator(`[data-job-id="${id}"]`);
    await card.waitFor();
    assert.equal(await card.getByTestId("job-status").textContent(), "Completed with 1 error");
    await card.getByRole("button", { name: "Show results" }).click();
    const items = card.getByTestId("job-results").locator("li");
    await items.nth(2).waitFor();
    const failed = items.nth(1);
    const shown = (await failed.getByTestId("prompt-error-text").textContent()) ?? "";
    assert.ok(shown.endsWith("…") && shown.length < message.length, `clipped: ${shown}`);
    assert.ok(message.startsWith(shown.slice(0, -1).trimEnd()), `the start of the error: ${shown}`);
    const more = failed.getByRole("button", { name: "Show more" });
    assert.equal(await more.getAttribute("aria-expanded"), "false");
    await more.click();
    assert.equal(await failed.getByTestId("prompt-error-text").textContent(), message);
    await failed.getByRole("button", { name: "Show less" }).click();
    assert.equal(await failed.getByTestId("prompt-error-text").textContent(), shown);
    // The other prompts show their answers, not an error.
    for (const i of [0, 2]) assert.equal(await items.nth(i).getByTestId("prompt-error").count(), 0);
    await page.screenshot({ path: join(OUT, "ui-job-with-error.png"), fullPage: false });
    assert.deepEqual(consoleErrors, []);
  });

  test("math renders with KaTeX and a mermaid block as a diagram (chat stored through the API)", async () => {
    const { page, consoleErrors } = browser;
    const session = await api("POST", "/api/v1/chat/sessions", { title: "Math and diagrams" });
    const sid = session.id;
    await api("POST", `/api/v1/chat/sessions/${sid}/messages`, { role: "user", content: "Show me some math" });
    const answer = [
      "Euler's identity: $e^{i\\pi} + 1 = 0$.",
      "",
      "$$",
      "\\int_0^1 x^2 \\, dx = \\frac{1}{3}",
      "$$",
      "",
      "```mermaid",
      "graph TD",
      "  A[Prompt] --> B[Answer]",
      "```",
    ].join("\n");
    await api("POST", `/api/v1/chat/sessions/${sid}/messages`, { role: "assistant", content: answer });
    const scripts = [];
    page.on("response", (r) => {
      if (r.url().endsWith(".js")) scripts.push(r.url());
    });
    await page.goto(`${BASE}/chat/${sid}`);
    const message = page.locator('[data-testid="message-assistant"]').last();
    await message.locator(".katex").first().waitFor({ timeout: 20_000 });
    assert.ok((await message.locator(".katex").count()) >= 2, "inline and display math");
    await message.locator(".katex-display").waitFor();
    assert.ok((await message.locator(".katex-display mfrac").count()) >= 1, "the fraction is typeset");
    assert.ok(!((await message.textContent()) ?? "").includes("$$"), "the TeX source is not shown");
    const diagram = message.getByRole("img", { name: "Mermaid diagram" });
    await diagram.locator("svg").waitFor({ timeout: 20_000 });
    assert.match((await diagram.textContent()) ?? "", /Prompt[\s\S]*Answer/);
    // KaTeX's CSS and fonts come from this server, not a CDN.
    const katexCss = await page.evaluate(() =>
      [...document.styleSheets].some((s) => {
        try {
          return [...s.cssRules].some((r) => r.cssText.includes(".katex"));
        } catch {
          return false;
        }
      }),
    );
    assert.ok(katexCss, "KaTeX's stylesheet is loaded");
    assert.ok(scripts.every((u) => u.startsWith(BASE)), `scripts from elsewhere: ${scripts.filter((u) => !u.startsWith(BASE)).join(", ")}`);
    await page.screenshot({ path: join(OUT, "ui-math-mermaid.png"), fullPage: false });
    assert.deepEqual(consoleErrors, []);
  });

  test("the chat route does not load KaTeX or Mermaid when no message needs them", async () => {
    const { page, consoleErrors } = browser;
    const session = await api("POST", "/api/v1/chat/sessions", { title: "Plain" });
    await api("POST", `/api/v1/chat/sessions/${session.id}/messages`, { role: "user", content: "hi" });
    await api("POST", `/api/v1/chat/sessions/${session.id}/messages`, { role: "assistant", content: "It costs $5 and $10, **no math**." });
    // A fresh page load: modules loaded by an earlier test stay cached in a live page.
    const scripts = [];
    page.on("response", (r) => {
      if (r.url().endsWith(".js")) scripts.push(r.url());
    });
    await page.goto(`${BASE}/chat/${session.id}`);
    await page.locator('[data-testid="message-assistant"] strong').waitFor();
    await page.waitForTimeout(1000);
    const heavy = [];
    for (const url of scripts) {
      const body = await (await fetch(url)).text();
      // Strings of the libraries themselves (not of the app's code that loads them).
      if (body.includes("KaTeX parse error") || body.includes("Syntax error in text")) heavy.push(url);
    }
    assert.deepEqual(heavy, [], "KaTeX or Mermaid loaded for a chat without math or diagrams");
    assert.equal(await page.locator(".katex").count(), 0);
    assert.deepEqual(consoleErrors, []);
  });

  test("settings: the default model is listed once; max tokens out of range is explained and not saved", async () => {
    const { page, consoleErrors } = browser;
    const models = await api("GET", "/api/v1/models");
    await page.goto(`${BASE}/`);
    await page.getByRole("button", { name: "Open settings" }).click();
    const select = page.locator("#set-model");
    await select.waitFor();
    // The models have loaded once the default option names the server's default model.
    await page.waitForFunction((name) => document.querySelector("#set-model option")?.textContent?.includes(name), models.default);
    const options = await select.locator("option").allTextContents();
    const mentions = options.filter((o) => o.includes(models.default));
    assert.equal(mentions.length, 1, `the default model ${models.default} is listed once: ${options.join(" | ")}`);

    const input = page.locator("#set-max");
    const saved = () => page.evaluate(() => JSON.parse(localStorage.getItem("sable-settings") ?? localStorage.getItem("prodigon-settings") ?? "{}"));
    const before = await input.inputValue();
    for (const bad of ["0", "99999"]) {
      await input.fill(bad);
      await input.blur();
      const error = page.locator("#set-max-error");
      await error.waitFor();
      const text = (await error.textContent()) ?? "";
      assert.match(text, /from 1 to 8,192/, `the allowed range is stated: ${text}`);
      assert.equal(await input.getAttribute("aria-invalid"), "true");
      assert.equal(await input.getAttribute("aria-describedby"), "set-max-error");
      assert.equal(await input.inputValue(), bad, "the entry is kept for correcting, not clamped");
      const stored = await saved();
      const value = stored.state?.maxTokens ?? stored.maxTokens;
      if (value !== undefined) assert.equal(String(value), before, `${bad} was saved`);
    }
    await input.fill("2048");
    assert.equal(await page.locator("#set-max-error").count(), 0);
    assert.equal(await input.getAttribute("aria-invalid"), "false");
    await page.getByRole("button", { name: "Close settings" }).click();
    await page.getByRole("button", { name: "Open settings" }).click();
    assert.equal(await page.locator("#set-max").inputValue(), "2048");
    await page.getByRole("button", { name: "Close settings" }).click();
    assert.deepEqual(consoleErrors, []);
  });
});

describe("phone (390×844, dark)", () => {
  /** @type {Awaited<ReturnType<typeof openBrowser>>} */
  let phone;
  /** The phone user's API from Node. */
  let phoneApi;

  before(async () => {
    phone = await openBrowser({ width: 390, height: 844, colorScheme: "dark" });
    ({ api: phoneApi } = await signUpWithApi(phone.page, newUser("ui-phone")));
  });

  after(async () => {
    await phone?.close();
  });

  test("the mobile drawer is opaque in dark mode and Escape closes it", async () => {
    const { page, consoleErrors } = phone;
    await page.goto(`${BASE}/`);
    await page.getByRole("button", { name: "Open sidebar" }).click();
    const drawer = page.getByTestId("mobile-drawer");
    await drawer.waitFor();
    const bg = await drawer.evaluate((el) => getComputedStyle(el).backgroundColor);
    const alpha = /rgba?\(([^)]+)\)/.exec(bg)?.[1].split(",").map((x) => x.trim())[3];
    assert.ok(alpha === undefined || Number(alpha) === 1, `drawer background ${bg} is see-through`);
    assert.ok(!/^rgba?\(\s*(2[0-4]\d|25[0-5])/.test(bg), `drawer background ${bg} is light in dark mode`);
    await page.screenshot({ path: join(OUT, "ui-phone-drawer-dark.png"), fullPage: false });
    await page.keyboard.press("Escape");
    await drawer.waitFor({ state: "detached", timeout: 3000 });
    assert.deepEqual(consoleErrors, []);
  });

  test("a markdown table scrolls sideways instead of breaking words", async () => {
    const { page, consoleErrors } = phone;
    const post = (path, body) => phoneApi("POST", path, body);
    const session = await post("/api/v1/chat/sessions", { title: "Table" });
    await post(`/api/v1/chat/sessions/${session.id}/messages`, { role: "user", content: "a table please" });
    const table = [
      "| target | description | throughput | latency | configuration |",
      "|---|---|---|---|---|",
      "| target | the production deployment | 12000 requests | 35 milliseconds | replicated |",
      "| staging | the preproduction environment | 8000 requests | 41 milliseconds | single |",
    ].join("\n");
    await post(`/api/v1/chat/sessions/${session.id}/messages`, { role: "assistant", content: table });
    await page.goto(`${BASE}/chat/${session.id}`);
    const scroller = page.locator('[data-testid="message-assistant"] [data-testid="md-table-scroll"]');
    await scroller.waitFor();
    const { scrolls, broken } = await scroller.evaluate((el) => {
      // A word broken across lines has client rects on two lines.
      const broken = [];
      for (const cell of el.querySelectorAll("th, td")) {
        const text = cell.firstChild;
        if (!text || text.nodeType !== Node.TEXT_NODE) continue;
        const content = text.textContent ?? "";
        let at = 0;
        for (const word of content.split(/\s+/)) {
          if (!word) continue;
          const start = content.indexOf(word, at);
          at = start + word.length;
          const range = document.createRange();
          range.setStart(text, start);
          range.setEnd(text, start + word.length);
          const tops = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
          if (tops.size > 1) broken.push(word);
        }
      }
      return { scrolls: el.scrollWidth > el.clientWidth, broken };
    });
    assert.deepEqual(broken, [], "words broken inside table cells");
    assert.ok(scrolls, "the wide table scrolls sideways inside its wrapper");
    const pageScrolls = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
    assert.equal(pageScrolls, false, "the page itself does not scroll sideways");
    await page.screenshot({ path: join(OUT, "ui-phone-table-dark.png"), fullPage: false });
    assert.deepEqual(consoleErrors, []);
  });
});

describe("dashboard live metrics (the stack's admin, 1440×900)", () => {
  /** @type {Awaited<ReturnType<typeof openBrowser>>} */
  let admin;
  let adminToken = null;

  before(async () => {
    admin = await openBrowser({ width: 1440, height: 900 });
    // Accounts off: the one user is the admin.
    ({ token: adminToken } = await signInWithApi(admin.page, ADMIN ?? newUser("ui-admin")));
  });

  after(async () => {
    await admin?.close();
  });

  /** Streams one answer through the gateway (a relayed stream: TTFT and tokens for the window). */
  async function streamOnce(prompt) {
    const headers = { "content-type": "application/json" };
    if (adminToken) headers.authorization = `Bearer ${adminToken}`;
    const res = await fetch(`${BASE}/api/v1/generate/stream`, { method: "POST", headers, body: JSON.stringify({ prompt }) });
    const body = await res.text();
    assert.ok(body.includes("[DONE]"), body);
  }

  test("charts of request rate, TTFT and tokens/s fill from real streams; axis labels are not cut off", async () => {
    const { page, consoleErrors } = admin;
    for (let i = 0; i < 3; i++) await streamOnce(`[mock:tokens=30] dashboard ${i}`);
    await page.goto(`${BASE}/dashboard`);
    await page.getByTestId("metrics-charts").waitFor();
    const ttft = page.locator('[data-chart="Time to first token"] [data-testid="metrics-headline"]');
    // The headline covers the last 10 s of complete seconds: the streams show within a few.
    await page.waitForFunction(
      () => /p50 \d+(\.\d+)? · p99 \d+(\.\d+)? ms/.test(document.querySelector('[data-chart="Time to first token"] [data-testid="metrics-headline"]')?.textContent ?? ""),
      undefined,
      { timeout: 15_000 },
    );
    const p50 = /p50 (\d+(?:\.\d+)?)/.exec((await ttft.textContent()) ?? "")?.[1];
    assert.ok(Number(p50) >= 60, `TTFT p50 ${p50} ms is below the mock's 60 ms first-token delay`);
    // Rates draw a line over the server's series (several points); TTFT, null where no stream
    // started, draws a dot at least for the interval of these streams.
    for (const name of ["Requests / s", "Tokens / s"]) {
      const line = page.locator(`[data-chart="${name}"] .recharts-line-curve`).first();
      await line.waitFor({ timeout: 15_000 });
      const d = (await line.getAttribute("d")) ?? "";
      assert.match(d, /[LC]/, `${name}: no line drawn (${d})`);
    }
    await page.locator('[data-chart="Time to first token"] .recharts-line-dot').first().waitFor({ timeout: 15_000 });
    const text = (await page.getByTestId("metrics-charts").textContent()) ?? "";
    assert.ok(!text.includes("null"), `"null" on the dashboard: ${text}`);
    assert.deepEqual(await clippedAxisLabels(page), [], "y-axis labels cut off");
    await page.screenshot({ path: join(OUT, "ui-dashboard-live.png"), fullPage: true });
    assert.deepEqual(consoleErrors, []);
  });

  test("an idle window reads 'no traffic yet', never 'null', and small or large axis values fit", async () => {
    const { page, consoleErrors } = admin;
    const now = Math.floor(Date.now() / 1000);
    // The gateway's shape with no traffic in the window, and values that need decimals (0.225,
    // 0.0045) and thousands (2550) on the axes.
    const series = Array.from({ length: 12 }, (_, i) => ({
      end_unix: now - (11 - i) * 5,
      requests_per_sec: i % 2 ? 0.225 : 0.2,
      tokens_per_sec: i % 2 ? 2550 : 1200,
      p50_ms: null,
      p99_ms: null,
      ttft_p50_ms: null,
      ttft_p99_ms: null,
    }));
    const idle = {
      requests_per_sec: 0,
      p50_ms: null,
      p99_ms: null,
      tokens_per_sec: 0,
      ttft_p50_ms: null,
      ttft_p99_ms: null,
      queue_depth: 0,
      jobs_per_sec: 0.0045, // a job every few minutes: ticks like "0.0045" must fit too
      window_secs: 10,
      series_interval_secs: 5,
      series,
    };
    await page.route("**/api/v1/metrics/summary", (route) => route.fulfill({ json: idle }));
    try {
      await page.goto(`${BASE}/dashboard`);
      await page.getByTestId("metrics-charts").waitFor();
      await page.locator('[data-chart="Tokens / s"] .recharts-line-curve').waitFor();
      const headline = (name) => page.locator(`[data-chart="${name}"] [data-testid="metrics-headline"]`).textContent();
      assert.equal(await headline("Time to first token"), "no streams yet");
      assert.equal(await headline("API latency"), "no traffic yet");
      assert.equal(await headline("Requests / s"), "0 req/s");
      const text = (await page.getByTestId("metrics-charts").textContent()) ?? "";
      assert.ok(!text.includes("null"), `"null" on the dashboard: ${text}`);
      await page.locator('[data-chart="Jobs / s"]').locator(Y_TICKS).filter({ hasText: /^0\.00/ }).first().waitFor();
      assert.deepEqual(await clippedAxisLabels(page), [], "y-axis labels cut off");
      const ticks = await page.locator('[data-chart="Tokens / s"]').locator(Y_TICKS).allTextContents();
      assert.ok(ticks.some((t) => /k$/.test(t)), `thousands are abbreviated: ${ticks.join(", ")}`);
      await page.screenshot({ path: join(OUT, "ui-dashboard-idle.png"), fullPage: true });
    } finally {
      await page.unroute("**/api/v1/metrics/summary");
    }
    assert.deepEqual(consoleErrors, []);
  });
});
