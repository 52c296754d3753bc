// Unknown routes (issue 16.6): a "Page not found" page with a link home, not the chat page,
// for a signed-in user and after a reload (the gateway's SPA fallback serves index.html).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { BASE, OUT, newUser, openBrowser, signUp } from "./lib.mjs";

/** @type {Awaited<ReturnType<typeof openBrowser>>} */
let browser;

describe("unknown routes", () => {
  before(async () => {
    browser = await openBrowser();
    await signUp(browser.page, newUser("notfound"));
  });

  after(async () => {
    await browser?.close();
  });

  test("an unknown path shows Page not found with a link back to chat", async () => {
    const { page, consoleErrors } = browser;
    for (const path of ["/no-such-page", "/chats", "/jobs/extra/segments"]) {
      const res = await page.goto(`${BASE}${path}`);
      assert.equal(res?.status(), 200, `${path}: the SPA fallback answers the shell`);
      await page.getByRole("heading", { name: "Page not found" }).waitFor();
      assert.equal(new URL(page.url()).pathname, path, `${path}: no redirect`);
      assert.equal(await page.title(), "Page not found · Sable");
      assert.equal(await page.getByLabel("Message", { exact: true }).count(), 0, `${path}: the chat composer is shown`);
      assert.match((await page.locator("main").textContent()) ?? "", new RegExp(path.replaceAll("/", "\\/")));
    }
    await page.screenshot({ path: join(OUT, "not-found.png"), fullPage: false });

    await page.getByRole("link", { name: "Back to chat" }).click();
    await page.getByRole("heading", { name: "How can I help you today?" }).waitFor();
    assert.equal(new URL(page.url()).pathname, "/");
    assert.deepEqual(consoleErrors, []);
  });

  test("known routes still render their pages, lazily loaded", async () => {
    const { page, consoleErrors } = browser;
    await page.goto(`${BASE}/jobs`);
    await page.getByLabel(/Prompts, one per line/).waitFor();
    await page.goto(`${BASE}/learn`);
    await page.getByRole("heading", { name: "Learn" }).waitFor();
    // Client-side navigation into a lazy page (its chunk loads on the click).
    await page.goto(`${BASE}/`);
    await page.getByRole("heading", { name: "How can I help you today?" }).waitFor();
    await page.getByRole("link", { name: /Dashboard/ }).first().click();
    await page.getByTestId("health-card").first().waitFor();
    assert.equal(await page.getByRole("heading", { name: "Page not found" }).count(), 0);
    assert.deepEqual(consoleErrors, []);
  });
});
