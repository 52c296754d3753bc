// Chat that keeps going (issue 15) and the sidebar's rough edges (issue 16), against the real
// stack: versions of a message and the "‹ 2 / 3 ›" switcher, Continue, answers that outlive the
// page, per-chat settings, pin / archive / date groups, import of an export, keyboard use.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { BASE, OUT, RUN, assistantMessages, newUser, openBrowser, sendMessage, sessionItems, signUp, userMessages, waitForAnswer } from "./lib.mjs";

/** @type {Awaited<ReturnType<typeof openBrowser>>} */
let browser;
/** @type {import("playwright-core").Page} */
let page;

const lastAssistant = () => assistantMessages(page).last();
const answerText = async (loc = lastAssistant()) => ((await loc.locator(".message-content").textContent()) ?? "").trim();
const chatId = () => /\/chat\/([0-9a-f-]{36})/.exec(page.url())?.[1] ?? "";
/** The session row whose title contains `text`. */
const row = (text) => sessionItems(page).filter({ hasText: text });

/** Opens a row's "Actions for …" menu and picks an entry. */
async function rowAction(text, action) {
  const item = row(text);
  await item.hover();
  await item.getByRole("button", { name: /^Actions for / }).click();
  await item.getByRole("menuitem", { name: action, exact: true }).click();
}

/** Starts a new chat with `prompt` and waits for its answer; returns the chat's id. */
async function newChatWith(prompt) {
  await page.getByRole("button", { name: "New chat" }).click();
  await page.getByRole("heading", { name: "How can I help you today?" }).waitFor();
  await sendMessage(page, prompt);
  await page.waitForURL(/\/chat\/[0-9a-f-]{36}/);
  await waitForAnswer(page);
  return chatId();
}

/** Waits until the last answer is done and longer than `old` (a continuation ended). */
async function waitForGrowth(old) {
  await page.waitForFunction((prev) => {
    const all = document.querySelectorAll('[data-testid="message-assistant"]');
    const last = all[all.length - 1];
    const text = last?.querySelector(".message-content")?.textContent?.trim() ?? "";
    return last?.getAttribute("data-status") === "done" && text.length > prev.length;
  }, old);
}

/** Opens the chat header's settings, lets `edit` change them, saves. */
async function editChatSettings(edit) {
  await page.getByRole("button", { name: "Chat settings" }).click();
  const dialog = page.getByRole("dialog", { name: "Chat settings" });
  await dialog.waitFor();
  await edit(dialog);
  await dialog.getByRole("button", { name: "Save" }).click();
  await dialog.waitFor({ state: "detached" });
}

before(async () => {
  browser = await openBrowser();
  page = browser.page;
  await signUp(page, newUser("chat"));
});

after(async () => {
  await browser?.close();
});

describe("chat that keeps going", () => {
  test("the message box has the focus on first load and after a reload", async () => {
    await page.getByLabel("Message", { exact: true }).waitFor();
    await page.waitForFunction(() => document.activeElement?.id === "chat-input");
    await page.reload();
    await page.getByRole("heading", { name: "How can I help you today?" }).waitFor();
    await page.waitForFunction(() => document.activeElement?.id === "chat-input");
  });

  test("regenerate and edit add versions; the switcher goes back to the old ones, also after a reload", async () => {
    await newChatWith(`branch question ${RUN}`);
    const first = await answerText();
    assert.doesNotMatch(first, /pirate/);
    // A different system prompt makes the regenerated answer differ (the mock echoes it).
    await editChatSettings((d) => d.getByLabel("System prompt").fill(`Talk like a pirate ${RUN}`));
    await lastAssistant().getByRole("button", { name: "Regenerate answer" }).click();
    await page.locator('[data-testid="message-assistant"][data-status="streaming"]').waitFor();
    await waitForAnswer(page);
    const question = userMessages(page).last();
    await question.getByTestId("version-label").filter({ hasText: "2 / 2" }).waitFor();
    assert.match(await answerText(), new RegExp(`pirate ${RUN}`));
    assert.equal(await assistantMessages(page).count(), 1, "the new version replaces the old one in view");

    await question.getByRole("button", { name: "Previous version of this message" }).click();
    await question.getByTestId("version-label").filter({ hasText: "1 / 2" }).waitFor();
    await page.waitForFunction(
      (want) => document.querySelector('[data-testid="message-assistant"] .message-content')?.textContent?.trim() === want,
      first,
    );

    // The chosen version is the server's active path: a reload shows it.
    await page.reload();
    await userMessages(page).last().getByTestId("version-label").filter({ hasText: "1 / 2" }).waitFor();
    assert.equal(await answerText(), first);

    // Editing the question adds a third version; ‹ goes back to the second.
    const q = userMessages(page).last();
    await q.hover();
    await q.getByRole("button", { name: "Edit and resend message" }).click();
    await page.getByLabel("Edit message").fill(`edited branch ${RUN}`);
    await page.getByRole("button", { name: "Save & send" }).click();
    await waitForAnswer(page);
    await userMessages(page).last().getByTestId("version-label").filter({ hasText: "3 / 3" }).waitFor();
    assert.match(await answerText(), new RegExp(`edited branch ${RUN}`));
    await userMessages(page).last().getByRole("button", { name: "Previous version of this message" }).click();
    await userMessages(page).last().getByTestId("version-label").filter({ hasText: "2 / 3" }).waitFor();
    await userMessages(page).last().filter({ hasText: `branch question ${RUN}` }).waitFor();
    await page.screenshot({ path: join(OUT, "chat-branches.png") });
  });

  test("per-chat settings are stored on the chat; new chats start from the global ones", async () => {
    await newChatWith(`settings chat ${RUN}`);
    await editChatSettings(async (d) => {
      await d.getByLabel("Max tokens").fill("7");
      await d.getByLabel("System prompt").fill(`Be terse ${RUN}`);
    });
    await page.reload();
    await userMessages(page).first().waitFor();
    await page.getByRole("button", { name: "Chat settings" }).click();
    const dialog = page.getByRole("dialog", { name: "Chat settings" });
    assert.equal(await dialog.getByLabel("Max tokens").inputValue(), "7");
    assert.equal(await dialog.getByLabel("System prompt").inputValue(), `Be terse ${RUN}`);
    await dialog.getByRole("button", { name: "Cancel" }).click();

    // 7 tokens: the answer is cut at max tokens and can be continued into the same message.
    await sendMessage(page, `cut me short ${RUN}`);
    await waitForAnswer(page);
    const cut = await answerText();
    assert.equal(cut.split(/\s+/).length, 7, `expected 7 tokens, got: ${cut}`);
    await lastAssistant().getByTestId("answer-stats").filter({ hasText: "cut at max tokens" }).waitFor();
    const answers = await assistantMessages(page).count();
    await lastAssistant().getByRole("button", { name: "Continue" }).click();
    await waitForGrowth(cut);
    assert.ok((await answerText()).startsWith(cut), "the continuation is appended to the same answer");
    assert.equal(await assistantMessages(page).count(), answers);

    // A new chat starts from the global settings (max tokens 1024), not this chat's.
    await page.getByRole("button", { name: "New chat" }).click();
    await sendMessage(page, `fresh chat ${RUN}`);
    await page.waitForURL((u) => u.pathname.startsWith("/chat/"));
    await waitForAnswer(page);
    await page.getByRole("button", { name: "Chat settings" }).click();
    assert.equal(await page.getByRole("dialog", { name: "Chat settings" }).getByLabel("Max tokens").inputValue(), "1024");
    await page.keyboard.press("Escape");
  });

  test("a stopped answer continues into the same message and is stored", async () => {
    await newChatWith(`short opener ${RUN}`);
    await sendMessage(page, `[mock:tokens=150] a long essay to stop ${RUN}`);
    await page.locator('[data-testid="message-assistant"][data-status="streaming"] .message-content').waitFor();
    await page.getByRole("button", { name: "Stop generating" }).click();
    await page.locator('[data-testid="message-assistant"][data-status="stopped"]').waitFor();
    // The stopped answer is read back from the server (its stored id) before it can be continued.
    const stopped = lastAssistant();
    const continueButton = stopped.getByRole("button", { name: "Continue" });
    await continueButton.waitFor();
    const partial = await answerText();
    const answers = await assistantMessages(page).count();
    await continueButton.click();
    await waitForGrowth(partial);
    const continued = await answerText();
    assert.ok(continued.length > partial.length, "the answer did not grow");
    assert.ok(continued.startsWith(partial), "the continuation did not go into the same message");
    assert.equal(await assistantMessages(page).count(), answers, "continue added a message");
    assert.equal(await lastAssistant().getAttribute("data-status"), "done");
    await page.reload();
    await userMessages(page).first().waitFor();
    await page.waitForFunction((want) => {
      const all = document.querySelectorAll('[data-testid="message-assistant"] .message-content');
      return all[all.length - 1]?.textContent?.trim() === want;
    }, continued);
    assert.equal(await lastAssistant().getAttribute("data-status"), "done");
  });

  test("leaving a chat mid-answer and coming back: still growing or done, never stopped; Chat reopens it", async () => {
    const id = await newChatWith(`leave opener ${RUN}`);
    await sendMessage(page, `[mock:tokens=150] a long story to leave ${RUN}`);
    await page.locator('[data-testid="message-assistant"][data-status="streaming"] .message-content').waitFor();
    await page.getByRole("link", { name: "Batch Jobs" }).click();
    await page.waitForURL(`${BASE}/jobs`);
    await page.waitForTimeout(1000);
    // "Chat" goes back to the chat open last, not to a new one.
    await page.getByRole("navigation", { name: "Sidebar" }).getByRole("link", { name: "Chat", exact: true }).click();
    await page.waitForURL(`${BASE}/chat/${id}`);
    const status = await lastAssistant().getAttribute("data-status");
    assert.ok(status === "streaming" || status === "done", `answer is ${status}`);
    await waitForAnswer(page);
    assert.equal(await lastAssistant().getAttribute("data-status"), "done");
    const full = await answerText();
    assert.ok(full.split(/\s+/).length >= 150, `answer has ${full.split(/\s+/).length} words`);
    await page.reload();
    await userMessages(page).first().waitFor();
    await lastAssistant().waitFor();
    assert.equal(await lastAssistant().getAttribute("data-status"), "done");
    assert.equal(await answerText(), full);
  });

  test("pin, archive and date groups in the sidebar", async () => {
    await newChatWith(`pin me ${RUN}`);
    await newChatWith(`archive me ${RUN}`);
    const groups = () => page.locator('[data-testid="session-group"]').evaluateAll((els) => els.map((e) => e.getAttribute("data-group")));
    assert.deepEqual(await groups(), ["Today"]);

    await rowAction(`pin me ${RUN}`, "Pin");
    await page.locator('[data-group="Pinned"]').filter({ hasText: `pin me ${RUN}` }).waitFor();
    assert.deepEqual(await groups(), ["Pinned", "Today"]);
    await page.reload();
    await page.locator('[data-group="Pinned"]').filter({ hasText: `pin me ${RUN}` }).waitFor();

    await rowAction(`archive me ${RUN}`, "Archive");
    await row(`archive me ${RUN}`).waitFor({ state: "detached" });
    await page.getByRole("button", { name: "Archived", exact: true }).click();
    await page.locator('[data-group="Archived"]').filter({ hasText: `archive me ${RUN}` }).waitFor();
    assert.equal(await row(`pin me ${RUN}`).count(), 0, "the archived view lists only archived chats");
    await rowAction(`archive me ${RUN}`, "Unarchive");
    await row(`archive me ${RUN}`).waitFor({ state: "detached" });
    await page.getByRole("button", { name: "Chats", exact: true }).click();
    await row(`archive me ${RUN}`).waitFor();

    await rowAction(`pin me ${RUN}`, "Unpin");
    await page.locator('[data-group="Pinned"]').waitFor({ state: "detached" });
    await page.screenshot({ path: join(OUT, "chat-sidebar.png") });
  });

  test("a chat exported as JSON imports as a new chat with the same messages", async () => {
    const id = await newChatWith(`export me ${RUN}`);
    const questions = await userMessages(page).allTextContents();
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "JSON", exact: true }).click()]);
    const file = join(OUT, `export-${RUN}.json`);
    await download.saveAs(file);
    const originalIds = await page.locator('[data-testid^="message-"][id^="m-"]').evaluateAll((els) => els.map((e) => e.id));
    await page.getByTestId("import-chat-file").setInputFiles(file);
    await page.waitForURL((u) => u.pathname.startsWith("/chat/") && !u.pathname.endsWith(id));
    assert.notEqual(chatId(), id);
    // The URL changes before the imported chat is loaded: wait until the messages on screen are
    // the new chat's own (ids the original does not have), not the original's still shown.
    await page.waitForFunction((old) => {
      const shown = [...document.querySelectorAll('[data-testid^="message-"][id^="m-"]')];
      return shown.length === old.length && shown.every((e) => !old.includes(e.id));
    }, originalIds);
    assert.deepEqual(await userMessages(page).allTextContents(), questions);
    assert.match(await answerText(), new RegExp(`export me ${RUN}`));
    await row(`export me ${RUN}`).nth(1).waitFor(); // the imported chat is listed next to the original
  });

  test("each chat is one Tab stop; its actions are reached with the arrow keys", async () => {
    const links = page.locator("[data-session-link]");
    assert.ok((await links.count()) >= 3);
    await links.first().focus();
    await page.keyboard.press("Tab");
    assert.equal(await page.evaluate(() => document.activeElement?.hasAttribute("data-session-link")), true, "Tab left the chat list");
    assert.equal(await page.evaluate(() => document.activeElement === document.querySelectorAll("[data-session-link]")[1]), true);
    await page.keyboard.press("Shift+Tab");
    await page.keyboard.press("ArrowDown");
    assert.equal(await page.evaluate(() => document.activeElement === document.querySelectorAll("[data-session-link]")[1]), true);
    // → opens the row's menu with the focus on its first entry; Esc gives the focus back.
    await page.keyboard.press("ArrowRight");
    await page.waitForFunction(() => document.activeElement?.getAttribute("role") === "menuitem");
    assert.equal(await page.evaluate(() => document.activeElement?.textContent?.trim()), "Rename");
    await page.keyboard.press("ArrowDown");
    assert.equal(await page.evaluate(() => document.activeElement?.textContent?.trim()), "Pin");
    await page.keyboard.press("Escape");
    assert.equal(await page.evaluate(() => document.activeElement === document.querySelectorAll("[data-session-link]")[1]), true);
    assert.equal(await page.getByRole("menu").count(), 0);

    // The first chat's focus outline is drawn inside the list, not cut by its edge.
    await links.first().focus();
    await page.keyboard.press("Shift+Tab");
    await page.keyboard.press("Tab");
    const fits = await page.evaluate(() => {
      const link = document.querySelector("[data-session-link]");
      const list = link?.closest(".overflow-y-auto");
      if (!link || !list) return "missing";
      if (!link.matches(":focus-visible")) return "not focus-visible";
      const offset = parseFloat(getComputedStyle(link).outlineOffset);
      const width = parseFloat(getComputedStyle(link).outlineWidth);
      // Drawn inside the link's box (an overflow container cannot cut it), and that box is in the list.
      if (offset + width > 0) return `outline reaches ${offset + width}px outside the link`;
      const top = link.getBoundingClientRect().top;
      return top >= list.getBoundingClientRect().top ? "ok" : `link top ${top} above list ${list.getBoundingClientRect().top}`;
    });
    assert.equal(fits, "ok");
  });

  test("keyboard-shortcut hints are hidden on touch devices", async (t) => {
    // DevTools' touch emulation makes the primary pointer coarse and without hover, as on a phone.
    const cdp = await page.context().newCDPSession(page);
    await cdp.send("Emulation.setTouchEmulationEnabled", { enabled: true, maxTouchPoints: 5 });
    await page.goto(`${BASE}/`);
    await page.getByLabel("Message", { exact: true }).waitFor();
    const touch = await page.evaluate(() => matchMedia("(hover: none) and (pointer: coarse)").matches);
    if (!touch) {
      t.skip("this Chromium cannot emulate a touch device's media features");
      return;
    }
    assert.doesNotMatch((await page.getByLabel("Message", { exact: true }).getAttribute("placeholder")) ?? "", /Enter/);
    const kbd = page.locator("header kbd");
    if ((await kbd.count()) > 0) assert.equal(await kbd.first().isVisible(), false, "the Ctrl K hint shows on a touch device");
    // No automatic focus either: it would pop up the on-screen keyboard.
    assert.notEqual(await page.evaluate(() => document.activeElement?.id), "chat-input");
    await cdp.send("Emulation.setTouchEmulationEnabled", { enabled: false });
    await cdp.detach();
  });

  test("no browser console errors were logged", () => {
    assert.deepEqual(browser.consoleErrors, []);
  });
});
