// The workshop in the Learn section (issue 26): the curriculum by part, a task walked end to
// end — overview with its mermaid diagram, lab, slides presented full screen with the
// keyboard, production reality — marked done, progress and "continue where you left off"
// from the server, a lab check's report shown, every part's overview diagrams rendered, and
// the same on a phone. One screenshot per part: test-output/workshop-part<N>.png.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { BASE, OUT, PASSWORD, authMode, newUser, openBrowser, signUp } from "./lib.mjs";

/** @type {Awaited<ReturnType<typeof openBrowser>>} */
let browser;
const user = newUser("workshop");

/** The user's API token, as `make lab-check` would hold it (an access token here). */
async function token() {
  if ((await authMode()) !== "jwt") return null;
  const res = await fetch(`${BASE}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: user.email, password: PASSWORD }),
  });
  assert.equal(res.status, 200);
  return (await res.json()).access_token;
}

/** Waits until every mermaid block of the page rendered as a diagram (none fell back to source). */
async function diagramsRendered(page) {
  // A block shows its source while mermaid loads, and keeps it (with the error) if it fails.
  await page.locator('article [role="tabpanel"]').waitFor();
  await page.waitForFunction(
    () =>
      document.querySelectorAll('[role="img"][aria-label="Mermaid diagram"]').length > 0 &&
      (!document.querySelector('[data-testid="mermaid-source"]') ||
        document.body.innerText.includes("Diagram could not be rendered")),
    null,
    { timeout: 30_000 },
  ).catch(() => undefined);
  const failed = await page.getByTestId("mermaid-source").allTextContents();
  assert.deepEqual(failed.map((t) => t.slice(0, 300)), [], `${page.url()}: diagram(s) not rendered`);
  return page.getByRole("img", { name: "Mermaid diagram" }).count();
}

describe("workshop", () => {
  before(async () => {
    browser = await openBrowser();
    await signUp(browser.page, user);
  });

  after(async () => {
    await browser?.close();
  });

  test("the curriculum lists four parts and seventeen tasks, none done yet", async () => {
    const { page } = browser;
    await page.goto(`${BASE}/learn`);
    await page.getByRole("heading", { name: "Workshop" }).waitFor();
    for (const id of ["0", "1", "2", "3"]) await page.getByTestId(`workshop-part-${id}`).waitFor();
    assert.equal(await page.getByTestId("workshop-task").count(), 17);
    assert.equal((await page.getByTestId("workshop-total").textContent())?.trim(), "0 of 17 tasks done");
    assert.match((await page.getByTestId("workshop-continue").textContent()) ?? "", /Start the workshop/);
    // The project documentation is still there below it.
    await page.getByRole("heading", { name: "Documentation" }).waitFor();
  });

  test("a task walked end to end: overview, lab, slides on the keyboard, production reality, done", async () => {
    const { page, consoleErrors } = browser;
    await page.getByTestId("workshop-task").filter({ hasText: "0.4 Request flows" }).click();
    await page.waitForURL(/\/learn\/workshop\/0\.4\/overview$/);
    await page.getByRole("heading", { name: /0\.4 Request flows/ }).first().waitFor();
    assert.ok((await diagramsRendered(page)) >= 1);
    // Code references are in the page as the exact paths.
    await page.getByText("crates/gateway/src/relay.rs::upstream_events").first().waitFor();

    await page.getByRole("tab", { name: "Lab" }).click();
    await page.waitForURL(/\/0\.4\/lab$/);
    await page.getByRole("heading", { name: /Lab 0\.4/ }).waitFor();
    await page.getByText("make lab-check TASK=0.4").first().waitFor();

    await page.getByRole("tab", { name: "Slides" }).click();
    await page.getByRole("button", { name: /Present \(\d+ slides\)/ }).click();
    const deck = page.getByTestId("slide-deck");
    await deck.waitFor();
    const counter = page.getByTestId("slide-counter");
    const total = Number(((await counter.textContent()) ?? "").split("/")[1]);
    assert.ok(total >= 4, `${total} slides`);
    assert.equal((await counter.textContent())?.trim(), `1 / ${total}`);
    await page.keyboard.press("ArrowRight");
    await page.keyboard.press("ArrowRight");
    assert.equal((await counter.textContent())?.trim(), `3 / ${total}`);
    await page.keyboard.press("ArrowLeft");
    assert.equal((await counter.textContent())?.trim(), `2 / ${total}`);
    await page.keyboard.press("End");
    assert.equal((await counter.textContent())?.trim(), `${total} / ${total}`);
    await page.keyboard.press("ArrowRight");
    assert.equal((await counter.textContent())?.trim(), `${total} / ${total}`, "stops at the last slide");
    await page.screenshot({ path: join(OUT, "workshop-slides.png") });
    await page.keyboard.press("Escape");
    await deck.waitFor({ state: "detached" });

    await page.getByRole("tab", { name: "Production reality" }).click();
    await page.getByRole("heading", { name: /0\.4 In production/ }).waitFor();

    const done = page.getByTestId("workshop-done");
    assert.equal((await done.textContent())?.trim(), "Mark as done");
    await done.click();
    await page.getByRole("button", { name: "Done", exact: true }).waitFor();

    // Progress is on the server: a reload of the index shows it and offers to continue here.
    await page.goto(`${BASE}/learn`);
    assert.equal((await page.getByTestId("workshop-total").textContent())?.trim(), "1 of 17 tasks done");
    const cont = page.getByTestId("workshop-continue");
    assert.match((await cont.textContent()) ?? "", /Continue where you left off.*0\.4 Request flows.* · Production reality/);
    await cont.click();
    await page.waitForURL(/\/learn\/workshop\/0\.4\/production_reality$/);
    assert.deepEqual(consoleErrors, []);
  });

  test("a lab check's report marks its task done, shown as such", async (t) => {
    const bearer = await token();
    if (!bearer) return t.skip("accounts are off");
    // What scripts/lab_check.py sends on a pass.
    const res = await fetch(`${BASE}/api/v1/workshop/progress`, {
      method: "PUT",
      headers: { "content-type": "application/json", authorization: `Bearer ${bearer}` },
      body: JSON.stringify({ task_id: "0.1", done: true, via: "check" }),
    });
    assert.equal(res.status, 200);
    const { page } = browser;
    await page.goto(`${BASE}/learn/workshop/0.1/lab`);
    await page.getByRole("button", { name: "Done · lab check passed" }).waitFor();
    await page.goto(`${BASE}/learn`);
    assert.equal((await page.getByTestId("workshop-total").textContent())?.trim(), "2 of 17 tasks done");
  });

  test("every part's first overview renders its diagrams (one screenshot per part)", async () => {
    const { page, consoleErrors } = browser;
    const curriculum = await (await page.request.get(`${BASE}/api/v1/workshop/curriculum`)).json();
    for (const part of curriculum.parts) {
      const task = part.tasks[0];
      await page.goto(`${BASE}/learn/workshop/${task.id}/overview`);
      await page.getByRole("heading", { name: task.title }).first().waitFor();
      assert.ok((await diagramsRendered(page)) >= 1, task.id);
      // The tabs at the top, the diagram in view.
      await page.getByRole("img", { name: "Mermaid diagram" }).first().scrollIntoViewIfNeeded();
      await page.screenshot({ path: join(OUT, `workshop-part${part.id}.png`), fullPage: false });
    }
    assert.deepEqual(consoleErrors, []);
  });

  test("every overview's diagrams render", async () => {
    const { page, consoleErrors } = browser;
    const curriculum = await (await page.request.get(`${BASE}/api/v1/workshop/curriculum`)).json();
    for (const part of curriculum.parts) {
      for (const task of part.tasks.slice(1)) {
        await page.goto(`${BASE}/learn/workshop/${task.id}/overview`);
        await page.getByRole("heading", { name: task.title }).first().waitFor();
        assert.ok((await diagramsRendered(page)) >= 1, task.id);
      }
    }
    assert.deepEqual(consoleErrors, []);
  });

  test("on a phone: the curriculum, the tabs and the deck fit the screen", async () => {
    const phone = await openBrowser({ width: 390, height: 844 });
    try {
      const { page, consoleErrors } = phone;
      await signUp(page, newUser("workshop-phone"));
      await page.goto(`${BASE}/learn`);
      await page.getByTestId("workshop-part-3").waitFor();
      const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok((await overflow()) <= 0, "the index scrolls sideways");
      await page.goto(`${BASE}/learn/workshop/9/slides`);
      await page.getByRole("button", { name: /Present/ }).click();
      await page.getByTestId("slide-deck").waitFor();
      await page.getByRole("button", { name: "Next slide" }).click();
      assert.match((await page.getByTestId("slide-counter").textContent()) ?? "", /^2 \//);
      await page.screenshot({ path: join(OUT, "workshop-phone.png") });
      await page.getByRole("button", { name: "Close slides (Escape)" }).click();
      assert.ok((await overflow()) <= 0, "the task page scrolls sideways");
      assert.deepEqual(consoleErrors, []);
    } finally {
      await phone.close();
    }
  });
});
