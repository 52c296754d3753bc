// Shared helpers for the browser suites (e2e/run.mjs and e2e/*.spec.mjs). Each spec file opens
// its own browser with `openBrowser()` and signs up its own user, so files do not depend on each
// other's state and can be read on their own. scripts/test_frontend.sh runs them one at a time.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

export const BASE = process.env.E2E_BASE_URL ?? "http://127.0.0.1:18000";
export const OUT = process.env.E2E_OUT ?? new URL("../test-output/", import.meta.url).pathname;
export const EXE = process.env.CHROMIUM ?? "/usr/bin/chromium";
export const RUN = Date.now().toString(36);
export const PASSWORD = `e2e-Passw0rd-${RUN}`;

mkdirSync(OUT, { recursive: true });

/** The gateway's accounts mode: "jwt" (sign-in required), "off", or "none". Asked from Node. */
export async function authMode() {
  try {
    const res = await fetch(`${BASE}/api/v1/auth/config`);
    if (!res.ok) return "none";
    const body = await res.json();
    return body.auth_mode === "jwt" ? "jwt" : "off";
  } catch {
    return "none";
  }
}

/**
 * Launches Debian's Chromium with a fresh profile. Console errors are collected in
 * `consoleErrors` unless `allow(text)` says they are expected; call `close()` when done.
 * @param {{ width?: number, height?: number, colorScheme?: "light" | "dark", allow?: (text: string) => boolean }} [opts]
 */
export async function openBrowser(opts = {}) {
  const userDataDir = mkdtempSync(join(tmpdir(), "sable-e2e-"));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: EXE,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport: { width: opts.width ?? 1280, height: opts.height ?? 800 },
    colorScheme: opts.colorScheme ?? "light",
    acceptDownloads: true,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(15_000);
  /** @type {string[]} */
  const consoleErrors = [];
  const allow = opts.allow ?? (() => false);
  page.on("console", (msg) => {
    if (msg.type() === "error" && !allow(msg.text())) consoleErrors.push(`${msg.text()} @ ${msg.location().url ?? ""}`);
  });
  page.on("pageerror", (err) => consoleErrors.push(`pageerror: ${err.message}`));
  return {
    context,
    page,
    consoleErrors,
    async close() {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** Signs up a new user (when accounts are on) and waits for the empty chat page. */
export async function signUp(page, user) {
  if ((await authMode()) !== "jwt") {
    await page.goto(`${BASE}/`);
  } else {
    await page.goto(`${BASE}/sign-up`);
    await page.getByLabel("Name (optional)").fill(user.name);
    await page.getByLabel("Email").fill(user.email);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Create account" }).click();
  }
  await page.getByRole("heading", { name: "How can I help you today?" }).waitFor();
}

/**
 * One JSON call to the gateway from Node with `token` (none when null), asserting success; the
 * parsed body (null when empty). A 429 (many calls in a row meet the per-user rate limit) waits
 * as its Retry-After says and tries again, up to 20 times.
 */
export async function apiCall(token, method, path, body) {
  const headers = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const send = () => fetch(`${BASE}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  let res = await send();
  for (let i = 0; res.status === 429 && i < 20; i++) {
    await new Promise((r) => setTimeout(r, 1000 * Number(res.headers.get("retry-after") ?? 1)));
    res = await send();
  }
  const text = await res.text();
  assert.ok(res.ok, `${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/**
 * `user`'s API from Node: `token` (null when accounts are off) and `api(method, path, body)`, an
 * apiCall with that token. The user signs in with `user.password`, or the suite's PASSWORD.
 */
export async function userApi(user) {
  const login = { email: user.email, password: user.password ?? PASSWORD };
  const token = (await authMode()) === "jwt" ? (await apiCall(null, "POST", "/api/v1/auth/login", login)).access_token : null;
  return { token, api: (method, path, body) => apiCall(token, method, path, body) };
}

/** Signs up `user` in `page` (signUp) and gives the same user's API from Node (userApi). */
export async function signUpWithApi(page, user) {
  await signUp(page, user);
  return userApi(user);
}

/** Adds alternating user / assistant messages (`contents`, a user's first) to chat `id`. */
export async function appendMessages(api, id, contents) {
  for (const [i, content] of contents.entries()) {
    await api("POST", `/api/v1/chat/sessions/${id}/messages`, { role: i % 2 ? "assistant" : "user", content });
  }
}

/** A chat made through the API (`api` from signUpWithApi) with `contents` as messages; its id. */
export async function chatWith(api, title, contents) {
  const session = await api("POST", "/api/v1/chat/sessions", { title });
  await appendMessages(api, session.id, contents);
  return session.id;
}

/**
 * The stack's administrator, made by scripts/test_frontend.sh before any suite runs (the first
 * account of a stack is its admin). `null` when the suite runs without accounts.
 */
export const ADMIN = process.env.E2E_ADMIN_EMAIL
  ? { name: "E2E Admin", email: process.env.E2E_ADMIN_EMAIL, password: process.env.E2E_ADMIN_PASSWORD ?? "" }
  : null;

/** Signs in an existing account (`ADMIN`, or a user made by `signUp`) and waits for the chat page. */
export async function signIn(page, user) {
  await page.goto(`${BASE}/sign-in`);
  await page.getByLabel("Email").fill(user.email);
  await page.getByLabel("Password").fill(user.password ?? PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "How can I help you today?" }).waitFor();
}

/**
 * Signs in an existing account in `page` (signIn) and gives its API from Node (userApi); with
 * accounts off, where nobody signs in, the one user's page and API.
 */
export async function signInWithApi(page, user) {
  if ((await authMode()) === "jwt") await signIn(page, user);
  else await signUp(page, user);
  return userApi(user);
}

/** A fresh user for one spec file: `newUser("branches")`. */
export function newUser(tag) {
  return { name: `E2E ${tag}`, email: `${tag}-${RUN}@example.com` };
}

export async function sendMessage(page, text) {
  const input = page.getByLabel("Message", { exact: true });
  await input.fill(text);
  await input.press("Enter");
}

export const assistantMessages = (page) => page.locator('[data-testid="message-assistant"]');
export const userMessages = (page) => page.locator('[data-testid="message-user"]');
export const sessionItems = (page) => page.locator('[data-testid="session-item"]');

/** Waits until no answer is streaming any more. */
export async function waitForAnswer(page, timeout = 30_000) {
  await page.locator('[data-testid="message-assistant"]').last().waitFor();
  await page.waitForFunction(() => !document.querySelector('[data-testid="message-assistant"][data-status="streaming"]'), undefined, { timeout });
}
