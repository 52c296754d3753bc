// Notifications (toasts) stand clear of every page's controls, on a desktop and on a phone. The
// Jobs page's were moved to the bottom once they covered its Name field on a phone; this walks
// the other pages the same way. One notification is made the same way on every page: the chat
// list, which the app's shell loads on every page, fails once ("Could not load conversations").
// Screenshots: toasts-<page>-<viewport>.png in $E2E_OUT.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { BASE, OUT, chatWith, newUser, openBrowser, signUpWithApi } from "./lib.mjs";

const VIEWPORTS = /** @type {const} */ ([
  ["desktop", { width: 1280, height: 800 }],
  ["phone", { width: 390, height: 844 }],
]);

/** @type {Awaited<ReturnType<typeof openBrowser>>} */
let browser;
/** @type {import("playwright-core").Page} */
let page;
let chatId = "";

/**
 * The pages, each with what shows it is ready and, for a dialog, how to open it (its controls
 * are then the ones that count: what is behind a modal dialog cannot be used).
 */
const PAGES = [
  { name: "chat-new", path: "/", ready: (p) => p.getByRole("heading", { name: "How can I help you today?" }) },
  { name: "chat-open", path: () => `/chat/${chatId}`, ready: (p) => p.locator('[data-testid="message-assistant"]').first() },
  { name: "files", path: "/files", ready: (p) => p.getByRole("heading", { name: "Upload files" }) },
  { name: "jobs", path: "/jobs", ready: (p) => p.getByRole("heading", { name: "New batch job" }) },
  { name: "dashboard", path: "/dashboard", ready: (p) => p.getByRole("heading", { name: "Service health" }) },
  { name: "learn", path: "/learn", ready: (p) => p.getByRole("heading", { name: "Learn", exact: true }) },
  { name: "account", path: "/account", ready: (p) => p.getByRole("heading", { name: "Where you're signed in" }) },
  {
    name: "settings",
    path: "/",
    ready: (p) => p.getByRole("heading", { name: "How can I help you today?" }),
    open: async (p) => {
      await p.getByRole("button", { name: "Open settings" }).click();
      await p.getByRole("dialog").waitFor();
    },
  },
];

/**
 * The controls a notification overlaps: every visible button, link, field and disclosure in the
 * viewport (inside the open dialog when there is one), outside the notifications themselves.
 */
async function coveredControls(p) {
  return p.evaluate(() => {
    const regions = [...document.querySelectorAll('[data-testid="toasts"]')];
    const notes = regions.flatMap((region) => [...region.children]).map((el) => el.getBoundingClientRect());
    const scope = document.querySelector('[role="dialog"]') ?? document;
    const selector = 'button, a[href], input:not([type="hidden"]):not([type="file"]), textarea, select, summary, [role="button"], [role="tab"]';
    const hit = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
    const viewport = { left: 0, top: 0, right: window.innerWidth, bottom: window.innerHeight };
    const out = [];
    let count = 0;
    for (const el of scope.querySelectorAll(selector)) {
      if (regions.some((region) => region.contains(el)) || !el.checkVisibility({ visibilityProperty: true, opacityProperty: true })) continue;
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0 || !hit(r, viewport)) continue;
      count++;
      if (notes.some((n) => hit(n, r))) out.push(el.outerHTML.slice(0, 140));
    }
    return { covered: out, count, notes: notes.length };
  });
}

before(async () => {
  // The chat list's failure is on purpose (a 500 in the console).
  browser = await openBrowser({ allow: (text) => /status of 500/.test(text) });
  page = browser.page;
  const { api } = await signUpWithApi(page, newUser("toasts"));
  chatId = await chatWith(api, "Notifications", ["Where do notifications go?", "Clear of the controls."]);
});

after(async () => {
  await browser?.close();
});

describe("notifications cover no control", () => {
  for (const [viewportName, viewport] of VIEWPORTS) {
    for (const target of PAGES) {
      test(`${viewportName}: ${target.name}`, async () => {
        await page.setViewportSize(viewport);
        let failed = false;
        await page.route("**/api/v1/chat/sessions?**", async (route) => {
          if (failed) return route.continue();
          failed = true;
          await route.fulfill({ status: 500, json: { error: { code: "INTERNAL_ERROR", message: "boom", request_id: "e2e" } } });
        });
        try {
          const path = typeof target.path === "function" ? target.path() : target.path;
          await page.goto(`${BASE}${path}`);
          await target.ready(page).waitFor();
          await target.open?.(page);
          const note = page.getByRole("alert").filter({ hasText: "Could not load conversations" });
          await note.waitFor();
          const { covered, count, notes } = await coveredControls(page);
          await page.screenshot({ path: join(OUT, `toasts-${target.name}-${viewportName}.png`) });
          assert.equal(notes, 1, "one notification");
          assert.ok(count >= 3, `only ${count} controls found on ${path}`);
          assert.deepEqual(covered, [], `the notification covers controls on ${path}`);
          await note.getByRole("button", { name: "Dismiss notification" }).click();
          await note.waitFor({ state: "detached" });
        } finally {
          await page.unroute("**/api/v1/chat/sessions?**");
        }
        assert.deepEqual(browser.consoleErrors, []);
      });
    }
  }
});
