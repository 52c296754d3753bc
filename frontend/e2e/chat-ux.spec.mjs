// Chat UX (issue 25): nothing lost, nothing confusing. Each test names the defect it covers and
// runs at a desktop (1280×800) and a phone (390×844) viewport; screenshots are written to
// $E2E_OUT as chat-ux-<what>-<desktop|phone>.png.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { BASE, OUT, RUN, assistantMessages, newUser, openBrowser, sendMessage, signUp, userMessages, waitForAnswer } from "./lib.mjs";

/** @type {Awaited<ReturnType<typeof openBrowser>>} */
let browser;
/** @type {import("playwright-core").Page} */
let page;

const VIEWPORTS = /** @type {const} */ ([
  ["desktop", { width: 1280, height: 800 }],
  ["phone", { width: 390, height: 844 }],
]);

const lastAssistant = () => assistantMessages(page).last();
const shot = (name) => page.screenshot({ path: join(OUT, `chat-ux-${name}.png`) });

/** Opens a new chat, sends `prompt`, waits for the chat's URL. */
async function newChatWith(prompt) {
  await page.goto(`${BASE}/`);
  await page.getByRole("heading", { name: "How can I help you today?" }).waitFor();
  await sendMessage(page, prompt);
  await page.waitForURL(/\/chat\/[0-9a-f-]{36}/);
}

before(async () => {
  browser = await openBrowser();
  page = browser.page;
  await signUp(page, newUser("chatux"));
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
      await userMessages(page).last().getByTestId("version-label").filter({ hasText: "2 / 2" }).waitFor();
      assert.equal(await assistantMessages(page).count(), 1);
    });
  }

  test("no browser console errors were logged", () => {
    assert.deepEqual(browser.consoleErrors, []);
  });
});
