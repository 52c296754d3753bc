// The Account page (issues 21.5, 21.6, 25.10): display name, password change (a wrong current
// password and a common new one are refused with the reason; the other device is signed out),
// signed-in devices with revoke, export of all my data, sign out everywhere, and deleting the
// account after the password (export offered first); on desktop and on a phone.
// Screenshots: account-1440x900-light.png, account-390x844-light.png,
// account-delete-390x844-light.png in $E2E_OUT.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { BASE, OUT, PASSWORD, RUN, authMode, newUser, openBrowser, signIn, signUp } from "./lib.mjs";

/** @type {Awaited<ReturnType<typeof openBrowser>>} */
let browser;
/** @type {Awaited<ReturnType<typeof openBrowser>>} */
let other;
/** @type {import("playwright-core").Page} */
let page;
const user = newUser("account");
const NEW_PASSWORD = `renewed passphrase ${RUN}`;
let jwt = true;

async function openAccount(p = page) {
  await p.goto(`${BASE}/account`);
  await p.getByRole("heading", { name: "Where you're signed in" }).waitFor();
}

/** True once `p` is on the sign-in form (its session ended). */
async function signedOut(p) {
  await p.goto(`${BASE}/account`);
  await p.getByRole("button", { name: "Sign in" }).waitFor({ timeout: 15_000 });
  return p.url().includes("/sign-in");
}

describe("account", () => {
  before(async () => {
    jwt = (await authMode()) === "jwt";
    // Sign-ins ended on purpose answer 401 before the page goes to sign-in; the refused
    // passwords answer 422.
    const allow = (text) => /status of (401|422)/.test(text);
    browser = await openBrowser({ width: 1440, height: 900, allow });
    page = browser.page;
    await signUp(page, user);
    other = await openBrowser({ width: 1280, height: 800, allow });
    if (jwt) await signIn(other.page, user);
  });

  after(async () => {
    await other?.close();
    await browser?.close();
  });

  test("name, password, devices and export on desktop", { skip: !jwt && "accounts are off" }, async () => {
    await openAccount();
    const name = page.locator("#account-display-name");
    await name.fill(`Ada ${RUN}`);
    await page.getByRole("button", { name: "Save name" }).click();
    await page.getByTestId("account-name").filter({ hasText: `Ada ${RUN}` }).waitFor();

    // Two devices are listed; this one is marked.
    await page.locator('[data-testid="sign-in-item"]').nth(1).waitFor();
    assert.equal(await page.locator('[data-testid="sign-in-item"]').count(), 2);
    await page.getByText("This device").waitFor();

    // Wrong current password, then a common new one: each refused with its reason.
    const form = page.getByRole("form", { name: "Change password" });
    await form.getByLabel("Current password").fill("not my password at all");
    await form.getByLabel("New password").fill(NEW_PASSWORD);
    await form.getByRole("button", { name: "Change password" }).click();
    await page.getByTestId("password-error").filter({ hasText: "not right" }).waitFor();
    await form.getByLabel("Current password").fill(PASSWORD);
    await form.getByLabel("New password").fill("qwertyuiop");
    await form.getByRole("button", { name: "Change password" }).click();
    await page.getByTestId("password-error").filter({ hasText: "commonly used" }).waitFor();
    await form.getByLabel("New password").fill(NEW_PASSWORD);
    await form.getByRole("button", { name: "Change password" }).click();
    await page.getByText("Every other device was signed out.").waitFor();
    assert.ok(await signedOut(other.page), "the other device is signed out");

    // It signs in again with the new password; this device signs it out from the list.
    await signIn(other.page, { ...user, password: NEW_PASSWORD });
    await openAccount();
    await page.locator('[data-testid="sign-in-item"]').nth(1).waitFor();
    await page.locator('[data-testid="sign-in-item"]').getByRole("button", { name: /^Sign out / }).click();
    await page.getByText("Device signed out").waitFor();
    assert.equal(await page.locator('[data-testid="sign-in-item"]').count(), 1);
    assert.ok(await signedOut(other.page), "the revoked device is signed out");

    // Export: one JSON file with my profile.
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Export my data" }).click()]);
    assert.match(download.suggestedFilename(), /^sable-export-\d{4}-\d{2}-\d{2}\.json$/);
    const doc = JSON.parse(readFileSync(await download.path(), "utf8"));
    assert.equal(doc.format, "sable-account-export");
    assert.equal(doc.profile.email, user.email);
    assert.equal(doc.profile.display_name, `Ada ${RUN}`);
    assert.ok(Array.isArray(doc.chats) && Array.isArray(doc.jobs) && Array.isArray(doc.api_keys));

    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: join(OUT, "account-1440x900-light.png"), fullPage: true });
    assert.deepEqual(browser.consoleErrors, []);
  });

  test("on a phone: sign out everywhere, then delete the account", { skip: !jwt && "accounts are off" }, async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await openAccount();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `the page is ${overflow}px wider than the phone`);
    await page.screenshot({ path: join(OUT, "account-390x844-light.png"), fullPage: true });

    await page.getByRole("button", { name: "Sign out everywhere" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Sign out everywhere" }).click();
    await page.getByText("You signed out everywhere.").waitFor();
    await signIn(page, { ...user, password: NEW_PASSWORD });

    await openAccount();
    await page.getByRole("button", { name: "Delete account" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByRole("button", { name: "Export my data first" }).waitFor();
    await dialog.getByTestId("delete-password").fill("not my password at all");
    await dialog.getByRole("button", { name: "Delete my account" }).click();
    await dialog.getByRole("alert").filter({ hasText: "not right" }).waitFor();
    await page.screenshot({ path: join(OUT, "account-delete-390x844-light.png"), fullPage: false });
    await dialog.getByTestId("delete-password").fill(NEW_PASSWORD);
    await dialog.getByRole("button", { name: "Delete my account" }).click();
    await page.getByText("Your account and everything in it were deleted.").waitFor();

    // The account is gone: its password no longer signs in.
    await page.getByLabel("Email").fill(user.email);
    await page.getByLabel("Password").fill(NEW_PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByText("Wrong email or password.").waitFor();
  });
});
