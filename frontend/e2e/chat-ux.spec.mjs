// Chat UX (issue 25): nothing lost, nothing confusing. Each test names the defect it covers and
// runs at a desktop (1280×800) and a phone (390×844) viewport; screenshots are written to
// $E2E_OUT as chat-ux-<what>-<desktop|phone>.png.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { ADMIN, BASE, OUT, RUN, assistantMessages, newUser, openBrowser, sendMessage, signIn, signUpWithApi, userMessages, waitForAnswer } from "./lib.mjs";

/** @type {Awaited<ReturnType<typeof openBrowser>>} */
let browser;
/** @type {import("playwright-core").Page} */
let page;
/** While a test refuses requests on purpose, Chromium's "Failed to load resource" logs are expected. */
let expectingHttpErrors = false;

const VIEWPORTS = /** @type {const} */ ([
  ["desktop", { width: 1280, height: 800 }],
  ["phone", { width: 390, height: 844 }],
]);

const lastAssistant = () => assistantMessages(page).last();
const input = () => page.getByLabel("Message", { exact: true });
const scroller = () => page.getByTestId("message-scroll");
/** Pixels between the bottom of the conversation and the bottom of its view. */
const gapBelow = () => scroller().evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight);
/** In-app navigation (no reload), as a link would do it. */
const goInApp = (path) =>
  page.evaluate((p) => {
    history.pushState({}, "", p);
    dispatchEvent(new PopStateEvent("popstate"));
  }, path);
const overlaps = (a, b) => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
const shot = (name) => page.screenshot({ path: join(OUT, `chat-ux-${name}.png`) });

/** Opens a new chat, sends `prompt`, waits for the chat's URL. */
async function newChatWith(prompt) {
  await page.goto(`${BASE}/`);
  await page.getByRole("heading", { name: "How can I help you today?" }).waitFor();
  await sendMessage(page, prompt);
  await page.waitForURL(/\/chat\/[0-9a-f-]{36}/);
}

/** This file's user's API from Node (lib's signUpWithApi). */
let api;
const user = newUser("chatux");

/** A chat with `pairs` long question/answer pairs, made through the API (fast); its id. */
async function longChat(title, pairs) {
  const session = await api("POST", "/api/v1/chat/sessions", { title });
  const para = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt. ".repeat(8);
  for (let i = 0; i < pairs; i++) {
    await api("POST", `/api/v1/chat/sessions/${session.id}/messages`, { role: "user", content: `question ${i}` });
    await api("POST", `/api/v1/chat/sessions/${session.id}/messages`, { role: "assistant", content: `${para}\n\n${para}` });
  }
  return session.id;
}

before(async () => {
  browser = await openBrowser({ allow: (text) => expectingHttpErrors && /status of 429/.test(text) });
  page = browser.page;
  ({ api } = await signUpWithApi(page, user));
});

after(async () => {
  await browser?.close();
});

describe("chat UX (issue 25)", () => {
  for (const [name, viewport] of VIEWPORTS) {
    test(`defect 1, ${name}: a failed answer stays after a reload, with Retry`, async () => {
      await page.setViewportSize(viewport);
      await newChatWith(`Please fail ${RUN} [mock:error]`);
      await lastAssistant().locator('[data-testid="answer-error"]').waitFor();
      await page.reload();
      await userMessages(page).first().waitFor();
      const failed = lastAssistant();
      const alert = failed.getByTestId("answer-error");
      await alert.waitFor();
      assert.equal(await failed.getAttribute("data-status"), "error");
      assert.match((await alert.textContent()) ?? "", /could not answer/i);
      await alert.getByText("Details").click();
      assert.match((await alert.textContent()) ?? "", /INFERENCE_ERROR/);
      await shot(`failed-answer-${name}`);

      // Retry asks again; the failed answer stays as the earlier version of the question.
      // (The retried question still carries the marker: it fails again, as a second version.)
      await alert.getByRole("button", { name: "Retry" }).click();
      await waitForAnswer(page);
      // (Under the question from md up; on a phone in the answer's row, defect 9.)
      await page.locator('[data-testid="version-label"]:visible').filter({ hasText: "2 / 2" }).first().waitFor();
      assert.equal(await assistantMessages(page).count(), 1);
    });
  }

  for (const [name, viewport] of VIEWPORTS) {
    test(`defect 2, ${name}: the box empties on send, says why Enter waits during an answer, keeps a draft per chat`, async () => {
      await page.setViewportSize(viewport);
      await newChatWith(`draft chat ${name} ${RUN} [mock:tokens=5]`);
      await waitForAnswer(page);
      const chat = new URL(page.url()).pathname;

      await input().fill(`[mock:tokens=80] a slower answer ${RUN}`);
      await input().press("Enter");
      await page.locator('[data-testid="message-assistant"][data-status="streaming"]').waitFor();
      assert.equal(await input().inputValue(), "", "the sent text is still in the box");

      const next = `next question ${name} ${RUN}`;
      await input().fill(next);
      await input().press("Enter");
      const busy = page.getByTestId("composer-busy");
      await busy.waitFor();
      assert.match((await busy.textContent()) ?? "", /when it ends, or press Stop/);
      assert.equal(await input().inputValue(), next);
      await waitForAnswer(page);
      assert.equal(await userMessages(page).count(), 2, "Enter during the answer sent something");
      await busy.waitFor({ state: "detached" });

      // A draft per chat: across in-app navigation and a reload.
      await goInApp("/");
      await page.getByRole("heading", { name: "How can I help you today?" }).waitFor();
      assert.equal(await input().inputValue(), "");
      await input().fill(`new chat draft ${name}`);
      await goInApp(chat);
      await userMessages(page).first().waitFor();
      assert.equal(await input().inputValue(), next);
      await page.reload();
      await userMessages(page).first().waitFor();
      assert.equal(await input().inputValue(), next);
      await goInApp("/");
      await page.getByRole("heading", { name: "How can I help you today?" }).waitFor();
      assert.equal(await input().inputValue(), `new chat draft ${name}`);
      await input().fill("");

      // Sent: the draft is gone, also after a reload.
      await goInApp(chat);
      await userMessages(page).first().waitFor();
      await input().press("Enter");
      await waitForAnswer(page);
      await page.reload();
      await userMessages(page).nth(2).waitFor();
      assert.equal(await input().inputValue(), "");
      await shot(`composer-${name}`);
    });

    test(`defect 3, ${name}: the view follows the answer unless scrolled up, then "Jump to latest"; the last bubble stays clear of the composer`, async () => {
      await page.setViewportSize(viewport);
      await page.goto(`${BASE}/chat/${await longChat(`scroll ${name} ${RUN}`, 4)}`);
      await userMessages(page).first().waitFor();
      await sendMessage(page, `[mock:tokens=400] a long answer ${RUN}`);
      await page.locator('[data-testid="message-assistant"][data-status="streaming"] .message-content').waitFor();
      // Long enough to scroll up in.
      await page.waitForFunction(() => {
        const el = document.querySelector('[data-testid="message-scroll"]');
        return el && el.scrollHeight > el.clientHeight + 400;
      });
      // Following is applied a frame after the answer grows: the view reaches the end (a view
      // that does not follow never does while the answer grows).
      await page
        .waitForFunction(
          () => {
            const el = document.querySelector('[data-testid="message-scroll"]');
            return el && el.scrollHeight - el.scrollTop - el.clientHeight < 40;
          },
          null,
          { timeout: 3000 },
        )
        .catch(async () => assert.fail(`the view does not follow the answer (${await gapBelow()} px below)`));

      await scroller().hover();
      await page.mouse.wheel(0, -700);
      const jump = page.getByRole("button", { name: "Jump to latest" });
      await jump.waitFor();
      const jumpBox = await jump.boundingBox();
      const composerBox = await page.locator("form:has(#chat-input)").boundingBox();
      assert.ok(jumpBox && composerBox && !overlaps(jumpBox, composerBox), "Jump to latest covers the composer");
      const top = await scroller().evaluate((el) => el.scrollTop);
      await page.waitForTimeout(700);
      assert.equal(await lastAssistant().getAttribute("data-status"), "streaming", "the answer ended too soon for this test");
      assert.ok(Math.abs((await scroller().evaluate((el) => el.scrollTop)) - top) < 2, "scrolled up, the view was pulled down");

      await jump.click();
      await page.waitForFunction(() => {
        const el = document.querySelector('[data-testid="message-scroll"]');
        return el && el.scrollHeight - el.scrollTop - el.clientHeight < 40;
      });
      await jump.waitFor({ state: "detached" });
      await page.waitForTimeout(300);
      assert.ok((await gapBelow()) < 40, "the view stopped following after Jump to latest");
      // (Long on purpose, so a loaded machine cannot end it before the checks above.)
      await page.getByRole("button", { name: "Stop generating" }).click();
      await waitForAnswer(page);
      // Read back from the server once done (the bubble is replaced): measured in the page.
      await page.waitForFunction(() => {
        const bubbles = document.querySelectorAll('[data-testid="message-assistant"]');
        const last = bubbles[bubbles.length - 1]?.getBoundingClientRect();
        const composer = document.querySelector("form:has(#chat-input)")?.getBoundingClientRect();
        const view = document.querySelector('[data-testid="message-scroll"]')?.getBoundingClientRect();
        return last && composer && view && last.height > 0 && last.bottom <= composer.top + 1 && last.bottom <= view.bottom + 1;
      }, undefined, { timeout: 5000 });
      await shot(`scroll-${name}`);
    });

    test(`defect 5, ${name}: a notification covers no header or composer control and is announced`, async () => {
      await page.setViewportSize(viewport);
      await newChatWith(`toast chat ${name} ${RUN} [mock:tokens=3]`);
      await waitForAnswer(page);
      const refuse = (route) =>
        route.fulfill({
          status: 429,
          contentType: "application/json",
          body: JSON.stringify({ error: { code: "RATE_LIMITED", message: "Too many requests", request_id: `e2e-${RUN}` } }),
        });
      expectingHttpErrors = true;
      await page.route("**/api/v1/generate/stream*", refuse);
      try {
        const text = `refused ${name} ${RUN}`;
        await sendMessage(page, text);
        const toast = page.getByRole("alert").filter({ hasText: "Message not sent" });
        await toast.waitFor();
        // Refused: the text is given back.
        await page.waitForFunction((t) => document.querySelector("#chat-input")?.value === t, text);
        assert.equal(
          await toast.evaluate((el) => el.closest("[aria-live]")?.getAttribute("aria-live") ?? null),
          "polite",
          "the notification is not in a live region",
        );
        const box = await toast.boundingBox();
        assert.ok(box);
        const controls = page.locator(
          'header button:visible, header a:visible, [data-testid="chat-title"] ~ span button:visible, form:has(#chat-input) button:visible, form:has(#chat-input) select:visible, #chat-input',
        );
        const n = await controls.count();
        assert.ok(n >= 5, `only ${n} controls found`);
        for (let i = 0; i < n; i++) {
          const c = controls.nth(i);
          const b = await c.boundingBox();
          if (b) assert.ok(!overlaps(box, b), `the notification covers ${await c.evaluate((el) => el.outerHTML.slice(0, 120))}`);
        }
        await shot(`notification-${name}`);
        await toast.getByRole("button", { name: "Dismiss notification" }).click();
      } finally {
        await page.unroute("**/api/v1/generate/stream*", refuse);
        expectingHttpErrors = false;
      }
      await input().fill("");
    });
  }

  test("defect 9, phone: a long code line scrolls inside its block; the version switcher sits with its answer", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    const id = (await api("POST", "/api/v1/chat/sessions", { title: `code ${RUN}` })).id;
    const long = `const answer = ${JSON.stringify("x".repeat(40))} + computeSomethingVeryLongNamed(argumentNumberOne, argumentNumberTwo, argumentNumberThree);`;
    await api("POST", `/api/v1/chat/sessions/${id}/messages`, { role: "user", content: "show code" });
    await api("POST", `/api/v1/chat/sessions/${id}/messages`, { role: "assistant", content: `Here:\n\n\`\`\`js\n${long}\n\`\`\`\n` });
    await page.goto(`${BASE}/chat/${id}`);
    const pre = lastAssistant().locator("pre").first();
    await pre.waitFor();
    const m = await pre.evaluate((el) => {
      const r = el.getBoundingClientRect();
      const style = getComputedStyle(el);
      return { scrollW: el.scrollWidth, clientW: el.clientWidth, right: r.right, overflowX: style.overflowX, page: document.documentElement.scrollWidth, text: el.textContent ?? "" };
    });
    assert.ok(m.text.includes("argumentNumberThree);"), "the line is cut");
    assert.ok(m.scrollW > m.clientW, `the block does not scroll (${m.scrollW} <= ${m.clientW})`);
    assert.ok(["auto", "scroll"].includes(m.overflowX), m.overflowX);
    assert.ok(m.right <= 390 + 0.5, `the block sticks out of the screen (right edge ${m.right})`);
    assert.ok(m.page <= 390, `the page scrolls sideways (${m.page})`);
    // Scrolled to its end, the line's last characters are inside the block.
    await pre.evaluate((el) => el.scrollTo({ left: el.scrollWidth }));
    await shot("code-block-phone");

    // Regenerating adds a version: its switcher is in the answer's own row.
    await sendMessage(page, `versions ${RUN} [mock:tokens=4]`);
    await waitForAnswer(page);
    await lastAssistant().getByRole("button", { name: "Regenerate answer" }).click();
    await waitForAnswer(page);
    const switcher = lastAssistant().getByTestId("version-switcher");
    await switcher.getByTestId("version-label").filter({ hasText: "2 / 2" }).waitFor();
    const s = await switcher.boundingBox();
    const a = await lastAssistant().boundingBox();
    assert.ok(s && a && s.y >= a.y && s.y + s.height <= a.y + a.height + 1, "the switcher is not with the answer");
    await switcher.getByRole("button", { name: /^Previous version/ }).click();
    await lastAssistant().getByTestId("version-label").filter({ hasText: "1 / 2" }).waitFor();
    await shot("versions-phone");
  });

  for (const [name, viewport] of VIEWPORTS) {
    test(`defect 6, ${name}: both settings dialogs take the system prompt and max tokens limits from the server; presets in chat settings`, async () => {
      await page.setViewportSize(viewport);
      const { limits } = await api("GET", "/api/v1/auth/config");
      const want = `/${limits.system_prompt_max_chars.toLocaleString("en-US")}`;
      const range = `(${limits.max_tokens_min}–${limits.max_tokens_max})`;
      await newChatWith(`limits ${name} ${RUN} [mock:tokens=2]`);
      await waitForAnswer(page);

      await page.getByRole("button", { name: "Open settings" }).click();
      const main = page.getByRole("dialog", { name: "Settings" });
      await main.waitFor();
      assert.match((await main.getByTestId("system-prompt-count").textContent()) ?? "", new RegExp(`${want}$`));
      assert.match((await main.textContent()) ?? "", new RegExp(range.replace(/[()]/g, "\\$&")));
      await page.keyboard.press("Escape");
      await main.waitFor({ state: "detached" });

      await page.getByRole("button", { name: "Chat settings" }).click();
      const chat = page.getByRole("dialog", { name: "Chat settings" });
      await chat.waitFor();
      assert.match((await chat.getByTestId("system-prompt-count").textContent()) ?? "", new RegExp(`${want}$`));
      assert.match((await chat.textContent()) ?? "", new RegExp(range.replace(/[()]/g, "\\$&")));
      await chat.getByRole("group", { name: "Persona presets" }).getByRole("button", { name: "Analytical" }).click();
      assert.match(await chat.getByLabel("System prompt").inputValue(), /analytical expert/);
      await shot(`chat-settings-${name}`);
      await chat.getByRole("button", { name: "Cancel" }).click();
    });
  }

  test("defect 7: a job has a Name field and reads '2 of 3 done, 1 failed'", async () => {
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.goto(`${BASE}/jobs`);
    await page.getByLabel("Name (optional)").fill(`Weekly notes ${RUN}`);
    await page.getByLabel(/Prompts, one per line/).fill([`first ${RUN}`, `[mock:reject] refused ${RUN}`, `third ${RUN}`].join("\n"));
    await page.getByRole("button", { name: "Process 3 prompts" }).click();
    const card = page.locator('[data-testid="job-card"]').filter({ hasText: `Weekly notes ${RUN}` });
    await card.waitFor();
    await page.waitForFunction(
      (run) => [...document.querySelectorAll('[data-testid="job-card"]')].some((c) => c.textContent?.includes(`Weekly notes ${run}`) && c.getAttribute("data-status") === "completed"),
      RUN,
      { timeout: 30_000 },
    );
    assert.equal(await card.getByTestId("job-progress").textContent(), "2 of 3 done, 1 failed");
    await shot("jobs-progress-desktop");
  });

  for (const [vp, viewport] of VIEWPORTS) {
    test(`defect 8, ${vp}: the TTFT headline agrees with its chart; time axes show clock times; every chart has a complete legend`, { skip: ADMIN ? false : "no admin on this stack" }, async () => {
      // The admin sees the live charts; the streams of the tests above are the traffic.
      const admin = await openBrowser(viewport);
      try {
        const p = admin.page;
        await signIn(p, ADMIN);
        await p.goto(`${BASE}/dashboard`);
        await p.getByTestId("metrics-charts").waitFor();
        const ttft = p.locator('[data-chart="Time to first token"]');
        // The headline's own window is the last seconds; once it has passed, the chart still shows
        // the streams and the headline must say what they were, not "no streams yet".
        await p.waitForFunction(
          () => /^last p50 [\d.]+ · p99 [\d.]+ ms$/.test(document.querySelector('[data-chart="Time to first token"] [data-testid="metrics-headline"]')?.textContent ?? ""),
          undefined,
          { timeout: 20_000 },
        );
        assert.ok((await ttft.locator(".recharts-line-dots circle, .recharts-dot").count()) > 0, "no points in the TTFT chart");
        const charts = p.getByTestId("metrics-chart");
        const n = await charts.count();
        assert.ok(n >= 4, `${n} charts`);
        for (let i = 0; i < n; i++) {
          const chart = charts.nth(i);
          const name = await chart.getAttribute("data-chart");
          const lines = await chart.locator(".recharts-line").count();
          const items = chart.getByTestId("chart-legend-item");
          const legend = await items.count();
          // A chart with no points yet (e.g. no retrievals) draws no line, but still names its series.
          assert.ok(legend > 0, `${name}: no legend`);
          if (lines > 0) assert.equal(legend, lines, `${name}: legend entries vs lines`);
          const box = await chart.boundingBox();
          for (let j = 0; j < lines; j++) {
            const b = await items.nth(j).boundingBox();
            assert.ok(box && b && b.width > 0 && b.y + b.height <= box.y + box.height, `${name}: legend entry ${j} not drawn inside its card`);
          }
        }
        const ticks = await ttft.locator(".recharts-xAxis-tick-labels .recharts-cartesian-axis-tick-value, .recharts-xAxis .recharts-cartesian-axis-tick-value").allTextContents();
        assert.ok(ticks.length > 0, "no time ticks");
        for (const t of ticks) assert.match(t.trim(), /^\d{2}.\d{2}.\d{2}$/, `not a clock time: ${t}`);
        await p.screenshot({ path: join(OUT, `chat-ux-dashboard-${vp}.png`) });
        assert.deepEqual(admin.consoleErrors, []);
      } finally {
        await admin.close();
      }
    });
  }

  for (const [vp, viewport] of VIEWPORTS) {
    test(`defect 4, ${vp}: a chat whose first message is markdown and code is titled with its plain words`, async () => {
      await page.setViewportSize(viewport);
      await newChatWith(`\`\`\`js\nlet x = 1;\n\`\`\`\n**Explain** this \`code\` ${vp} ${RUN}`);
      await waitForAnswer(page);
      await page.getByTestId("chat-title").filter({ hasText: `Explain this code ${vp} ${RUN}` }).waitFor();
      assert.equal((await page.getByTestId("chat-title").textContent())?.trim(), `Explain this code ${vp} ${RUN}`);
      await shot(`title-${vp}`);
    });
  }

  test("no browser console errors were logged", () => {
    assert.deepEqual(browser.consoleErrors, []);
  });
});
