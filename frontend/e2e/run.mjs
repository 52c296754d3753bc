// Browser end-to-end suite: playwright-core driving Debian's chromium against a running stack.
//   E2E_BASE_URL  gateway serving the built SPA (default http://127.0.0.1:18000)
//   E2E_OUT       screenshot folder (default frontend/test-output)
//   CHROMIUM      browser binary (default /usr/bin/chromium)
// Started by scripts/test_frontend.sh, which boots the real services first.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { BASE, OUT, PASSWORD, RUN, authMode, openBrowser, sendMessage as sendTo, signUp as signUpIn } from "./lib.mjs";

/** @type {Awaited<ReturnType<typeof openBrowser>>} */
let browser;
/** @type {import("playwright-core").Page} */
let page;
/** Console errors the page logged (filled by openBrowser). */
let consoleErrors = [];
/** While the outage test blocks requests on purpose, their network errors are expected. */
let simulatingOutage = false;
/** While a test provokes 401/404 answers on purpose, Chromium's "Failed to load resource" logs are expected. */
let expectingHttpErrors = false;
/** Session created by the first test, reused by later ones. */
let chatUrl = "";
const firstPrompt = `Tell me about zebra${RUN} migrations`;

const AUTH = await authMode();
const JWT_ONLY = AUTH === "jwt" ? false : `accounts are ${AUTH === "off" ? "off" : "not available"} on this gateway`;
const userA = { name: "Ada E2E", email: `ada-${RUN}@example.com` };
const userB = { name: "Bob E2E", email: `bob-${RUN}@example.com` };

async function signOut() {
  await page.getByTestId("account-link").click();
  await page.waitForURL(`${BASE}/account`);
  // exact: the Account page also has "Sign out everywhere".
  await page.getByRole("button", { name: "Sign out", exact: true }).click();
  await page.waitForURL(/\/sign-in/);
}

const assistant = () => page.locator('[data-testid="message-assistant"]');
const lastAssistant = () => assistant().last();
const sessionItems = () => page.locator('[data-testid="session-item"]');

before(async () => {
  browser = await openBrowser({
    allow: (text) => simulatingOutage || (expectingHttpErrors && /status of (401|403|404|429)/.test(text)),
  });
  page = browser.page;
  consoleErrors = browser.consoleErrors;
});

after(async () => {
  await browser?.close();
});

describe("Sable UI against the real stack", () => {
  test("accounts: a visitor is sent to sign-in and signs up", { skip: JWT_ONLY }, async () => {
    await page.goto(`${BASE}/`);
    await page.waitForURL(/\/sign-in/);
    await page.getByRole("heading", { name: "Sign in to Sable" }).waitFor();
    await page.setViewportSize({ width: 1440, height: 900 });
    await page.screenshot({ path: join(OUT, "sign-in.png"), fullPage: false });
    await page.getByRole("link", { name: "Create an account" }).click();
    await page.getByRole("heading", { name: "Create your Sable account" }).waitFor();
    await page.screenshot({ path: join(OUT, "sign-up.png"), fullPage: false });
    await page.setViewportSize({ width: 1280, height: 800 });
    await signUpIn(page, userA);
    // The access token lives in memory only: a reload restores the session from the cookie.
    await page.reload();
    await page.getByRole("heading", { name: "How can I help you today?" }).waitFor();
    assert.match(page.url(), new RegExp(`^${BASE}/$`));
  });

  test("a message streams in with intermediate renders before the final answer", async () => {
    await page.goto(`${BASE}/`);
    await page.getByRole("heading", { name: "How can I help you today?" }).waitFor();
    // Record every distinct text the last answer bubble shows while it streams.
    await page.evaluate(() => {
      const w = /** @type {any} */ (window);
      w.__renders = [];
      const obs = new MutationObserver(() => {
        const bubbles = document.querySelectorAll('[data-testid="message-assistant"]');
        const last = bubbles[bubbles.length - 1];
        if (!last) return;
        const text = (last.querySelector(".message-content")?.textContent ?? "").trim();
        const status = last.getAttribute("data-status");
        const prev = w.__renders[w.__renders.length - 1];
        if (text && (!prev || prev.text !== text)) w.__renders.push({ text, status });
      });
      obs.observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
    });
    await sendTo(page, firstPrompt);
    await page.waitForURL(/\/chat\/[0-9a-f-]{36}/);
    chatUrl = page.url();
    await page.locator('[data-testid="message-assistant"][data-status="done"]').waitFor();
    const renders = await page.evaluate(() => /** @type {any} */ (window).__renders);
    const finalText = ((await lastAssistant().locator(".message-content").textContent()) ?? "").trim();
    assert.ok(finalText.length > 0, "final answer is empty");
    const intermediate = renders.filter((r) => r.status === "streaming" && r.text !== finalText);
    assert.ok(intermediate.length >= 2, `expected ≥2 intermediate renders, saw ${intermediate.length}: ${JSON.stringify(renders)}`);
    for (let i = 1; i < intermediate.length; i++) {
      assert.ok(intermediate[i].text.length >= intermediate[i - 1].text.length, "answer text shrank while streaming");
    }
    // Per-answer stats: model and timings are shown.
    const stats = (await lastAssistant().getByTestId("answer-stats").textContent()) ?? "";
    assert.match(stats, /TTFT/);
    assert.match(stats, /total/);
    await page.getByRole("list", { name: "Conversations" }).getByText(firstPrompt.slice(0, 20)).first().waitFor();
    await page.screenshot({ path: join(OUT, "chat.png"), fullPage: false });
  });

  test("stopping a slow answer keeps the partial text", async () => {
    // The mock echoes up to 200 characters of the prompt, one word per token: a long prompt
    // gives a long answer, so Stop lands mid-stream.
    await sendTo(
      page,
      `Please write a long essay about stop${RUN} behaviour: ` +
        "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen " +
        "sixteen seventeen eighteen nineteen twenty twenty-one twenty-two twenty-three twenty-four",
    );
    const bubble = page.locator('[data-testid="message-assistant"][data-status="streaming"]');
    await bubble.locator(".message-content").waitFor();
    await page.getByRole("button", { name: "Stop generating" }).click();
    const stopped = page.locator('[data-testid="message-assistant"]').last();
    await page.waitForFunction(() => {
      const b = [...document.querySelectorAll('[data-testid="message-assistant"]')].pop();
      return b?.getAttribute("data-status") === "stopped" || b?.getAttribute("data-status") === "done";
    });
    const status = await stopped.getAttribute("data-status");
    assert.equal(status, "stopped", "the answer finished before Stop took effect (mock too fast?)");
    const partial = ((await stopped.locator(".message-content").textContent()) ?? "").trim();
    assert.ok(partial.length > 0, "partial text was lost");
    await page.waitForTimeout(800);
    const later = ((await stopped.locator(".message-content").textContent()) ?? "").trim();
    assert.equal(later, partial, "text kept changing after stop");
    await page.getByRole("button", { name: "Send message", exact: true }).waitFor();
  });

  test("after a reload the session and its messages come back from the server", async () => {
    await page.goto(chatUrl);
    // Reload only once the page has loaded: a reload that cancels the page's in-flight session
    // refresh leaves the browser with the already used cookie, and the gateway revokes a sign-in
    // whose refresh token is presented twice.
    await page.locator('[data-testid="message-user"]').first().waitFor();
    await page.reload();
    await page.locator('[data-testid="message-user"]').first().waitFor();
    const users = await page.locator('[data-testid="message-user"]').allTextContents();
    assert.ok(users.some((t) => t.includes(firstPrompt)), `first prompt missing after reload: ${JSON.stringify(users)}`);
    assert.ok((await assistant().count()) >= 1, "no assistant message after reload");
    const firstAnswer = ((await assistant().first().locator(".message-content").textContent()) ?? "").trim();
    assert.ok(firstAnswer.length > 0, "stored answer is empty");
    // The stopped answer was stored by the server, partial and marked as stopped.
    const stored = page.locator('[data-testid="message-assistant"][data-status="stopped"]');
    await stored.first().waitFor();
    assert.ok((((await stored.first().locator(".message-content").textContent()) ?? "").trim()).length > 0);
    const active = page.locator('[data-testid="session-item"] a[aria-current="page"]');
    await active.waitFor();
  });

  test("regenerate and edit-and-resend stream new answers", async () => {
    await page.goto(chatUrl);
    await page.locator('[data-testid="message-assistant"]').first().waitFor();
    const before = await assistant().count();
    await lastAssistant().getByRole("button", { name: "Regenerate answer" }).click();
    await page.locator('[data-testid="message-assistant"][data-status="streaming"]').waitFor();
    await page.locator('[data-testid="message-assistant"][data-status="streaming"]').waitFor({ state: "detached" });
    assert.equal(await lastAssistant().getAttribute("data-status"), "done");
    assert.equal(await assistant().count(), before, "regenerate should replace the last answer in view");

    const lastUser = page.locator('[data-testid="message-user"]').last();
    await lastUser.hover();
    await lastUser.getByRole("button", { name: "Edit and resend message" }).click();
    await page.getByLabel("Edit message").fill(`edited question ${RUN}`);
    await page.getByRole("button", { name: "Save & send" }).click();
    await page.locator('[data-testid="message-user"]', { hasText: `edited question ${RUN}` }).waitFor();
    await page.locator('[data-testid="message-assistant"][data-status="streaming"]').waitFor({ state: "detached" });
    assert.match((await lastAssistant().locator(".message-content").textContent()) ?? "", new RegExp(`edited question ${RUN}`));
    // Nothing was deleted: the question now has three versions (original, regenerated, edited).
    await lastUser.getByTestId("version-label").filter({ hasText: "3 / 3" }).waitFor();

    // The server replaced the turns instead of piling them up: a reload shows what the tab showed.
    const shownUsers = await page.locator('[data-testid="message-user"]').allTextContents();
    const shownAnswers = await assistant().count();
    await page.waitForTimeout(300); // the answer is stored as the stream ends
    await page.reload();
    await page.locator('[data-testid="message-user"]', { hasText: `edited question ${RUN}` }).waitFor();
    assert.deepEqual(await page.locator('[data-testid="message-user"]').allTextContents(), shownUsers, "stored questions differ after reload");
    assert.equal(await assistant().count(), shownAnswers, "regenerate/edit left extra answers on the server");
  });

  test("an answer still generating on the server streams on after a reload", async (t) => {
    const doc = await (await fetch(`${BASE}/openapi.json`)).json().catch(() => ({}));
    if (!doc.paths?.["/api/v1/chat/sessions/{id}/stream"]) {
      t.skip("this gateway does not generate server-side");
      return;
    }
    await page.goto(chatUrl);
    await page.locator('[data-testid="message-user"]').first().waitFor();
    // [mock:tokens=150]: about 4.5 s of tokens, so the reload lands mid-answer.
    await sendTo(page, `[mock:tokens=150] Please write a long story about resume${RUN}`);
    await page.locator('[data-testid="message-assistant"][data-status="streaming"] .message-content').waitFor();
    await page.reload();
    // The generation went on without the page; the reloaded page attaches to it.
    const resumed = page.locator('[data-testid="message-assistant"][data-status="streaming"]');
    await resumed.waitFor();
    await resumed.waitFor({ state: "detached", timeout: 30_000 });
    const last = lastAssistant();
    assert.equal(await last.getAttribute("data-status"), "done");
    assert.match((await last.locator(".message-content").textContent()) ?? "", new RegExp(`resume${RUN}`));
    // …and it was stored once: a reload shows the same answer, not streaming.
    const answers = await assistant().count();
    await page.reload();
    await page.locator('[data-testid="message-user"]', { hasText: `resume${RUN}` }).waitFor();
    await page.waitForTimeout(300);
    assert.equal(await assistant().count(), answers);
  });

  test("search finds a message and opens its conversation", async () => {
    await page.goto(`${BASE}/`);
    await page.getByLabel("Search conversations").fill(`zebra${RUN}`);
    const result = page.getByTestId("search-result").first();
    await result.waitFor();
    assert.match((await result.locator("mark").first().textContent()) ?? "", new RegExp(`zebra${RUN}`, "i"));
    await result.click();
    await page.waitForURL((u) => chatUrl.startsWith(u.origin + u.pathname));
    await page.locator('[data-testid="message-user"]', { hasText: firstPrompt }).waitFor();
    await page.getByLabel("Search conversations").fill("");
  });

  test("a session can be renamed and deleted", async () => {
    const newTitle = `Renamed ${RUN}`;
    await page.goto(chatUrl);
    const item = sessionItems().filter({ has: page.locator('a[aria-current="page"]') });
    await item.waitFor();
    // A chat's actions are behind its "Actions for …" menu (one Tab stop per chat).
    await item.hover();
    await item.getByRole("button", { name: /^Actions for / }).click();
    await item.getByRole("menuitem", { name: "Rename" }).click();
    const field = page.getByLabel("Conversation title");
    await field.fill(newTitle);
    await field.press("Enter");
    await sessionItems().filter({ hasText: newTitle }).waitFor();
    await page.reload();
    await sessionItems().filter({ hasText: newTitle }).waitFor();
    assert.equal(((await page.getByTestId("chat-title").textContent()) ?? "").trim(), newTitle);

    const renamed = sessionItems().filter({ hasText: newTitle });
    await renamed.hover();
    await renamed.getByRole("button", { name: `Actions for ${newTitle}` }).click();
    await renamed.getByRole("menuitem", { name: "Delete" }).click();
    const dialog = page.getByRole("dialog", { name: "Delete conversation?" });
    await dialog.waitFor();
    await dialog.getByRole("button", { name: "Delete" }).click();
    await page.waitForURL(`${BASE}/`);
    await sessionItems().filter({ hasText: newTitle }).waitFor({ state: "detached" });
    await page.reload();
    await page.getByRole("heading", { name: "How can I help you today?" }).waitFor();
    await page.waitForTimeout(500);
    assert.equal(await sessionItems().filter({ hasText: newTitle }).count(), 0, "deleted session came back after reload");
  });

  test("a 3-prompt job reaches 100 % and shows its results", async () => {
    await page.goto(`${BASE}/jobs`);
    const prompts = [`first job prompt ${RUN}`, `second job prompt ${RUN}`, `third job prompt ${RUN}`];
    await page.getByLabel(/Prompts, one per line/).fill(prompts.join("\n"));
    await page.getByText("3 prompts detected").waitFor();
    await page.getByRole("button", { name: "Process 3 prompts" }).click();
    const card = page.getByTestId("job-card").first();
    await card.waitFor();
    await page.waitForFunction(
      () => {
        const c = document.querySelector('[data-testid="job-card"]');
        return c?.querySelector('[role="progressbar"]')?.getAttribute("aria-valuenow") === "100" && c.getAttribute("data-status") === "completed";
      },
      undefined,
      { timeout: 60_000 },
    );
    assert.match((await card.getByTestId("job-progress").textContent()) ?? "", /^3 of 3 done$/);
    // The card leads with what the job is (its first prompt), and marks each prompt answered.
    assert.equal(((await card.getByTestId("job-label").textContent()) ?? "").trim(), prompts[0]);
    assert.equal(await card.getByTestId("prompt-progress").locator('[data-state="answered"]').count(), 3);
    await card.getByRole("button", { name: "Show results" }).click();
    const items = card.getByTestId("job-results").locator("li");
    assert.equal(await items.count(), 3);
    for (let i = 0; i < 3; i++) {
      const text = (await items.nth(i).textContent()) ?? "";
      assert.ok(text.includes(prompts[i]), `result ${i + 1} does not show its prompt`);
      assert.ok(!text.includes("no result"), `result ${i + 1} is missing`);
    }
    await page.waitForTimeout(500); // let the progress bar's width transition finish
    await page.screenshot({ path: join(OUT, "jobs.png"), fullPage: false });
  });

  test("the dashboard shows every service healthy", async () => {
    await page.goto(`${BASE}/dashboard`);
    const cards = page.getByTestId("health-card");
    await page.waitForFunction(() => {
      const cs = [...document.querySelectorAll('[data-testid="health-card"]')];
      return cs.length === 4 && cs.every((c) => c.getAttribute("data-status") === "up");
    }, undefined, { timeout: 20_000 }).catch(async (e) => {
      const states = await cards.evaluateAll((cs) => cs.map((c) => `${c.getAttribute("data-service")}=${c.getAttribute("data-status")}`));
      throw new Error(`not all services healthy: ${states.join(", ")} (${e.message})`);
    });
    const names = await cards.evaluateAll((cs) => cs.map((c) => c.getAttribute("data-service")));
    assert.deepEqual(names, ["API Gateway", "Database", "Model Service", "Worker Service"]);
    // Let the metrics probe settle and, when the gateway has metrics, a few samples arrive.
    await page.waitForTimeout(4000);
    await page.screenshot({ path: join(OUT, "dashboard.png"), fullPage: true });
  });

  test("the Learn pages render project docs with the markdown component", async () => {
    await page.goto(`${BASE}/learn`);
    await page.getByRole("link", { name: /README/ }).click();
    await page.waitForURL(/\/learn\/README\.md$/);
    await page.waitForFunction(() => !document.querySelector('[aria-label="Loading document"]'));
    const rendered = await page.locator(".prose-sable").count();
    const missing = await page.getByText("Content not yet available").count();
    assert.ok(rendered + missing > 0, "Learn page rendered neither content nor a not-found notice");
  });

  test("the message box counts characters near the 10,000 limit and refuses longer messages", async () => {
    await page.goto(`${BASE}/`);
    const input = page.getByLabel("Message", { exact: true });
    await input.fill("x".repeat(9_500));
    assert.match((await page.getByTestId("char-counter").textContent()) ?? "", /9,500 \/ 10,000/);
    assert.equal(await page.getByRole("button", { name: "Send message", exact: true }).isEnabled(), true);
    await input.fill("x".repeat(10_001));
    assert.match((await page.getByTestId("char-counter").textContent()) ?? "", /too long/);
    assert.equal(await page.getByRole("button", { name: "Send message", exact: true }).isEnabled(), false);
    await input.press("Enter");
    await page.waitForTimeout(300);
    assert.equal(await input.inputValue(), "x".repeat(10_001), "the text was lost");
    assert.match(page.url(), new RegExp(`^${BASE}/$`), "an over-long message was sent");
    await input.fill("");
  });

  test("a message the server refuses keeps its text in the box and is reported once", async () => {
    await page.goto(`${BASE}/`);
    const input = page.getByLabel("Message", { exact: true });
    const refuse = (route) =>
      route.fulfill({
        status: 429,
        contentType: "application/json",
        headers: { "retry-after": "9", "x-request-id": `e2e-${RUN}` },
        body: JSON.stringify({ error: { code: "RATE_LIMITED", message: "Too many requests", request_id: `e2e-${RUN}` } }),
      });
    const before = await page.locator('[data-testid="message-user"]').count();
    expectingHttpErrors = true;
    await page.route("**/api/v1/generate/stream*", refuse);
    try {
      await sendTo(page, `refused message ${RUN}`);
      const toast = page.getByRole("alert").filter({ hasText: "Message not sent" });
      await toast.waitFor();
      assert.match((await toast.textContent()) ?? "", /Try again in 9 s/);
      await toast.getByText("Details").click();
      assert.match((await toast.getByTestId("toast-details").textContent()) ?? "", new RegExp(`RATE_LIMITED.*e2e-${RUN}`));
      assert.equal(await input.inputValue(), `refused message ${RUN}`, "the typed text was lost");
      assert.equal(await page.locator('[data-testid="message-user"]').count(), before, "a message that was not stored is shown");
      assert.equal(await page.getByText("Message not sent").count(), 1, "the error is reported more than once");
      // The toast sits clear of the message box.
      const t = await toast.boundingBox();
      const c = await input.boundingBox();
      assert.ok(t && c && t.y + t.height <= c.y, "the toast overlaps the message box");
    } finally {
      await page.unroute("**/api/v1/generate/stream*", refuse);
      expectingHttpErrors = false;
    }
    await input.fill("");
  });

  test("the command palette opens with Ctrl+K and navigates", async () => {
    await page.goto(`${BASE}/`);
    await page.getByRole("heading", { name: "How can I help you today?" }).waitFor();
    await page.keyboard.press("Control+k");
    const input = page.getByLabel("Search commands");
    await input.waitFor();
    await input.fill("dashboard");
    await input.press("Enter");
    await page.waitForURL(`${BASE}/dashboard`);
  });

  test("an offline banner appears while the gateway is unreachable and clears itself", async () => {
    await page.goto(`${BASE}/`);
    await page.getByRole("heading", { name: "How can I help you today?" }).waitFor();
    simulatingOutage = true;
    const block = (route) => route.abort("connectionrefused");
    await page.route("**/health", block);
    await page.route("**/api/**", block);
    try {
      await page.getByRole("link", { name: "Dashboard" }).click(); // its requests now fail
      await page.getByTestId("offline-banner").waitFor({ timeout: 15_000 });
      await page.unroute("**/health", block);
      await page.unroute("**/api/**", block);
      await page.getByTestId("offline-banner").waitFor({ state: "detached", timeout: 15_000 });
    } finally {
      await page.unrouteAll({ behavior: "ignoreErrors" });
      await page.waitForTimeout(300);
      simulatingOutage = false;
    }
  });

  test("accounts: API keys are created (shown once) and revoked", { skip: JWT_ONLY }, async () => {
    await page.goto(`${BASE}/account`);
    await page.getByTestId("account-email").filter({ hasText: userA.email }).waitFor();
    await page.getByLabel("Key name").fill(`e2e key ${RUN}`);
    await page.getByRole("button", { name: "Create key" }).click();
    const value = ((await page.getByTestId("api-key-value").textContent()) ?? "").trim();
    assert.match(value, /^sk-sable-/);
    const item = page.getByTestId("api-key-item").filter({ hasText: `e2e key ${RUN}` });
    await item.waitFor();
    // The key works as a bearer token for the API.
    const res = await fetch(`${BASE}/api/v1/chat/sessions`, { headers: { Authorization: `Bearer ${value}` } });
    assert.equal(res.status, 200, "the new API key was not accepted");
    await page.screenshot({ path: join(OUT, "account.png"), fullPage: false });
    await page.reload();
    await item.waitFor();
    assert.equal(await page.getByTestId("api-key-value").count(), 0, "the key was shown again after a reload");
    await item.getByRole("button", { name: `Revoke key e2e key ${RUN}` }).click();
    await page.getByRole("dialog", { name: "Revoke API key?" }).getByRole("button", { name: "Revoke" }).click();
    await item.waitFor({ state: "detached" });
    const after = await fetch(`${BASE}/api/v1/chat/sessions`, { headers: { Authorization: `Bearer ${value}` } });
    assert.equal(after.status, 401, "a revoked API key still works");
  });

  test("accounts: a second user does not see the first user's chats or folders", { skip: JWT_ONLY }, async () => {
    const secret = `private walrus${RUN} notes`;
    const bobsFolder = `Bob's folder ${RUN}`;
    const folderOf = (name) => page.locator(`[data-testid="folder"][data-folder="${name}"]`);
    await page.goto(`${BASE}/`);
    await sendTo(page, secret);
    await page.waitForURL(/\/chat\/[0-9a-f-]{36}/);
    const privateUrl = page.url();
    await page.locator('[data-testid="message-assistant"][data-status="done"]').waitFor();
    await signOut();

    await signUpIn(page, userB);
    await page.waitForTimeout(500);
    assert.equal(await sessionItems().filter({ hasText: `walrus${RUN}` }).count(), 0, "user B sees user A's chat in the sidebar");
    await page.getByLabel("Search conversations").fill(`walrus${RUN}`);
    await page.getByText("No messages match.").waitFor();
    await page.getByLabel("Search conversations").fill("");
    expectingHttpErrors = true;
    try {
      await page.goto(privateUrl);
      await page.getByText(/Conversation not found|Could not open conversation/).first().waitFor();
      await page.waitForURL(`${BASE}/`);
      await page.goto(`${BASE}/jobs`);
      await page.waitForTimeout(800);
      assert.equal(await page.getByTestId("job-card").count(), 0, "user B sees user A's jobs");

      // User B files a folder; user A, signing in next in the same page (no reload), must not see it.
      await page.goto(`${BASE}/`);
      const nav = page.getByRole("navigation", { name: "Sidebar" });
      await nav.getByRole("button", { name: "New folder" }).click();
      await nav.getByLabel("New folder name").fill(bobsFolder);
      await nav.getByLabel("New folder name").press("Enter");
      await folderOf(bobsFolder).waitFor();

      // Back to user A: a wrong password is refused, the right one shows A's chat again.
      await signOut();
      await page.getByLabel("Email").fill(userA.email);
      await page.getByLabel("Password").fill("not-the-password");
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByText("Wrong email or password.").waitFor();
    } finally {
      expectingHttpErrors = false;
    }
    // A's folder list is held back until checked: meanwhile the sidebar must not show B's folders.
    let release = () => {};
    const held = new Promise((resolve) => (release = resolve));
    const holding = [];
    const hold = (route) => {
      const done = held.then(() => route.continue()).catch(() => {});
      holding.push(done);
      return done;
    };
    await page.route("**/api/v1/chat/folders", hold);
    try {
      await page.getByLabel("Password").fill(PASSWORD);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByRole("navigation", { name: "Sidebar" }).getByRole("button", { name: "New folder" }).waitFor();
      assert.ok(holding.length > 0, "the sidebar did not ask for A's folders");
      assert.equal(await folderOf(bobsFolder).count(), 0, "user A sees user B's folder while A's folders load");
    } finally {
      release();
      await Promise.all(holding);
      await page.unroute("**/api/v1/chat/folders", hold);
    }
    await sessionItems().filter({ hasText: `walrus${RUN}` }).first().waitFor();
    await page.waitForTimeout(500);
    assert.equal(await folderOf(bobsFolder).count(), 0, "user A sees user B's folder");
  });

  test("no browser console errors were logged", () => {
    assert.deepEqual(consoleErrors, []);
  });
});
