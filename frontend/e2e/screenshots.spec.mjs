// Screenshots for review (issue 16, "Done when"): chat with a streamed answer, jobs with a
// finished job and the dashboard, at 1440×900 (desktop) and 390×844 (phone), light and dark:
// 12 PNGs in $E2E_OUT named <page>-<width>x<height>-<theme>.png. CI keeps them as artefacts
// (frontend/test-output/ is git-ignored). One user and one browser: the theme follows the
// emulated prefers-color-scheme (the default "system" setting), the viewport is resized.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ADMIN, BASE, OUT, RUN, newUser, openBrowser, sendMessage, signIn, signUp, waitForAnswer } from "./lib.mjs";

const VIEWPORTS = [
  { width: 1440, height: 900 },
  { width: 390, height: 844 },
];
const THEMES = /** @type {const} */ (["light", "dark"]);

/** @type {Awaited<ReturnType<typeof openBrowser>>} */
let browser;
/** The chat with a streamed answer, opened again for each screenshot. */
let chatPath = "/";

describe("screenshots", () => {
  before(async () => {
    browser = await openBrowser({ width: 1440, height: 900 });
    // The admin sees the dashboard's live charts (a plain user sees the health cards only).
    if (ADMIN) await signIn(browser.page, ADMIN);
    else await signUp(browser.page, newUser("shots"));
  });

  after(async () => {
    await browser?.close();
  });

  test("prepare: a streamed answer and a finished job", async () => {
    const { page } = browser;
    await sendMessage(
      page,
      `Show me a short **markdown** answer with a list:\n\n- first point\n- second point\n\nand some \`inline code\` ${RUN} [mock:tokens=60]`,
    );
    await waitForAnswer(page);
    await page.waitForURL(/\/chat\//);
    chatPath = new URL(page.url()).pathname;

    await page.goto(`${BASE}/jobs`);
    await page.getByLabel(/Prompts, one per line/).fill([`Summarise the release notes ${RUN}`, `Translate the greeting ${RUN}`, `List three colours ${RUN}`].join("\n"));
    await page.getByRole("button", { name: "Process 3 prompts" }).click();
    await page.waitForFunction(
      () => document.querySelector('[data-testid="job-card"]')?.getAttribute("data-status") === "completed",
      undefined,
      { timeout: 60_000 },
    );
  });

  for (const theme of THEMES) {
    for (const { width, height } of VIEWPORTS) {
      test(`chat, jobs and dashboard at ${width}×${height}, ${theme}`, async () => {
        const { page, consoleErrors } = browser;
        await page.setViewportSize({ width, height });
        await page.emulateMedia({ colorScheme: theme });
        const shot = async (name) => {
          const file = join(OUT, `${name}-${width}x${height}-${theme}.png`);
          // Let transitions (progress bars, theme colours) finish.
          await page.waitForTimeout(400);
          await page.screenshot({ path: file, fullPage: false });
          assert.ok(existsSync(file), file);
        };
        const dark = () => page.evaluate(() => document.documentElement.classList.contains("dark"));

        await page.goto(`${BASE}${chatPath}`);
        await page.locator('[data-testid="message-assistant"]:not([data-status="streaming"])').first().waitFor();
        assert.equal(await dark(), theme === "dark", "the page theme does not follow the colour scheme");
        await shot("chat");

        await page.goto(`${BASE}/jobs`);
        await page.locator('[data-testid="job-card"][data-status="completed"]').first().waitFor();
        await shot("jobs");

        await page.goto(`${BASE}/dashboard`);
        await page.waitForFunction(() => {
          const cs = [...document.querySelectorAll('[data-testid="health-card"]')];
          return cs.length > 0 && cs.every((c) => c.getAttribute("data-status") === "up");
        }, undefined, { timeout: 20_000 });
        if (ADMIN) await page.locator(".recharts-surface").first().waitFor();
        await page.waitForTimeout(1500); // a few metric samples and the charts' first draw
        await shot("dashboard");
        assert.deepEqual(consoleErrors, []);
      });
    }
  }
});
