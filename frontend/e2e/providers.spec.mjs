// Providers in the UI (issue 22.5): the model picker groups the models by provider with their
// capabilities and context size; the admin Providers page lists each provider with its health,
// cool-down, latency, error rate and models and reloads the providers file; the dashboard shows
// admins today's cost by model; people who are not admins see neither (and the API answers
// them 403). scripts/test_frontend.sh runs the stack with e2e/providers.toml (two mock
// providers). Screenshots: providers-<desktop|phone>.png, dashboard-cost-by-model.png.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { ADMIN, BASE, OUT, PASSWORD, authMode, newUser, openBrowser, signIn, signUp } from "./lib.mjs";

const VIEWPORTS = [
  ["desktop", { width: 1280, height: 800 }],
  ["phone", { width: 390, height: 844 }],
];

/** @type {Awaited<ReturnType<typeof openBrowser>>} */
let browser;
/** The admin's own browser (the stack's admin account; the one user without accounts). */
/** @type {Awaited<ReturnType<typeof openBrowser>>} */
let admin;
const user = newUser("providers");
/** Bearer tokens (null when accounts are off: every caller is the admin). */
let userToken = null;
let adminToken = null;

async function call(method, path, token, body) {
  const headers = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  return fetch(`${BASE}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
}

async function json(method, path, token, body) {
  const res = await call(method, path, token, body);
  const text = await res.text();
  assert.ok(res.ok, `${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

async function login(email, password) {
  return (await json("POST", "/api/v1/auth/login", null, { email, password })).access_token;
}

/** A context window as the picker writes it (8192 → "8K"; see src/lib/models.ts). */
function contextSize(tokens) {
  if (!tokens) return null;
  if (tokens >= 1024 * 1024 && tokens % (1024 * 1024) === 0) return `${tokens / (1024 * 1024)}M`;
  return tokens >= 1000 ? `${Math.round(tokens / 1024)}K` : String(tokens);
}

describe("providers: model picker, admin Providers page, cost by model", () => {
  before(async () => {
    browser = await openBrowser({ width: 1280, height: 800 });
    await signUp(browser.page, user);
    admin = await openBrowser({ width: 1280, height: 800 });
    if (ADMIN) await signIn(admin.page, ADMIN);
    else await admin.page.goto(`${BASE}/`);
    if ((await authMode()) === "jwt") {
      userToken = await login(user.email, PASSWORD);
      adminToken = ADMIN ? await login(ADMIN.email, ADMIN.password) : null;
    }
  });

  after(async () => {
    await browser?.close();
    await admin?.close();
  });

  test("the model picker groups models by provider with capabilities and context size", async () => {
    const { page, consoleErrors } = browser;
    const registry = await json("GET", "/api/v1/models", userToken);
    const chatModels = registry.models.filter((m) => !m.capabilities?.length || m.capabilities.includes("chat"));
    // The default is the picker's first option; the others are grouped by provider.
    const chat = chatModels.filter((m) => m.id !== registry.default);
    const providers = [...new Set(chat.map((m) => m.provider))];
    assert.ok(chat.length > 0, `nothing to pick besides the default: ${JSON.stringify(registry)}`);
    await page.goto(`${BASE}/`);
    await page.getByRole("button", { name: "Open settings" }).click();
    const select = page.locator("#set-model");
    await select.locator("optgroup").first().waitFor({ state: "attached" });
    const shown = await select.evaluate((el) =>
      [...el.querySelectorAll("optgroup")].map((g) => ({
        label: g.getAttribute("label"),
        options: [...g.querySelectorAll("option")].map((o) => ({ value: o.value, text: o.textContent })),
      })),
    );
    assert.deepEqual(
      shown.map((g) => g.label),
      providers,
      `one group per provider, in the server's order: ${JSON.stringify(shown)}`,
    );
    for (const m of chat) {
      const group = shown.find((g) => g.label === m.provider);
      const option = group?.options.find((o) => o.value === m.id);
      assert.ok(option, `${m.id} is listed under ${m.provider}: ${JSON.stringify(shown)}`);
      for (const c of m.capabilities ?? []) assert.ok(option.text.includes(c), `${option.text} names ${c}`);
      const ctx = contextSize(m.context_window);
      if (ctx) assert.ok(option.text.includes(`${ctx} context`), `${option.text} gives the context size ${ctx}`);
    }
    if (process.env.E2E_PROVIDERS_FILE !== "") {
      // With e2e/providers.toml: two providers with chat models (the default is mock's).
      assert.deepEqual(
        shown.map((g) => g.label),
        ["mock", "cloud"],
      );
      const cloud = shown.find((g) => g.label === "cloud")?.options.map((o) => o.text) ?? [];
      assert.ok(cloud.includes("cloud/llama-3.1-8b-instant · chat, tools, json · 8K context"), JSON.stringify(cloud));
    }
    // Picking a grouped model keeps it.
    await select.selectOption(chat[chat.length - 1].id);
    assert.equal(await select.inputValue(), chat[chat.length - 1].id);
    await select.selectOption("");
    await page.getByRole("button", { name: "Close settings" }).click();
    assert.deepEqual(consoleErrors, []);
  });

  test("someone who is not an admin sees no Providers page or cost panel, and the API refuses them", async (t) => {
    if (!ADMIN) return t.skip("without accounts the one user is the admin");
    const { page, consoleErrors } = browser;
    for (const [method, path] of [
      ["GET", "/api/v1/admin/providers"],
      ["POST", "/api/v1/admin/providers/reload"],
      ["GET", "/api/v1/admin/usage/models"],
    ]) {
      const res = await call(method, path, userToken, method === "POST" ? {} : undefined);
      assert.equal(res.status, 403, `${method} ${path} as a user`);
      assert.equal((await res.json()).error.code, "FORBIDDEN");
    }
    let asked = false;
    const watch = (r) => {
      if (r.url().includes("/api/v1/admin/")) asked = true;
    };
    page.on("request", watch);
    try {
      await page.goto(`${BASE}/`);
      await page.getByRole("heading", { name: "How can I help you today?" }).waitFor();
      const links = await page.locator('a[href="/admin/providers"]').evaluateAll((els) => els.map((e) => e.outerHTML));
      const role = await page.evaluate(() => fetch("/api/v1/auth/config").then((r) => r.json()));
      assert.deepEqual(links, [], `no Providers link for a user (${JSON.stringify(role)})`);
      await page.goto(`${BASE}/admin/providers`);
      await page.getByTestId("providers-admin-only").waitFor();
      assert.equal(await page.getByTestId("provider-card").count(), 0);
      await page.goto(`${BASE}/dashboard`);
      await page.getByTestId("metrics-admin-only").waitFor();
      await page.waitForTimeout(1000);
      assert.equal(await page.getByTestId("cost-by-model").count(), 0);
    } finally {
      page.off("request", watch);
    }
    assert.equal(asked, false, "a user's pages asked an admin route (a 403 in the console)");
    assert.deepEqual(consoleErrors, []);
  });

  test("an admin sees each provider's health, latency, error rate and models, and reloads the file", async () => {
    const { page, consoleErrors } = admin;
    // Calls on both providers, so that their latency figures exist.
    const registry = await json("GET", "/api/v1/models", adminToken);
    for (const model of ["default", ...(registry.aliases?.fast ? ["fast"] : [])]) {
      await json("POST", "/api/v1/generate", adminToken, { prompt: `cost check ${model}`, model, max_tokens: 8 });
    }
    const state = await json("GET", "/api/v1/admin/providers", adminToken);
    assert.ok(state.providers.length >= 1, JSON.stringify(state));

    await page.getByRole("link", { name: "Providers" }).click();
    await page.waitForURL(`${BASE}/admin/providers`);
    const cards = page.getByTestId("provider-card");
    await cards.first().waitFor();
    assert.equal(await cards.count(), state.providers.length);
    for (const p of state.providers) {
      const card = page.locator(`[data-testid="provider-card"][data-provider="${p.name}"]`);
      assert.equal(await card.getAttribute("data-status"), p.status);
      assert.match((await card.getByTestId("provider-status").textContent()) ?? "", p.status === "up" ? /Up/ : /Cooling down/);
      assert.deepEqual(await card.getByTestId("provider-model").allTextContents(), p.models);
      if (p.requests > 0) {
        assert.match((await card.getByTestId("provider-p50").textContent()) ?? "", /\d+(\.\d+)? m?s/);
        assert.match((await card.getByTestId("provider-p99").textContent()) ?? "", /\d+(\.\d+)? m?s/);
      }
      assert.match((await card.getByTestId("provider-error-rate").textContent()) ?? "", /^\d+(\.\d)?% of \d+/);
    }
    if (state.from_file) {
      assert.match((await page.getByTestId("providers-source").textContent()) ?? "", /providers file/);
      // Reload: reads the file again; the same providers come back, and the page says so.
      await page.getByTestId("providers-reload").click();
      await page.getByText("Providers reloaded").waitFor();
      assert.equal(await cards.count(), state.providers.length);
      assert.equal(await page.getByRole("alert").count(), 0);
    }
    for (const [name, viewport] of VIEWPORTS) {
      await page.setViewportSize(viewport);
      await cards.first().waitFor();
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `${name}: the page is ${overflow}px wider than the screen`);
      await page.screenshot({ path: join(OUT, `providers-${name}.png`), fullPage: true });
    }
    await page.setViewportSize({ width: 1280, height: 800 });
    assert.deepEqual(consoleErrors, []);
  });

  test("the dashboard shows an admin today's cost by model", async () => {
    const { page, consoleErrors } = admin;
    const rows = await json("GET", "/api/v1/admin/usage/models", adminToken);
    assert.ok(rows.length > 0, "the previous test's answers are counted");
    await page.goto(`${BASE}/dashboard`);
    const panel = page.getByTestId("cost-by-model");
    await panel.waitFor();
    for (const r of rows) {
      const row = panel.locator(`[data-testid="cost-row"][data-model="${r.model}"]`);
      await row.waitFor();
      assert.match((await row.getByTestId("cost-usd").textContent()) ?? "", /^<?\$\d/);
    }
    if (rows.some((r) => r.cost_usd > 0)) {
      assert.notEqual(await panel.getByTestId("cost-total").textContent(), "$0");
    }
    await panel.scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(OUT, "dashboard-cost-by-model.png"), fullPage: true });
    for (const [name, viewport] of VIEWPORTS) {
      await page.setViewportSize(viewport);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `${name}: the dashboard is ${overflow}px wider than the screen`);
    }
    await page.setViewportSize({ width: 1280, height: 800 });
    assert.deepEqual(consoleErrors, []);
  });
});
