// Issue 25, the items whose API was tested but not their page: feedback on answers (feature 12),
// importing a chat twice and an imported chat's title (defect 4), retrying a failed prompt of a
// job alone and deleting a finished job (defect 7). Each runs at a desktop (1280×800) and a
// phone (390×844) viewport; screenshots go to $E2E_OUT as answers-jobs-<what>-<desktop|phone>.png.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { ADMIN, BASE, OUT, RUN, assistantMessages, chatWith, newUser, openBrowser, sendMessage, signIn, signUpWithApi, userMessages, waitForAnswer } from "./lib.mjs";

/** @type {Awaited<ReturnType<typeof openBrowser>>} */
let browser;
/** @type {import("playwright-core").Page} */
let page;
/** This file's user's bearer token (null when accounts are off) and API from Node (lib's signUpWithApi). */
let token = null;
let api;
const user = newUser("answersjobs");

const VIEWPORTS = /** @type {const} */ ([
  ["desktop", { width: 1280, height: 800 }],
  ["phone", { width: 390, height: 844 }],
]);

const overlaps = (a, b) => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
const shot = (name) => page.screenshot({ path: join(OUT, `answers-jobs-${name}.png`) });

/** Polls `read` until `ok(value)`, up to 5 s; the last value. */
async function eventually(read, ok) {
  let v;
  for (let i = 0; i < 50; i++) {
    v = await read();
    if (ok(v)) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  return v;
}

before(async () => {
  browser = await openBrowser();
  page = browser.page;
  ({ token, api } = await signUpWithApi(page, user));
});

after(async () => {
  await browser?.close();
});

describe("feedback on answers (issue 25.12)", () => {
  for (const [name, viewport] of VIEWPORTS) {
    test(`${name}: thumbs up with a comment, then thumbs down, each survives a reload`, async () => {
      await page.setViewportSize(viewport);
      const id = await chatWith(api, `Feedback ${name} ${RUN}`, [`What is 2+2? ${RUN}`, "It is **4**."]);
      await page.goto(`${BASE}/chat/${id}`);
      const answer = assistantMessages(page).last();
      const rating = answer.getByRole("group", { name: "Rate this answer" });
      await rating.waitFor();
      const up = rating.getByRole("button", { name: "Good answer" });
      const down = rating.getByRole("button", { name: "Bad answer" });
      assert.equal(await up.getAttribute("aria-pressed"), "false");

      await up.click();
      assert.equal(await up.getAttribute("aria-pressed"), "true");
      await rating.getByRole("button", { name: "Add a comment on this answer" }).click();
      const comment = `Clear and right ${name} ${RUN}`;
      await answer.getByLabel("Comment on this answer", { exact: true }).fill(comment);
      await answer.getByRole("button", { name: "Save comment" }).click();
      await answer.getByTestId("feedback-comment-form").waitFor({ state: "detached" });
      const stored = () => api("GET", `/api/v1/chat/sessions/${id}`).then((s) => s.messages.find((m) => m.role === "assistant")?.feedback ?? null);
      const saved = await eventually(stored, (f) => f?.comment === comment);
      assert.equal(saved?.rating, 1);
      assert.equal(saved?.comment, comment);

      await page.reload();
      await rating.waitFor();
      assert.equal(await up.getAttribute("aria-pressed"), "true", "the thumbs up is gone after a reload");
      assert.equal(await down.getAttribute("aria-pressed"), "false");
      const edit = rating.getByRole("button", { name: "Edit your comment on this answer" });
      await edit.waitFor();
      await edit.click();
      assert.equal(await answer.getByLabel("Comment on this answer", { exact: true }).inputValue(), comment, "the comment is gone after a reload");
      await shot(`feedback-${name}`);
      await answer.getByRole("button", { name: "Cancel" }).click();

      // Changing the thumb keeps the comment; it too is stored.
      await down.click();
      assert.equal(await down.getAttribute("aria-pressed"), "true");
      const changed = await eventually(stored, (f) => f?.rating === -1);
      assert.equal(changed?.rating, -1);
      assert.equal(changed?.comment, comment);
      await page.reload();
      await rating.waitFor();
      assert.equal(await down.getAttribute("aria-pressed"), "true");
      assert.equal(await up.getAttribute("aria-pressed"), "false");

      // Pressed again, the rating is cleared.
      await down.click();
      assert.equal(await down.getAttribute("aria-pressed"), "false");
      assert.equal(await eventually(stored, (f) => f === null), null);
      await page.reload();
      await rating.waitFor();
      assert.equal(await down.getAttribute("aria-pressed"), "false");
      assert.deepEqual(browser.consoleErrors, []);
    });
  }
  for (const [name, viewport] of VIEWPORTS) {
    test(`${name}: the administrator's dashboard counts the ratings per model`, { skip: ADMIN ? false : "no admin on this stack" }, async () => {
      await page.setViewportSize(viewport);
      // A streamed answer (its model is stored with it), rated by this file's user.
      await page.goto(`${BASE}/`);
      await page.getByRole("heading", { name: "How can I help you today?" }).waitFor();
      await sendMessage(page, `Rate me ${name} ${RUN} [mock:tokens=3]`);
      await page.waitForURL(/\/chat\/[0-9a-f-]{36}/);
      await waitForAnswer(page);
      const id = new URL(page.url()).pathname.split("/").pop();
      const rating = assistantMessages(page).last().getByRole("group", { name: "Rate this answer" });
      await rating.waitFor();
      const thumb = name === "desktop" ? "Good answer" : "Bad answer";
      await rating.getByRole("button", { name: thumb }).click();
      const answer = await eventually(
        () => api("GET", `/api/v1/chat/sessions/${id}`).then((s) => s.messages.find((m) => m.role === "assistant")),
        (m) => m?.feedback != null,
      );
      const model = answer?.meta?.model;
      assert.ok(typeof model === "string" && model, `the answer has no model: ${JSON.stringify(answer?.meta)}`);

      const login = await fetch(`${BASE}/api/v1/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: ADMIN.email, password: ADMIN.password }),
      });
      const adminToken = (await login.json()).access_token;
      const counts = await (await fetch(`${BASE}/api/v1/metrics/feedback`, { headers: { authorization: `Bearer ${adminToken}` } })).json();
      const mine = counts.models.find((m) => m.model === model);
      assert.ok(mine && (name === "desktop" ? mine.up : mine.down) >= 1, `no ${thumb} counted for ${model}: ${JSON.stringify(counts)}`);

      const admin = await openBrowser(viewport);
      try {
        await signIn(admin.page, ADMIN);
        await admin.page.goto(`${BASE}/dashboard`);
        const panel = admin.page.getByTestId("feedback-panel");
        await panel.getByTestId("feedback-row").first().waitFor();
        // The table says what the API counts: every model, its thumbs up and down.
        const shown = await panel.getByTestId("feedback-row").evaluateAll((rows) =>
          rows.map((r) => [r.querySelector("td")?.textContent?.trim(), Number(r.querySelector('[data-testid="feedback-up"]')?.textContent), Number(r.querySelector('[data-testid="feedback-down"]')?.textContent)]),
        );
        const now = await (await fetch(`${BASE}/api/v1/metrics/feedback`, { headers: { authorization: `Bearer ${adminToken}` } })).json();
        assert.deepEqual(shown, now.models.map((m) => [m.model, m.up, m.down]));
        assert.ok(shown.some(([m]) => m === model), `${model} is not on the dashboard`);
        await panel.scrollIntoViewIfNeeded();
        await admin.page.screenshot({ path: join(OUT, `answers-jobs-feedback-dashboard-${name}.png`) });
        assert.deepEqual(admin.consoleErrors, []);
      } finally {
        await admin.close();
      }
      assert.deepEqual(browser.consoleErrors, []);
    });
  }
});

describe("importing a chat (issue 25, defect 4)", () => {
  for (const [name, viewport] of VIEWPORTS) {
    test(`${name}: an imported chat keeps its title; importing the same file again says so and makes no copy`, async () => {
      await page.setViewportSize(viewport);
      const title = `Renamed trip notes ${name} ${RUN}`;
      const id = await chatWith(api, title, [`Plan a walk ${name} ${RUN}`, "Start at the river."]);
      await page.goto(`${BASE}/chat/${id}`);
      await userMessages(page).first().waitFor();
      const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "JSON", exact: true }).click()]);
      const file = join(OUT, `answers-jobs-export-${name}-${RUN}.json`);
      await download.saveAs(file);

      await page.getByTestId("import-chat-file").first().setInputFiles(file);
      await page.waitForURL((u) => u.pathname.startsWith("/chat/") && !u.pathname.endsWith(id));
      const imported = new URL(page.url()).pathname.split("/").pop();
      await page.getByRole("status").filter({ hasText: "Chat imported" }).waitFor();
      await page.getByTestId("chat-title").filter({ hasText: title }).waitFor();
      assert.equal((await page.getByTestId("chat-title").textContent())?.trim(), title);
      assert.equal((await api("GET", `/api/v1/chat/sessions/${imported}`)).title, title);

      // The same file again: a visible notice, and the earlier import opens instead of a copy.
      await page.goto(`${BASE}/chat/${id}`);
      await userMessages(page).first().waitFor();
      await page.getByTestId("import-chat-file").first().setInputFiles(file);
      const notice = page.getByRole("status").filter({ hasText: "Already imported" });
      await notice.waitFor();
      assert.match((await notice.textContent()) ?? "", new RegExp(`opening “${title}” instead of making a copy`));
      assert.ok(await notice.isVisible(), "the notice is not visible");
      await page.waitForURL((u) => u.pathname.endsWith(`/chat/${imported}`));
      const copies = (await api("GET", "/api/v1/chat/sessions?limit=100")).filter((s) => s.title === title);
      assert.equal(copies.length, 2, "the original and one import");
      await shot(`import-again-${name}`);
      assert.deepEqual(browser.consoleErrors, []);
    });
  }
});

describe("jobs (issue 25, defect 7)", () => {
  for (const [name, viewport] of VIEWPORTS) {
    test(`${name}: a notification on the Jobs page covers none of the form's controls`, async () => {
      await page.setViewportSize(viewport);
      await page.goto(`${BASE}/jobs`);
      await page.getByRole("heading", { name: "New batch job" }).waitFor();
      const prompts = [`one ${name} ${RUN}`, `two ${name} ${RUN}`, `three ${name} ${RUN}`];
      await page.locator("#job-file").setInputFiles({ name: `prompts-${name}.txt`, mimeType: "text/plain", buffer: Buffer.from(prompts.join("\n")) });
      const toast = page.getByRole("status").filter({ hasText: `Loaded 3 prompts from prompts-${name}.txt` });
      await toast.waitFor();
      await page.getByRole("button", { name: "Process 3 prompts" }).waitFor();
      const box = await toast.boundingBox();
      assert.ok(box);
      const controls = page.locator('header button:visible, header a:visible, main form input:not([type="file"]), main form textarea, main form button');
      const n = await controls.count();
      assert.ok(n >= 4, `only ${n} controls found`);
      for (let i = 0; i < n; i++) {
        const b = await controls.nth(i).boundingBox();
        if (b) assert.ok(!overlaps(box, b), `the notification covers ${await controls.nth(i).evaluate((el) => el.outerHTML.slice(0, 120))}`);
      }
      await shot(`jobs-notification-${name}`);
      await toast.getByRole("button", { name: "Dismiss notification" }).click();
      await page.getByLabel(/Prompts, one per line/).fill("");
      assert.deepEqual(browser.consoleErrors, []);
    });

    test(`${name}: a failed prompt is retried alone and the counts follow; a finished job is deleted`, async () => {
      await page.setViewportSize(viewport);
      await page.goto(`${BASE}/jobs`);
      const jobName = `Retry me ${name} ${RUN}`;
      await page.getByLabel("Name (optional)").fill(jobName);
      // The second prompt is refused once (a permanent failure: not retried inside the job), then answers.
      await page.getByLabel(/Prompts, one per line/).fill([`first ${name} ${RUN}`, `[mock:flaky=1:reject] second ${name} ${RUN}`].join("\n"));
      await page.getByRole("button", { name: "Process 2 prompts" }).click();
      const card = page.getByTestId("job-card").filter({ hasText: jobName });
      await card.waitFor();
      const progress = card.getByTestId("job-progress");
      await page.waitForFunction(
        (n) => [...document.querySelectorAll('[data-testid="job-card"]')].some((c) => c.textContent?.includes(n) && c.getAttribute("data-status") === "completed"),
        jobName,
        { timeout: 30_000 },
      );
      assert.equal(await progress.textContent(), "1 of 2 done, 1 failed");
      assert.equal(await card.getByTestId("job-status").textContent(), "Completed with 1 error");

      await card.getByRole("button", { name: "Show results" }).click();
      const results = card.getByTestId("job-results");
      await results.getByTestId("prompt-error").waitFor();
      assert.equal(await results.getByRole("button", { name: /^Retry prompt/ }).count(), 1, "only the failed prompt offers Retry");
      await shot(`job-failed-prompt-${name}`);
      await results.getByRole("button", { name: "Retry prompt #2" }).click();
      await card.getByTestId("job-progress").filter({ hasText: "2 of 2 done" }).waitFor({ timeout: 30_000 });
      assert.equal(await progress.textContent(), "2 of 2 done");
      await page.waitForFunction((n) => [...document.querySelectorAll('[data-testid="job-card"]')].some((c) => c.textContent?.includes(n) && c.getAttribute("data-status") === "completed"), jobName);
      assert.equal(await card.getByTestId("job-status").textContent(), "Completed");
      await results.getByTestId("prompt-error").waitFor({ state: "detached" });
      assert.match((await results.textContent()) ?? "", new RegExp(`second ${name} ${RUN}`));
      const jobId = await card.getAttribute("data-job-id");
      const job = await api("GET", `/api/v1/jobs/${jobId}`);
      assert.deepEqual([job.completed_prompts, job.failed_prompts], [2, 0]);
      await shot(`job-retried-${name}`);

      // Finished: deleted from the page, after a confirmation, and gone on the server.
      const short = jobId.slice(0, 8);
      await card.getByRole("button", { name: new RegExp(`^Delete job ${short}`) }).click();
      await card.getByRole("button", { name: new RegExp(`^Confirm: delete job ${short}`) }).click();
      await card.waitFor({ state: "detached" });
      await page.reload();
      await page.getByRole("heading", { name: "New batch job" }).waitFor();
      await page.waitForTimeout(300);
      assert.equal(await page.getByTestId("job-card").filter({ hasText: jobName }).count(), 0, "the deleted job is back after a reload");
      const headers = token ? { authorization: `Bearer ${token}` } : {};
      assert.equal((await fetch(`${BASE}/api/v1/jobs/${jobId}`, { headers })).status, 404);
      assert.deepEqual(browser.consoleErrors, []);
    });
  }
});
