// Answers grounded in the user's files (issue 24): attach a file from the composer's paperclip
// (uploaded right there), ask, see a citation, open it, see the passage highlighted in its
// file's text; reload and the sources are still there; the same on a phone; a deleted file's
// citation reads "source deleted". Screenshots: knowledge-1440x900-light.png (an answer with
// citations and the open passage panel) and knowledge-390x844-light.png in $E2E_OUT.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { BASE, OUT, RUN, newUser, openBrowser, sendMessage, signUp, waitForAnswer } from "./lib.mjs";

const doc = await (await fetch(`${BASE}/openapi.json`)).json().catch(() => ({}));
const SKIP = doc.components?.schemas?.ChatSessionUpdate?.properties?.knowledge ? false : "this gateway has no knowledge on chats";

/** @type {Awaited<ReturnType<typeof openBrowser>>} */
let browser;
/** @type {import("playwright-core").Page} */
let page;
let chatUrl = "";

const handbook = `zebra-handbook-${RUN}.md`;
const passage = `The great zebra migration crosses the Mara river every July, code ${RUN}.`;
// Long enough to be cut into several passages, so the cited one is marked inside the rest.
const diet = ["Zebras graze on tall grass for most of the day.", "They drink once a day when water is near.", "Foals start to graze a few weeks after birth.", "Dry seasons make them walk far for food."];
const stripes = ["Each zebra has a unique pattern of stripes.", "Stripes may keep biting flies away.", "A herd's stripes confuse lions at a distance.", "Foals learn their mother's pattern early."];
const body = [
  "# Zebra handbook",
  "",
  "## Diet",
  "",
  ...Array.from({ length: 12 }, (_, i) => `${diet[i % diet.length]} (note ${i + 1} on diet)`),
  "",
  "## Migration",
  "",
  passage,
  "",
  "## Stripes",
  "",
  ...Array.from({ length: 12 }, (_, i) => `${stripes[i % stripes.length]} (note ${i + 1} on stripes)`),
  "",
].join("\n");

const lastAnswer = () => page.locator('[data-testid="message-assistant"]').last();

/** Opens the first citation of the last answer and checks the panel shows the passage marked. */
async function openCitation() {
  const cite = lastAnswer().locator("[data-cite]").first();
  await cite.waitFor();
  await cite.click();
  const panel = page.getByTestId("source-panel");
  await panel.waitFor();
  assert.equal(((await panel.getByTestId("source-filename").textContent()) ?? "").trim(), handbook);
  const marked = panel.getByTestId("source-passage");
  await marked.waitFor();
  assert.match((await marked.textContent()) ?? "", new RegExp(`Mara river every July, code ${RUN}`));
  return panel;
}

describe("grounded answers with citations", { skip: SKIP }, () => {
  before(async () => {
    browser = await openBrowser({ width: 1440, height: 900 });
    page = browser.page;
    await signUp(page, newUser("knowledge"));
  });

  after(async () => {
    await browser?.close();
  });

  test("attach a file from the composer, ask, open the citation", async () => {
    await page.getByRole("button", { name: "Attach files" }).click();
    const dialog = page.getByRole("dialog", { name: "Files for this chat" });
    await dialog.waitFor();
    await dialog.getByTestId("file-input").setInputFiles({ name: handbook, mimeType: "text/markdown", buffer: Buffer.from(body) });
    // Uploaded right here and attached at once; it is read (Ready) before we ask.
    const row = dialog.getByTestId("knowledge-files").locator("li", { hasText: handbook });
    await row.getByRole("checkbox", { checked: true }).waitFor();
    await row.getByTestId("file-status").filter({ hasText: "Ready" }).waitFor({ timeout: 60_000 });
    await dialog.getByRole("button", { name: "Done" }).click();
    // The new chat shows what it will answer from.
    await page.getByTestId("chat-knowledge").filter({ hasText: handbook }).waitFor();

    await sendMessage(page, `When does the zebra migration cross the Mara river?`);
    await page.waitForURL(/\/chat\/[0-9a-f-]{36}/);
    chatUrl = page.url();
    await waitForAnswer(page);
    // The chat's header shows its knowledge.
    await page.getByTestId("chat-knowledge").filter({ hasText: handbook }).waitFor();
    const panel = await openCitation();
    // A Markdown file: the passage is shown inside its surrounding text.
    assert.match((await panel.getByTestId("source-context").textContent()) ?? "", /## Migration/);
    await panel.getByRole("button", { name: "Open the whole file" }).waitFor();
    await lastAnswer().getByTestId("answer-sources").waitFor();
    await page.screenshot({ path: join(OUT, "knowledge-1440x900-light.png"), fullPage: false });
    await panel.getByRole("button", { name: "Close source" }).click();
    await panel.waitFor({ state: "detached" });
  });

  test("after a reload the sources are still there", async () => {
    await page.goto(chatUrl);
    await lastAnswer().locator("[data-cite]").first().waitFor();
    await page.reload();
    await lastAnswer().getByTestId("source-chip").first().waitFor();
    await openCitation();
    await page.keyboard.press("Escape");
    await page.getByTestId("source-panel").waitFor({ state: "detached" });
  });

  test("on a phone: the citation opens the passage over the chat", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(chatUrl);
    await lastAnswer().locator("[data-cite]").first().waitFor();
    const panel = await openCitation();
    const box = await panel.boundingBox();
    assert.ok(box && box.width >= 380, `the panel is ${box?.width}px wide on a 390px phone`);
    await page.screenshot({ path: join(OUT, "knowledge-390x844-light.png"), fullPage: false });
    await panel.getByRole("button", { name: "Close source" }).click();
    await page.setViewportSize({ width: 1440, height: 900 });
  });

  test("a deleted file's citation reads 'source deleted', never a broken link", async () => {
    await page.goto(`${BASE}/files`);
    await page.getByRole("button", { name: `Delete ${handbook}` }).click();
    await page.getByRole("dialog", { name: "Delete file?" }).getByRole("button", { name: "Delete" }).click();
    await page.locator('[data-testid="file-item"]', { hasText: handbook }).waitFor({ state: "detached" });
    await page.goto(chatUrl);
    const cite = lastAnswer().locator("[data-cite]").first();
    await cite.click();
    const panel = page.getByTestId("source-panel");
    await panel.getByTestId("source-deleted").waitFor();
    assert.match((await panel.getByTestId("source-passage").textContent()) ?? "", new RegExp(`code ${RUN}`));
    assert.equal(await panel.getByRole("button", { name: "Open the whole file" }).count(), 0);
  });

  test("no browser console errors were logged", () => {
    assert.deepEqual(browser.consoleErrors, []);
  });
});
