// The Files page (issue 23): upload two files (one dropped on the drop zone, one chosen with the
// file picker), watch each upload's progress bar and the status go live to "Ready", see both in
// the list, group them in a collection, delete one with confirmation; the same on a phone.
// Screenshots: files-1440x900-light.png and files-390x844-light.png in $E2E_OUT.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { BASE, OUT, RUN, newUser, openBrowser, signUp } from "./lib.mjs";

/** @type {Awaited<ReturnType<typeof openBrowser>>} */
let browser;
/** @type {import("playwright-core").Page} */
let page;

const fileItem = (name) => page.locator('[data-testid="file-item"]', { hasText: name });
const notes = `notes-${RUN}.md`;
const table = `table-${RUN}.csv`;

/** Drops a file on the drop zone the way a browser does: a DataTransfer carrying a File. */
async function dropFile(name, text, type) {
  const dt = await page.evaluateHandle(
    ({ name, text, type }) => {
      const d = new DataTransfer();
      d.items.add(new File([text], name, { type }));
      return d;
    },
    { name, text, type },
  );
  const zone = page.getByTestId("drop-zone");
  await zone.dispatchEvent("dragover", { dataTransfer: dt });
  await zone.dispatchEvent("drop", { dataTransfer: dt });
}

describe("files", () => {
  before(async () => {
    // The unsupported file is answered 415 on purpose; Chromium logs that response as an error.
    browser = await openBrowser({ width: 1440, height: 900, allow: (text) => /status of 415/.test(text) });
    page = browser.page;
    await signUp(page, newUser("files"));
  });

  after(async () => {
    await browser?.close();
  });

  test("upload two files, see them ready in the list, delete one", async () => {
    await page.getByRole("link", { name: "Files", exact: true }).click();
    await page.waitForURL(`${BASE}/files`);
    await page.getByRole("heading", { name: "Upload files" }).waitFor();

    // A body large enough that the browser reports progress before the answer.
    const body = `# Zebra migrations ${RUN}\n\n` + "Zebras cross the Mara river every July in search of grass.\n".repeat(4000);
    await dropFile(notes, body, "text/markdown");
    await page.getByTestId("file-input").setInputFiles({
      name: table,
      mimeType: "text/csv",
      buffer: Buffer.from(`animal,count\nzebra,${RUN}\nwildebeest,1200000\n`),
    });
    // Each upload had its own progress bar (it may already be gone on a fast machine; the drop
    // was big enough that it normally shows).
    const bars = await page.getByRole("progressbar", { name: /^Uploading / }).count();
    assert.ok(bars <= 2, `more progress bars than uploads: ${bars}`);

    for (const name of [notes, table]) {
      await fileItem(name).waitFor();
      await page.locator(`[data-testid="file-item"][data-status="ready"]`, { hasText: name }).waitFor({ timeout: 60_000 });
    }
    assert.match((await fileItem(notes).textContent()) ?? "", /passage/);
    assert.equal(await page.getByTestId("upload-item").count(), 0, "an upload stayed in the list after it was stored");

    // A collection: create, add both files, rename, remove one.
    await page.getByLabel("New collection name").fill(`Safari ${RUN}`);
    await page.getByRole("button", { name: "Create" }).click();
    const col = page.getByTestId("collection-item").filter({ hasText: `Safari ${RUN}` });
    await col.waitFor();
    for (const name of [notes, table]) {
      await col.getByLabel(/^File to add to /).selectOption({ label: name });
      await col.getByRole("button", { name: "Add" }).click();
      await col.getByRole("list", { name: /^Files in / }).getByText(name).waitFor();
    }
    await col.getByRole("button", { name: /^Rename collection / }).click();
    // While renaming, the name is an input (the card no longer "has" the old name as text).
    const rename = page.getByLabel("Collection name", { exact: true });
    await rename.fill(`Savanna ${RUN}`);
    await rename.press("Enter");
    await page.getByTestId("collection-name").filter({ hasText: `Savanna ${RUN}` }).waitFor();
    await page.setViewportSize({ width: 1440, height: 900 });
    await page.screenshot({ path: join(OUT, "files-1440x900-light.png"), fullPage: false });

    // Delete one file, with confirmation; Cancel first keeps it.
    await page.getByRole("button", { name: `Delete ${table}` }).click();
    let dialog = page.getByRole("dialog", { name: "Delete file?" });
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await dialog.waitFor({ state: "detached" });
    assert.equal(await fileItem(table).count(), 1);
    await page.getByRole("button", { name: `Delete ${table}` }).click();
    dialog = page.getByRole("dialog", { name: "Delete file?" });
    await dialog.getByRole("button", { name: "Delete" }).click();
    await fileItem(table).waitFor({ state: "detached" });
    // Gone from its collection too, and still gone after a reload.
    const savanna = page.getByTestId("collection-item").filter({ hasText: `Savanna ${RUN}` });
    await savanna.getByText("1 file", { exact: true }).waitFor();
    await page.reload();
    await fileItem(notes).waitFor();
    assert.equal(await fileItem(table).count(), 0, "the deleted file came back after a reload");
    assert.equal(await page.locator('[data-testid="file-item"]').count(), 1);
  });

  test("an unsupported file is refused in words", async () => {
    await page.getByTestId("file-input").setInputFiles({ name: `tool-${RUN}.exe`, mimeType: "application/octet-stream", buffer: Buffer.from("MZ\x90\x00") });
    const failed = page.locator('[data-testid="upload-item"][data-state="failed"]');
    await failed.waitFor();
    assert.match((await failed.getByTestId("upload-error").textContent()) ?? "", /PDF/);
    await failed.getByRole("button", { name: /^Dismiss / }).click();
    await failed.waitFor({ state: "detached" });
  });

  test("on a phone: reach Files from the menu, upload, see it ready, delete by keyboard", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${BASE}/`);
    await page.getByRole("button", { name: "Open sidebar" }).click();
    await page.getByTestId("mobile-drawer").getByRole("link", { name: "Files", exact: true }).click();
    await page.waitForURL(`${BASE}/files`);
    const phone = `phone-${RUN}.txt`;
    await page.getByTestId("file-input").setInputFiles({ name: phone, mimeType: "text/plain", buffer: Buffer.from(`Giraffes sleep standing up ${RUN}.`) });
    await page.locator(`[data-testid="file-item"][data-status="ready"]`, { hasText: phone }).waitFor({ timeout: 60_000 });
    // Nothing wider than the screen.
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page is ${overflow}px wider than the phone`);
    await page.screenshot({ path: join(OUT, "files-390x844-light.png"), fullPage: false });
    // Keyboard: focus the delete button, Enter opens the confirmation, Enter on Delete confirms.
    await page.getByRole("button", { name: `Delete ${phone}` }).focus();
    await page.keyboard.press("Enter");
    const dialog = page.getByRole("dialog", { name: "Delete file?" });
    await dialog.waitFor();
    await page.keyboard.press("Tab"); // Cancel has the focus first; Tab reaches Delete
    await page.keyboard.press("Enter");
    await fileItem(phone).waitFor({ state: "detached" });
  });

  test("no browser console errors were logged", () => {
    assert.deepEqual(browser.consoleErrors, []);
  });
});
