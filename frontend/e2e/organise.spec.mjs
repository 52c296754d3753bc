// Sharing and folders (issue 25, features 11 and 13), at a desktop (1280×800) and a phone
// (390×844) viewport. A share link is opened in a fresh, signed-out browser; screenshots go to
// $E2E_OUT as organise-<what>-<desktop|phone>.png.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { BASE, OUT, RUN, appendMessages, chatWith, newUser, openBrowser, signUpWithApi, userMessages } from "./lib.mjs";

/** @type {Awaited<ReturnType<typeof openBrowser>>} */
let browser;
/** @type {import("playwright-core").Page} */
let page;
/** This file's user's bearer token (null when accounts are off) and API from Node (lib's signUpWithApi). */
let token = null;
let api;
const user = newUser("organise");

const VIEWPORTS = /** @type {const} */ ([
  ["desktop", { width: 1280, height: 800 }],
  ["phone", { width: 390, height: 844 }],
]);

/** The chat's folder once the server has it (the sidebar moves the row before the PATCH returns). */
async function folderOf(id, expected) {
  let got;
  for (let i = 0; i < 50; i++) {
    got = (await api("GET", `/api/v1/chat/sessions/${id}`)).folder_id;
    if (got === expected) return got;
    await new Promise((r) => setTimeout(r, 100));
  }
  return got;
}

/** The visible sidebar (on a phone, opened first). */
async function sidebar(phone) {
  if (phone) await page.getByRole("button", { name: "Open sidebar" }).click();
  return page.locator('nav[aria-label="Sidebar"]:visible');
}

before(async () => {
  browser = await openBrowser();
  page = browser.page;
  ({ token, api } = await signUpWithApi(page, user));
});

after(async () => {
  await browser?.close();
});

describe("sharing a chat (issue 25.11)", () => {
  for (const [name, viewport] of VIEWPORTS) {
    test(`${name}: a link shows the chat as of sharing to a signed-out reader, continues as a copy, and stops when revoked`, async () => {
      await page.setViewportSize(viewport);
      const id = await chatWith(api, `Shared trip ${name} ${RUN}`, [`Plan a trip ${RUN}`, "Go to Rome in **May**."]);
      await page.goto(`${BASE}/chat/${id}`);
      await userMessages(page).first().waitFor();
      await page.getByRole("button", { name: "Share", exact: true }).click();
      const dialog = page.getByRole("dialog", { name: "Share chat" });
      await dialog.getByRole("button", { name: "Create link" }).click();
      const link = await dialog.getByLabel("Share link").inputValue();
      assert.match(link, /\/shared\/[A-Za-z0-9_-]{43}$/);
      await page.screenshot({ path: join(OUT, `organise-share-dialog-${name}.png`) });
      await dialog.getByRole("button", { name: "Close" }).click();
      // Later messages must not show through the link.
      await appendMessages(api, id, [`Later question ${RUN}`, "Later answer"]);

      const reader = await openBrowser({ ...viewport, allow: (t) => /status of 401/.test(t) });
      try {
        await reader.page.goto(link);
        await reader.page.getByTestId("shared-title").waitFor();
        assert.equal(await reader.page.getByTestId("shared-title").textContent(), `Shared trip ${name} ${RUN}`);
        assert.equal(await reader.page.getByTestId("shared-user").count(), 1);
        assert.equal(await reader.page.getByTestId("shared-assistant").count(), 1);
        const text = (await reader.page.getByRole("log", { name: "Shared conversation" }).textContent()) ?? "";
        assert.match(text, /Go to Rome in May\./);
        assert.doesNotMatch(text, /Later/);
        const body = (await reader.page.locator("body").textContent()) ?? "";
        assert.ok(!body.includes(user.email), "the owner's email is on the shared page");
        if (token) await reader.page.getByRole("link", { name: "Sign in to continue this chat" }).waitFor();
        await reader.page.screenshot({ path: join(OUT, `organise-shared-signed-out-${name}.png`), fullPage: true });
        assert.deepEqual(reader.consoleErrors, []);

        // A signed-in reader continues it as a chat of their own.
        await page.goto(link);
        await page.getByRole("button", { name: "Continue this chat" }).click();
        await page.waitForURL((u) => /\/chat\/[0-9a-f-]{36}$/.test(u.pathname) && !u.pathname.endsWith(id));
        await userMessages(page).first().waitFor();
        assert.equal(await userMessages(page).count(), 1);
        assert.match((await page.getByTestId("chat-title").textContent()) ?? "", /Shared trip/);

        // The owner stops sharing: the link is gone for the reader.
        await page.goto(`${BASE}/chat/${id}`);
        await userMessages(page).first().waitFor();
        await page.getByRole("button", { name: "Share", exact: true }).click();
        await dialog.getByTestId("share-status").waitFor();
        await dialog.getByRole("button", { name: "Stop sharing" }).click();
        await dialog.getByRole("button", { name: "Create link" }).waitFor();
        await dialog.getByRole("button", { name: "Close" }).click();
        reader.consoleErrors.length = 0;
        await reader.page.reload();
        await reader.page.getByRole("heading", { name: "This shared chat is not available" }).waitFor();
        await reader.page.screenshot({ path: join(OUT, `organise-shared-revoked-${name}.png`) });
      } finally {
        await reader.close();
      }
    });
  }
});

describe("folders (issue 25.13)", () => {
  for (const [name, viewport] of VIEWPORTS) {
    test(`${name}: create, move a chat in (${name === "desktop" ? "drag and drop" : "menu"}) and out, collapse across reloads, delete`, async () => {
      await page.setViewportSize(viewport);
      const phone = name === "phone";
      const title = `Filed chat ${name} ${RUN}`;
      const id = await chatWith(api, title, [`Question ${RUN}`, "Answer"]);
      const folderName = `Work ${name} ${RUN}`;
      await page.goto(`${BASE}/`);
      let nav = await sidebar(phone);
      await nav.getByRole("button", { name: "New folder" }).click();
      await nav.getByLabel("New folder name").fill(folderName);
      await nav.getByLabel("New folder name").press("Enter");
      const folder = nav.locator(`[data-testid="folder"][data-folder="${folderName}"]`);
      await folder.waitFor();
      const row = nav.getByTestId("session-item").filter({ hasText: title });

      if (phone) {
        // The keyboard / touch way: the chat's menu.
        await row.getByRole("button", { name: `Actions for ${title}` }).click();
        await page.getByRole("menuitem", { name: `Move to ${folderName}` }).click();
      } else {
        await row.dragTo(folder.getByRole("button", { name: new RegExp(folderName) }).first());
      }
      await folder.getByTestId("session-item").filter({ hasText: title }).waitFor();
      const folders = await api("GET", "/api/v1/chat/folders");
      const made = folders.find((f) => f.name === folderName);
      assert.equal(await folderOf(id, made.id), made.id);
      await page.screenshot({ path: join(OUT, `organise-folder-${name}.png`) });

      // Collapse: remembered across a reload.
      const toggle = folder.getByRole("button", { name: new RegExp(folderName) }).first();
      await toggle.click();
      assert.equal(await toggle.getAttribute("aria-expanded"), "false");
      await page.reload();
      nav = await sidebar(phone);
      const again = nav.locator(`[data-testid="folder"][data-folder="${folderName}"]`);
      await again.waitFor();
      assert.equal(await again.getByRole("button", { name: new RegExp(folderName) }).first().getAttribute("aria-expanded"), "false");
      assert.equal(await again.getByTestId("session-item").count(), 0);
      await again.getByRole("button", { name: new RegExp(folderName) }).first().click();

      // Out again with the menu, then back in, then delete the folder: the chat stays.
      const inside = again.getByTestId("session-item").filter({ hasText: title });
      await inside.getByRole("button", { name: `Actions for ${title}` }).click();
      await page.getByRole("menuitem", { name: "Remove from folder" }).click();
      await nav.getByTestId("unfiled-chats").getByTestId("session-item").filter({ hasText: title }).waitFor();
      assert.equal(await folderOf(id, null), null);
      await api("PATCH", `/api/v1/chat/sessions/${id}`, { folder_id: made.id });
      await page.reload();
      nav = await sidebar(phone);
      await nav.locator(`[data-testid="folder"][data-folder="${folderName}"]`).getByTestId("session-item").filter({ hasText: title }).waitFor();
      await nav.getByRole("button", { name: `Folder actions for ${folderName}` }).click();
      await page.getByRole("menuitem", { name: "Delete folder" }).click();
      await page.getByRole("dialog", { name: "Delete folder?" }).getByRole("button", { name: "Delete folder" }).click();
      await nav.locator(`[data-testid="folder"][data-folder="${folderName}"]`).waitFor({ state: "detached" });
      await nav.getByTestId("unfiled-chats").getByTestId("session-item").filter({ hasText: title }).waitFor();
      const kept = await api("GET", `/api/v1/chat/sessions/${id}`);
      assert.equal(kept.folder_id, null);
      assert.equal(kept.messages.length, 2);
      assert.deepEqual(browser.consoleErrors, []);
    });
  }
});

describe("folder settings (issue 25.13)", () => {
  for (const [name, viewport] of VIEWPORTS) {
    test(`${name}: a folder's default system prompt and model, set in its settings, start a new chat made in it`, async () => {
      await page.setViewportSize(viewport);
      const phone = name === "phone";
      const { limits } = await api("GET", "/api/v1/auth/config");
      const registry = await api("GET", "/api/v1/models");
      const pick = registry.models.filter((m) => (!m.capabilities?.length || m.capabilities.includes("chat")) && m.id !== registry.default).pop();
      assert.ok(pick, `no model besides the default: ${JSON.stringify(registry)}`);
      const folderName = `Coding ${name} ${RUN}`;
      const made = await api("POST", "/api/v1/chat/folders", { name: folderName });
      // Started from an open chat: "New chat in folder" leaves it for the empty chat page.
      const other = await chatWith(api, `Elsewhere ${name} ${RUN}`, [`Unrelated ${RUN}`, "Answer"]);
      await page.goto(`${BASE}/chat/${other}`);
      await userMessages(page).first().waitFor();

      let nav = await sidebar(phone);
      await nav.getByRole("button", { name: `Folder actions for ${folderName}` }).click();
      await page.getByRole("menuitem", { name: "Folder settings" }).click();
      const dialog = page.getByRole("dialog", { name: "Folder settings" });
      await dialog.waitFor();
      // The server's limit, as in the other settings dialogs.
      assert.match((await dialog.getByTestId("system-prompt-count").textContent()) ?? "", new RegExp(`^0/${limits.system_prompt_max_chars.toLocaleString("en-US")}$`));
      const prompt = `You answer in short code snippets ${RUN}.`;
      await dialog.getByLabel("Default model").selectOption(pick.id);
      await dialog.getByLabel("Default system prompt").fill(prompt);
      await page.screenshot({ path: join(OUT, `organise-folder-settings-${name}.png`) });
      await dialog.getByRole("button", { name: "Save" }).click();
      await dialog.waitFor({ state: "detached" });
      const stored = (await api("GET", "/api/v1/chat/folders")).find((f) => f.id === made.id);
      assert.equal(stored.system_prompt, prompt);
      assert.equal(stored.model, pick.id);

      // Kept: the dialog shows them again after a reload.
      await page.reload();
      await userMessages(page).first().waitFor();
      nav = await sidebar(phone);
      await nav.getByRole("button", { name: `Folder actions for ${folderName}` }).click();
      await page.getByRole("menuitem", { name: "Folder settings" }).click();
      await dialog.waitFor();
      assert.equal(await dialog.getByLabel("Default model").inputValue(), pick.id);
      assert.equal(await dialog.getByLabel("Default system prompt").inputValue(), prompt);
      await dialog.getByRole("button", { name: "Cancel" }).click();
      await dialog.waitFor({ state: "detached" });

      // A new chat in the folder is made in it, with its defaults.
      await nav.getByRole("button", { name: `Folder actions for ${folderName}` }).click();
      await page.getByRole("menuitem", { name: "New chat in folder" }).click();
      await page.getByRole("heading", { name: "How can I help you today?" }).waitFor();
      await page.getByTestId("new-chat-folder").filter({ hasText: folderName }).waitFor();
      const input = page.getByLabel("Message", { exact: true });
      await input.fill(`In the folder ${name} ${RUN} [mock:tokens=3]`);
      await input.press("Enter");
      await page.waitForURL((u) => /\/chat\/[0-9a-f-]{36}$/.test(u.pathname) && !u.pathname.endsWith(other));
      const id = new URL(page.url()).pathname.split("/").pop();
      const chat = await api("GET", `/api/v1/chat/sessions/${id}`);
      assert.equal(chat.folder_id, made.id);
      assert.equal(chat.system_prompt, prompt);
      assert.equal(chat.model, pick.id);
      nav = await sidebar(phone);
      await nav.locator(`[data-testid="folder"][data-folder="${folderName}"]`).getByTestId("session-item").first().waitFor();
      if (phone) await page.getByRole("button", { name: "Close sidebar" }).click();
      await page.getByRole("button", { name: "Chat settings" }).click();
      const settings = page.getByRole("dialog", { name: "Chat settings" });
      await settings.waitFor();
      assert.equal(await settings.getByLabel("Model").inputValue(), pick.id);
      assert.equal(await settings.getByLabel("System prompt").inputValue(), prompt);
      await page.screenshot({ path: join(OUT, `organise-folder-new-chat-${name}.png`) });
      await settings.getByRole("button", { name: "Cancel" }).click();

      // A plain "New chat" afterwards is not put in the folder.
      await page.goto(`${BASE}/`);
      await page.getByRole("heading", { name: "How can I help you today?" }).waitFor();
      assert.equal(await page.getByTestId("new-chat-folder").count(), 0);
      assert.deepEqual(browser.consoleErrors, []);
    });
  }
});

describe("a folder's chats are read with the folder filter (issue 25.13)", () => {
  for (const [name, viewport] of VIEWPORTS) {
    test(`${name}: a chat older than the sidebar's first page shows in its folder`, async () => {
      await page.setViewportSize(viewport);
      const phone = name === "phone";
      const folderName = `Archive box ${name} ${RUN}`;
      const made = await api("POST", "/api/v1/chat/folders", { name: folderName });
      const title = `Old filed chat ${name} ${RUN}`;
      const old = await chatWith(api, title, [`Old question ${RUN}`, "Old answer"]);
      await api("PATCH", `/api/v1/chat/sessions/${old}`, { folder_id: made.id });
      // More newer chats than the sidebar's first page (50): the old one is not on it. Paced
      // below the per-user rate (10 a second after a burst of 100), so the page's own requests
      // are not refused afterwards.
      for (let i = 0; i < 52; i++) {
        await api("POST", "/api/v1/chat/sessions", { title: `Newer ${name} ${i} ${RUN}` });
        await new Promise((r) => setTimeout(r, 120));
      }
      const firstPage = await api("GET", "/api/v1/chat/sessions?limit=50&archived=false");
      assert.ok(!firstPage.some((s) => s.id === old), "the old chat is on the first page: the test proves nothing");
      const inFolder = await api("GET", `/api/v1/chat/sessions?folder_id=${made.id}`);
      assert.deepEqual(inFolder.map((s) => s.id), [old]);

      await page.goto(`${BASE}/`);
      await page.getByRole("heading", { name: "How can I help you today?" }).waitFor();
      const nav = await sidebar(phone);
      const folder = nav.locator(`[data-testid="folder"][data-folder="${folderName}"]`);
      await folder.waitFor();
      const row = folder.getByTestId("session-item").filter({ hasText: title });
      await row.waitFor();
      assert.equal(await folder.getByTestId("session-item").count(), 1);
      // Only in its folder, not again in the date groups.
      assert.equal(await nav.getByTestId("unfiled-chats").getByTestId("session-item").filter({ hasText: title }).count(), 0);
      await row.scrollIntoViewIfNeeded();
      await page.screenshot({ path: join(OUT, `organise-folder-old-chat-${name}.png`) });
      await row.getByRole("link").first().click();
      await page.waitForURL((u) => u.pathname.endsWith(`/chat/${old}`));
      await userMessages(page).first().waitFor();
      assert.deepEqual(browser.consoleErrors, []);
    });
  }
});
