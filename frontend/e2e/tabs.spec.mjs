// Two tabs of one browser share one sign-in (the refresh cookie and the storage): a sign-out in
// one tab signs the other out, saying why; another user signing in there makes this tab that
// user, with their own chats and never the previous user's under the new name.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { BASE, OUT, apiCall, authMode, chatWith, newUser, openBrowser, PASSWORD, sessionItems, signIn, signUpWithApi, userApi } from "./lib.mjs";

const JWT = (await authMode()) === "jwt";
const ada = newUser("tabs-ada");
const bob = newUser("tabs-bob");

describe("two tabs of one browser", { skip: !JWT && "accounts are off" }, () => {
  /** @type {Awaited<ReturnType<typeof openBrowser>>} */
  let browser;
  /** @type {import("playwright-core").Page} */
  let first;
  /** @type {import("playwright-core").Page} */
  let second;
  const adaChat = "Ada's travel plans";
  const bobChat = "Bob's garden notes";

  before(async () => {
    // The requests of a tab whose user changed under it may answer 401 before it follows.
    browser = await openBrowser({ allow: (text) => /status of 401/.test(text) });
    first = browser.page;
    // Bob has an account and a chat of his own (made from Node, not in this browser).
    await apiCall(null, "POST", "/api/v1/auth/register", { email: bob.email, password: PASSWORD, display_name: bob.name });
    await chatWith((await userApi(bob)).api, bobChat, ["Which roses?", "Climbing ones."]);
    const { api } = await signUpWithApi(first, ada);
    await chatWith(api, adaChat, ["Where to in May?", "Lisbon."]);
    second = await browser.context.newPage();
  });

  after(async () => {
    await browser?.close();
  });

  /** Waits until `page` shows `user`'s account in its header. */
  const signedInAs = (page, user) => page.locator(`[data-testid="account-link"][aria-label="Account (${user.email})"]`).waitFor();

  test("a sign-out in one tab signs the other out and says why", async () => {
    await first.goto(`${BASE}/jobs`);
    await signedInAs(first, ada);
    await second.goto(`${BASE}/`);
    await signedInAs(second, ada);
    await sessionItems(second).filter({ hasText: adaChat }).waitFor();

    await second.getByTestId("account-link").click();
    await second.getByRole("button", { name: "Sign out", exact: true }).click();
    await second.waitForURL(/\/sign-in/);
    // The first tab, left alone, follows.
    await first.waitForURL(/\/sign-in/);
    await first.getByText("You were signed out in another tab.").waitFor();
    assert.equal(await sessionItems(first).count(), 0);
    await first.screenshot({ path: join(OUT, "tabs-signed-out-elsewhere.png") });
  });

  test("another user signing in there makes this tab that user, with only their chats", async () => {
    await signIn(second, bob);
    // The first tab (on the sign-in form) follows into Bob's account, back to where it was.
    await signedInAs(first, bob);
    await first.waitForURL(`${BASE}/jobs`);
    await sessionItems(first).filter({ hasText: bobChat }).waitFor();
    const titles = await sessionItems(first).allTextContents();
    assert.ok(!titles.some((t) => t.includes(adaChat)), `Ada's chat under Bob's name: ${titles.join(" | ")}`);
    await first.screenshot({ path: join(OUT, "tabs-followed-sign-in.png") });
    assert.deepEqual(browser.consoleErrors, []);
  });

  test("a tab still signed in as the previous user (its sign-out missed) becomes the new one", async () => {
    // Bob in both tabs; the second tab signs in as Ada without the first hearing of a sign-out
    // (as when it was asleep): the first holds Bob's token and Bob's chats until it hears of Ada.
    await first.goto(`${BASE}/`);
    await sessionItems(first).filter({ hasText: bobChat }).waitFor();
    await second.evaluate(
      async ({ email, password }) => {
        const res = await fetch("/api/v1/auth/login", { method: "POST", credentials: "include", headers: { "content-type": "application/json" }, body: JSON.stringify({ email, password }) });
        const { user } = await res.json();
        localStorage.setItem("sable-signed-in", user.id);
      },
      { email: ada.email, password: PASSWORD },
    );
    await signedInAs(first, ada);
    await sessionItems(first).filter({ hasText: adaChat }).waitFor();
    const titles = await sessionItems(first).allTextContents();
    assert.ok(!titles.some((t) => t.includes(bobChat)), `Bob's chat under Ada's name: ${titles.join(" | ")}`);
    assert.deepEqual(browser.consoleErrors, []);
  });
});
