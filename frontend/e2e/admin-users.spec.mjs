// The admin Users page (/admin/users, issue 25 with the accounts work): the administrator
// creates a second user, disables it (that user's open page is signed out at its next request),
// enables it again, and hands over a one-time password reset link with which the user sets a
// new password and signs in. At a desktop (1280×800) and a phone (390×844) viewport;
// screenshots go to $E2E_OUT as admin-users-<what>-<desktop|phone>.png.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { ADMIN, BASE, OUT, RUN, authMode, newUser, openBrowser, signIn, signUp } from "./lib.mjs";

const VIEWPORTS = /** @type {const} */ ([
  ["desktop", { width: 1280, height: 800 }],
  ["phone", { width: 390, height: 844 }],
]);

/** Chromium logs the refused requests of a disabled account and of a wrong sign-in. */
const refusals = (text) => /status of 4\d\d/.test(text);

/** @type {Awaited<ReturnType<typeof openBrowser>>} */
let admin;
let skip = ADMIN ? false : "no admin on this stack (accounts off)";

before(async () => {
  if (!skip && (await authMode()) !== "jwt") skip = "accounts are off";
  if (skip) return;
  admin = await openBrowser({ width: 1280, height: 800 });
  await signIn(admin.page, ADMIN);
});

after(async () => {
  await admin?.close();
});

/** The visible sidebar of `page` (on a phone, opened first). */
async function sidebar(page, phone) {
  if (phone) await page.getByRole("button", { name: "Open sidebar" }).click();
  return page.locator('nav[aria-label="Sidebar"]:visible');
}

describe("admin Users page", () => {
  test("someone who is not an admin has no Users link and the page says it is for administrators", { skip }, async () => {
    const b = await openBrowser({ width: 1280, height: 800, allow: refusals });
    try {
      await signUp(b.page, newUser(`users-nonadmin`));
      const nav = b.page.locator('nav[aria-label="Sidebar"]:visible');
      await nav.getByRole("link", { name: "Batch Jobs" }).waitFor();
      assert.equal(await nav.getByRole("link", { name: "Users", exact: true }).count(), 0);
      await b.page.goto(`${BASE}/admin/users`);
      await b.page.getByTestId("users-admin-only").waitFor();
      assert.deepEqual(b.consoleErrors, []);
    } finally {
      await b.close();
    }
  });

  for (const [name, viewport] of VIEWPORTS) {
    test(`${name}: create a user; disabled, their open page is signed out; enabled again; a reset link sets a new password`, { skip }, async () => {
      const page = admin.page;
      const phone = name === "phone";
      await page.setViewportSize(viewport);
      await page.goto(`${BASE}/`);
      const nav = await sidebar(page, phone);
      await nav.getByRole("link", { name: "Users", exact: true }).click();
      await page.waitForURL(`${BASE}/admin/users`);
      await page.getByRole("heading", { name: "Users", exact: true }).waitFor();

      // The admin makes the second account.
      const second = { name: `Second ${name}`, email: `second-${name}-${RUN}@example.com`, password: `first-Passw0rd-${RUN}` };
      const form = page.getByRole("region", { name: "New user" });
      await form.getByLabel("Email").fill(second.email);
      await form.getByLabel("Name (optional)").fill(second.name);
      await form.getByLabel("Initial password").fill(second.password);
      await form.getByRole("button", { name: "Create user" }).click();
      const row = page.locator(`[data-testid="user-row"][data-email="${second.email}"]`);
      await row.waitFor();
      assert.equal(await row.getAttribute("data-state"), "active");
      assert.equal(await form.getByLabel("Email").inputValue(), "", "the form is not cleared");
      // The admin's own row cannot be disabled.
      const own = page.locator(`[data-testid="user-row"][data-email="${ADMIN.email}"]`);
      await own.waitFor();
      assert.equal(await own.getByRole("button", { name: /^Disable / }).count(), 0);

      // The second user signs in in their own browser.
      const user = await openBrowser({ ...viewport, allow: refusals });
      try {
        await signIn(user.page, second);

        // Disabled: their page is signed out at its next request.
        await row.getByRole("button", { name: `Disable ${second.email}` }).click();
        await page.locator(`[data-testid="user-row"][data-email="${second.email}"][data-state="disabled"]`).waitFor();
        assert.equal(await row.getByTestId("user-state").textContent(), "Disabled");
        await page.screenshot({ path: join(OUT, `admin-users-disabled-${name}.png`) });
        // Its next request (in-app navigation to the jobs page, which reads the jobs).
        await user.page.evaluate(() => {
          history.pushState({}, "", "/jobs");
          dispatchEvent(new PopStateEvent("popstate"));
        });
        await user.page.waitForURL((u) => u.pathname === "/sign-in", { timeout: 15_000 });
        await user.page.getByRole("button", { name: "Sign in" }).waitFor();
        await user.page.screenshot({ path: join(OUT, `admin-users-signed-out-${name}.png`) });
        // And cannot sign in again while disabled.
        await user.page.getByLabel("Email").fill(second.email);
        await user.page.getByLabel("Password").fill(second.password);
        await user.page.getByRole("button", { name: "Sign in" }).click();
        await user.page.getByRole("alert").filter({ hasText: /disabled/i }).waitFor();

        // Enabled again: the same password works.
        await row.getByRole("button", { name: `Enable ${second.email}` }).click();
        await page.locator(`[data-testid="user-row"][data-email="${second.email}"][data-state="active"]`).waitFor();
        await signIn(user.page, second);
      } finally {
        await user.close();
      }

      // A one-time reset link, with a Copy button.
      await row.getByRole("button", { name: `Password reset link for ${second.email}` }).click();
      const box = row.getByTestId("reset-link");
      await box.waitFor();
      const link = await box.getByLabel(`Password reset link for ${second.email}`).inputValue();
      assert.match(link, new RegExp(`^${BASE.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}/reset-password#token=.+`));
      await box.getByRole("button", { name: "Copy" }).click();
      await page.getByRole("status").filter({ hasText: "Link copied" }).waitFor();
      await page.screenshot({ path: join(OUT, `admin-users-reset-link-${name}.png`) });
      await box.getByRole("button", { name: "Done" }).click();
      await box.waitFor({ state: "detached" });

      // The user opens it (signed out), sets a new password, and signs in with it.
      const fresh = await openBrowser({ ...viewport, allow: refusals });
      try {
        await fresh.page.goto(link);
        const newPassword = `reset-Passw0rd-${name}-${RUN}`;
        await fresh.page.getByLabel("New password").fill(newPassword);
        await fresh.page.getByRole("button", { name: "Set password" }).click();
        await fresh.page.waitForURL((u) => u.pathname === "/sign-in");
        await signIn(fresh.page, { ...second, password: newPassword });
        // The link worked once: a second use is refused.
        await fresh.page.goto(link);
        await fresh.page.getByLabel("New password").fill(`again-Passw0rd-${RUN}`);
        await fresh.page.getByRole("button", { name: "Set password" }).click();
        await fresh.page.getByRole("alert").waitFor();
        assert.equal(new URL(fresh.page.url()).pathname, "/reset-password");
        assert.deepEqual(fresh.consoleErrors, []);
      } finally {
        await fresh.close();
      }
      // The old password no longer works.
      const res = await fetch(`${BASE}/api/v1/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: second.email, password: second.password }),
      });
      assert.equal(res.status, 401);
      assert.deepEqual(admin.consoleErrors, []);
    });
  }
});
