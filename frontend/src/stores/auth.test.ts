import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "@/api/client";
import { api } from "@/api/endpoints";
import { authErrorMessage } from "@/components/auth/AuthPages";
import { loadDraft, saveDraft } from "@/lib/drafts";
import { type Call, json, mockFetch, until } from "@/test/fetch-mock";
import { installXhr } from "@/test/xhr-mock";
import { OTHER_TAB_SIGNED_OUT, refreshDelay, SIGNED_IN_HINT_KEY, useAuth } from "./auth";
import { fromServer, useChat } from "./chat";
import { useFiles } from "./files";
import { useFolders } from "./folders";
import { JOBS_KEY, useJobs } from "./jobs";
import { useModels } from "./models";
import { DEFAULT_SETTINGS, SETTINGS_KEY, useSettings } from "./settings";
import { useSourcePanel } from "./source-panel";
import { useToasts } from "./toasts";

const USER = { id: "u1", email: "ada@example.com", display_name: "Ada", role: "user" as const };
const BOB = { id: "u2", email: "bob@example.com", display_name: "Bob", role: "user" as const };
// Ada's data, in the shapes the gateway answers.
const JOB = { job_id: "job-ada", name: "Ada's batch", status: "running", created_at: "2026-01-01T00:00:00Z", completed_at: null, total_prompts: 1, completed_prompts: 0, results: [], error: null };
const FILE = { id: "file-ada", filename: "ada-diary.md", content_type: "text/markdown", kind: "markdown", size_bytes: 10, sha256: "00", status: "pending", chunk_count: 0, created_at: "2026-01-01T00:00:00Z", updated_at: "2026-01-01T00:00:00Z" };
const COLLECTION = { id: "c-ada", name: "Ada's papers", description: "", file_ids: [FILE.id], created_at: "", updated_at: "" };
const tokens = (access: string, expiresIn = 900) => ({
  access_token: access,
  refresh_token: `r-${access}`,
  token_type: "bearer",
  expires_in: expiresIn,
  user: USER,
});
const JWT = { auth_mode: "jwt", registration: "open" };
const envelope = (status: number, code: string) =>
  json({ error: { code, message: code.toLowerCase(), request_id: "req-1" } }, status);

type Route = (c: Call) => Response | Promise<Response> | undefined;
/** Answers /openapi.json with 404 (routes are then probed directly) and the auth config. */
function server(route: Route, config: object = JWT) {
  return mockFetch((c) => {
    if (c.url === "/openapi.json") return json({}, 404);
    if (c.url === "/api/v1/auth/config") return json(config);
    return route(c) ?? json({ error: { code: "NOT_FOUND", message: "no", request_id: null } }, 404);
  });
}
const calls = (cs: Call[], url: string) => cs.filter((c) => c.url === url);

const initial = useAuth.getState();
beforeEach(() => {
  useAuth.setState({ ...initial, status: "loading", config: null, user: null, accessToken: null, expiresAt: null, notice: null }, true);
  localStorage.clear();
  useSettings.setState({ ...DEFAULT_SETTINGS, owner: null });
  useJobs.setState({ prompts: {}, knownIds: [], owner: null });
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe("auth store", () => {
  it("with auth_mode off the app runs without sign-in and sends no Authorization header", async () => {
    const cs = server((c) => (c.url === "/api/v1/models" ? json({ models: [], default: "m" }) : undefined), {
      auth_mode: "off",
      registration: "closed",
    });
    await useAuth.getState().init();
    expect(useAuth.getState().status).toBe("off");
    await api.models();
    expect(calls(cs, "/api/v1/models")[0]?.headers["authorization"]).toBeUndefined();
    expect(calls(cs, "/api/v1/auth/refresh")).toHaveLength(0);
  });

  it("signing up signs in next when registration answers 202 without tokens", async () => {
    const cs = server((c) => {
      if (c.url === "/api/v1/auth/register") return json({ message: "sign in" }, 202);
      if (c.url === "/api/v1/auth/login") return json(tokens("L1"));
    });
    await useAuth.getState().init();
    await useAuth.getState().signUp("ada@example.com", "a long passphrase", "Ada");
    expect(useAuth.getState()).toMatchObject({ status: "signed-in", accessToken: "L1" });
    expect(calls(cs, "/api/v1/auth/login")[0]?.body).toEqual({ email: "ada@example.com", password: "a long passphrase" });
  });

  it("a first visit (no sign-in hint) goes to sign-in without trying the cookie", async () => {
    const cs = server(() => undefined);
    await useAuth.getState().init();
    expect(useAuth.getState().status).toBe("signed-out");
    expect(calls(cs, "/api/v1/auth/refresh")).toHaveLength(0);
  });

  it("a page load restores the session from the refresh cookie (POST /refresh with {})", async () => {
    localStorage.setItem(SIGNED_IN_HINT_KEY, "1");
    const cs = server((c) => {
      if (c.url === "/api/v1/auth/refresh") return json(tokens("A1"));
      if (c.url === "/api/v1/models") return json({ models: [], default: "m" });
    });
    await useAuth.getState().init();
    expect(useAuth.getState()).toMatchObject({ status: "signed-in", accessToken: "A1", user: USER });
    expect(calls(cs, "/api/v1/auth/refresh")[0]?.body).toEqual({});
    await api.models();
    expect(calls(cs, "/api/v1/models")[0]?.headers["authorization"]).toBe("Bearer A1");
  });

  it("an expired cookie on load means signed out, and the hint is dropped", async () => {
    localStorage.setItem(SIGNED_IN_HINT_KEY, "1");
    server((c) => (c.url === "/api/v1/auth/refresh" ? envelope(401, "UNAUTHORIZED") : undefined));
    await useAuth.getState().init();
    expect(useAuth.getState().status).toBe("signed-out");
    expect(localStorage.getItem(SIGNED_IN_HINT_KEY)).toBeNull();
  });

  it("signing in keeps the token in memory only and refreshes it a minute before it expires", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    let n = 0;
    const cs = server((c) => {
      if (c.url === "/api/v1/auth/login") return json(tokens("L1", 900));
      if (c.url === "/api/v1/auth/refresh") return json(tokens(`R${++n}`, 900));
    });
    await useAuth.getState().init();
    await useAuth.getState().signIn("ada@example.com", "secret-password");
    expect(calls(cs, "/api/v1/auth/login")[0]?.body).toEqual({ email: "ada@example.com", password: "secret-password" });
    expect(useAuth.getState().accessToken).toBe("L1");
    expect(JSON.stringify({ ...localStorage })).not.toContain("L1");

    await vi.advanceTimersByTimeAsync(839_000);
    expect(calls(cs, "/api/v1/auth/refresh")).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(calls(cs, "/api/v1/auth/refresh")).toHaveLength(1);
    expect(useAuth.getState().accessToken).toBe("R1");
    // …and again before the new token runs out.
    await vi.advanceTimersByTimeAsync(840_000);
    expect(useAuth.getState().accessToken).toBe("R2");
  });

  it("a 401 on a call refreshes once and retries with the new token", async () => {
    const cs = server((c) => {
      if (c.url === "/api/v1/auth/login") return json(tokens("OLD"));
      if (c.url === "/api/v1/auth/refresh") return json(tokens("NEW"));
      if (c.url === "/api/v1/models") {
        return c.headers["authorization"] === "Bearer NEW" ? json({ models: [], default: "m" }) : envelope(401, "UNAUTHORIZED");
      }
    });
    await useAuth.getState().init();
    await useAuth.getState().signIn("ada@example.com", "pw-pw-pw-pw");
    await expect(api.models()).resolves.toEqual({ models: [], default: "m" });
    expect(calls(cs, "/api/v1/models").map((c) => c.headers["authorization"])).toEqual(["Bearer OLD", "Bearer NEW"]);
    expect(calls(cs, "/api/v1/auth/refresh")).toHaveLength(1);
    expect(useAuth.getState().status).toBe("signed-in");
  });

  it("a 401 that a refresh cannot cure signs out, says why, and forgets the user's chats", async () => {
    const cs = server((c) => {
      if (c.url === "/api/v1/auth/login") return json(tokens("OLD"));
      if (c.url === "/api/v1/auth/refresh") return envelope(401, "UNAUTHORIZED");
      if (c.url === "/api/v1/models") return envelope(401, "UNAUTHORIZED");
    });
    await useAuth.getState().init();
    await useAuth.getState().signIn("ada@example.com", "pw-pw-pw-pw");
    useChat.setState({ sessions: [{ id: "s", user_id: "u1", title: "t", created_at: "", updated_at: "", message_count: 0 }] });
    await expect(api.models()).rejects.toMatchObject({ status: 401 });
    expect(calls(cs, "/api/v1/models")).toHaveLength(1);
    expect(useAuth.getState()).toMatchObject({ status: "signed-out", accessToken: null });
    expect(useAuth.getState().notice).toMatch(/sign in again/);
    expect(useChat.getState().sessions).toEqual([]);
  });

  it("a rate-limited refresh (429) keeps the session and retries after Retry-After", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    let refreshes = 0;
    server((c) => {
      if (c.url === "/api/v1/auth/login") return json(tokens("L1", 900));
      if (c.url === "/api/v1/auth/refresh") {
        refreshes += 1;
        if (refreshes === 1) {
          return new Response(JSON.stringify({ error: { code: "RATE_LIMITED", message: "slow down", request_id: "r" } }), {
            status: 429,
            headers: { "content-type": "application/json", "retry-after": "7" },
          });
        }
        return json(tokens("R2", 900));
      }
    });
    await useAuth.getState().init();
    await useAuth.getState().signIn("ada@example.com", "pw-pw-pw-pw");
    await vi.advanceTimersByTimeAsync(840_000);
    expect(refreshes).toBe(1);
    expect(useAuth.getState()).toMatchObject({ status: "signed-in", accessToken: "L1" });
    await vi.advanceTimersByTimeAsync(7_000);
    expect(refreshes).toBe(2);
    expect(useAuth.getState().accessToken).toBe("R2");
  });

  it("a page load waits out a busy server instead of signing out", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    localStorage.setItem(SIGNED_IN_HINT_KEY, "1");
    let refreshes = 0;
    server((c) => {
      if (c.url === "/api/v1/auth/refresh") {
        refreshes += 1;
        return refreshes === 1 ? envelope(503, "SERVICE_UNAVAILABLE") : json(tokens("A1"));
      }
    });
    const done = useAuth.getState().init();
    await vi.advanceTimersByTimeAsync(10_000);
    await done;
    expect(refreshes).toBe(2);
    expect(useAuth.getState()).toMatchObject({ status: "signed-in", accessToken: "A1" });
  });

  it("concurrent 401s share one refresh", async () => {
    let refreshes = 0;
    server((c) => {
      if (c.url === "/api/v1/auth/login") return json(tokens("OLD"));
      if (c.url === "/api/v1/auth/refresh") {
        refreshes += 1;
        return json(tokens("NEW"));
      }
      if (c.url.startsWith("/api/v1/")) {
        return c.headers["authorization"] === "Bearer NEW" ? json({ models: [], default: "m" }) : envelope(401, "UNAUTHORIZED");
      }
    });
    await useAuth.getState().init();
    await useAuth.getState().signIn("ada@example.com", "pw-pw-pw-pw");
    await Promise.all([api.models(), api.models(), api.models()]);
    expect(refreshes).toBe(1);
  });

  it("sign-out calls /logout, drops the token and the hint", async () => {
    const cs = server((c) => {
      if (c.url === "/api/v1/auth/login") return json(tokens("T"));
      if (c.url === "/api/v1/auth/logout") return new Response(null, { status: 204 });
    });
    await useAuth.getState().init();
    await useAuth.getState().signIn("ada@example.com", "pw-pw-pw-pw");
    expect(localStorage.getItem(SIGNED_IN_HINT_KEY)).toBe(USER.id);
    await useAuth.getState().signOut();
    expect(calls(cs, "/api/v1/auth/logout")).toHaveLength(1);
    expect(useAuth.getState()).toMatchObject({ status: "signed-out", accessToken: null, user: null, notice: null });
    expect(localStorage.getItem(SIGNED_IN_HINT_KEY)).toBeNull();
  });

  it("signing out, or another user signing in, forgets the previous user's folders, chats, jobs, models and open source", async () => {
    const FOLDER = { id: "f-ada", name: "Ada's secrets", session_count: 1, created_at: "2026-01-01T00:00:00Z" };
    let loginAs = USER;
    server((c) => {
      if (c.url === "/api/v1/auth/login") return json({ ...tokens("T"), user: loginAs });
      if (c.url === "/api/v1/auth/logout") return new Response(null, { status: 204 });
      if (c.url === "/api/v1/chat/folders") return json([FOLDER]);
      if (c.url === "/api/v1/models") return json({ models: [{ id: "only-for-ada" }], default: "only-for-ada" });
    });
    const source = { n: 1, file_id: "file-ada", filename: "ada.md", chunk_id: "c1", page: null, heading: null, snippet: "Ada's notes", score: 1 };
    const fillAdasCaches = async () => {
      await useFolders.getState().load();
      useFolders.getState().setDraftFolder(FOLDER.id);
      await useModels.getState().load();
      expect(useModels.getState()).toMatchObject({ defaultModel: "only-for-ada", status: "ready" });
      useSourcePanel.getState().open(source);
      useChat.setState({ archivedStatus: "ready", pageCursor: "cursor-ada" });
      useJobs.setState({ prompts: { "job-ada": ["Ada's prompt"] }, knownIds: ["job-ada"] });
      expect(useFolders.getState()).toMatchObject({ folders: [FOLDER], status: "ready", draftFolderId: FOLDER.id });
      expect(localStorage.getItem(JOBS_KEY)).toContain("Ada's prompt");
      useSettings.getState().set({ model: "only-for-ada", systemPrompt: "Ada's private brief", persona: "creative", temperature: 1.2 });
    };
    const expectForgotten = () => {
      expect(useFolders.getState()).toMatchObject({ folders: [], status: "idle", draftFolderId: null });
      expect(useSourcePanel.getState().source).toBeNull();
      // An admin may limit the models per account: the next user's list is read again.
      expect(useModels.getState()).toMatchObject({ models: [], defaultModel: "", status: "idle" });
      expect(useChat.getState()).toMatchObject({ sessions: [], archivedStatus: "idle", pageCursor: null, activeId: null });
      expect(useJobs.getState()).toMatchObject({ jobs: [], prompts: {}, knownIds: [] });
      expect(localStorage.getItem(JOBS_KEY) ?? "").not.toContain("Ada's prompt");
      // The chosen model and system prompt are Ada's too; the temperature is the browser's.
      expect(useSettings.getState()).toMatchObject({ model: "", systemPrompt: "", persona: "", temperature: 1.2 });
      expect(localStorage.getItem(SETTINGS_KEY) ?? "").not.toContain("Ada's private brief");
    };
    await useAuth.getState().init();

    await useAuth.getState().signIn("ada@example.com", "pw-pw-pw-pw");
    await fillAdasCaches();
    await useAuth.getState().signOut();
    expectForgotten();

    // Another user signing in without a sign-out first (e.g. in another tab).
    await useAuth.getState().signIn("ada@example.com", "pw-pw-pw-pw");
    await fillAdasCaches();
    loginAs = BOB;
    await useAuth.getState().signIn("bob@example.com", "pw-pw-pw-pw");
    expect(useAuth.getState().user?.id).toBe("u2");
    expectForgotten();
  });

  it("what is stored for the user (model, system prompt, drafts, job prompts) survives a reload, not a sign-in by someone else after a lapsed session", async () => {
    let refreshOk = true;
    server((c) => {
      if (c.url === "/api/v1/auth/refresh") return refreshOk ? json(tokens("A1")) : envelope(401, "UNAUTHORIZED");
      if (c.url === "/api/v1/auth/login") return json({ ...tokens("B1"), user: BOB });
    });
    localStorage.setItem(SIGNED_IN_HINT_KEY, "1");
    await useAuth.getState().init();
    useSettings.getState().set({ model: "only-for-ada", systemPrompt: "Ada's private brief", persona: "" });
    saveDraft("s-ada", "Ada's unsent words");
    useJobs.setState({ prompts: { "job-ada": ["Ada's prompt"] }, knownIds: ["job-ada"] });

    // A reload: Ada again, from the refresh cookie. What is stored is hers: kept.
    useAuth.setState({ status: "loading", user: null, accessToken: null });
    await useAuth.getState().init();
    expect(useAuth.getState().user?.id).toBe("u1");
    expect(useSettings.getState()).toMatchObject({ model: "only-for-ada", systemPrompt: "Ada's private brief", owner: "u1" });
    expect(loadDraft("s-ada")).toBe("Ada's unsent words");
    expect(useJobs.getState()).toMatchObject({ prompts: { "job-ada": ["Ada's prompt"] }, knownIds: ["job-ada"] });

    // Ada never signed out; her session lapsed. The next page load is signed out (nobody in
    // memory to compare with) and Bob signs in on the same browser.
    refreshOk = false;
    useAuth.setState({ status: "loading", user: null, accessToken: null });
    await useAuth.getState().init();
    expect(useAuth.getState().status).toBe("signed-out");
    await useAuth.getState().signIn("bob@example.com", "pw-pw-pw-pw");
    expect(useAuth.getState().user?.id).toBe("u2");
    expect(useSettings.getState()).toMatchObject({ model: "", systemPrompt: "", owner: "u2" });
    expect(localStorage.getItem(SETTINGS_KEY) ?? "").not.toContain("Ada's private brief");
    expect(loadDraft("s-ada")).toBe("");
    expect(useJobs.getState()).toMatchObject({ prompts: {}, knownIds: [] });
    expect(localStorage.getItem(JOBS_KEY) ?? "").not.toContain("Ada's prompt");
  });

  it("another user signing in stops an answer still streaming for the previous one, as a sign-out does", async () => {
    let loginAs = USER;
    server((c) => {
      if (c.url === "/api/v1/auth/login") return json({ ...tokens("T"), user: loginAs });
    });
    await useAuth.getState().init();
    await useAuth.getState().signIn("ada@example.com", "pw-pw-pw-pw");
    const stop = vi.spyOn(useChat.getState(), "stop");
    // The same user again (what a refresh answers) leaves it running.
    await useAuth.getState().signIn("ada@example.com", "pw-pw-pw-pw");
    expect(stop).not.toHaveBeenCalled();
    loginAs = BOB;
    await useAuth.getState().signIn("bob@example.com", "pw-pw-pw-pw");
    expect(stop).toHaveBeenCalledTimes(1);
    stop.mockRestore();
  });

  describe("another tab of the browser (shared cookie and storage)", () => {
    /** What another tab's sign-in or sign-out leaves in the shared storage, and the event this tab gets. */
    const otherTab = (userId: string | null) => {
      if (userId) localStorage.setItem(SIGNED_IN_HINT_KEY, userId);
      else localStorage.removeItem(SIGNED_IN_HINT_KEY);
      window.dispatchEvent(new StorageEvent("storage", { key: SIGNED_IN_HINT_KEY, newValue: userId }));
    };
    const FOLDER = { id: "f-ada", name: "Ada's secrets", session_count: 1, created_at: "2026-01-01T00:00:00Z" };
    /** The browser's refresh cookie: whoever signed in last, in any tab. */
    let cookieFor: typeof USER | null = USER;
    /** Ada signed in in this tab, with her folders loaded; the fetch calls. */
    const adaSignedIn = async () => {
      cookieFor = USER;
      const cs = server((c) => {
        if (c.url === "/api/v1/auth/login") return json({ ...tokens("A1"), user: USER });
        if (c.url === "/api/v1/auth/refresh") return cookieFor ? json({ ...tokens(`R-${cookieFor.id}`), user: cookieFor }) : envelope(401, "UNAUTHORIZED");
        if (c.url === "/api/v1/chat/folders") return json([FOLDER]);
      });
      await useAuth.getState().init();
      await useAuth.getState().signIn("ada@example.com", "pw-pw-pw-pw");
      await useFolders.getState().load();
      expect(useFolders.getState().folders).toEqual([FOLDER]);
      return cs;
    };

    it("someone else signing in there makes this tab that user, without the previous user's data", async () => {
      const cs = await adaSignedIn();
      cookieFor = BOB;
      otherTab(BOB.id);
      await until(() => useAuth.getState().user?.id === BOB.id);
      expect(useAuth.getState()).toMatchObject({ status: "signed-in", accessToken: "R-u2" });
      expect(useFolders.getState()).toMatchObject({ folders: [], status: "idle" });
      expect(calls(cs, "/api/v1/auth/refresh")).toHaveLength(1);
      // The same user again there (or this tab's own change) asks nothing more.
      otherTab(BOB.id);
      await new Promise((r) => setTimeout(r, 10));
      expect(calls(cs, "/api/v1/auth/refresh")).toHaveLength(1);
    });

    it("a sign-out there signs this tab out, says why, and forgets the user's data; a sign-in there signs it in again", async () => {
      const cs = await adaSignedIn();
      cookieFor = null;
      otherTab(null);
      expect(useAuth.getState()).toMatchObject({ status: "signed-out", user: null, accessToken: null, notice: OTHER_TAB_SIGNED_OUT });
      expect(useFolders.getState().folders).toEqual([]);
      // The other tab already ended the sign-in on the server.
      expect(calls(cs, "/api/v1/auth/logout")).toHaveLength(0);

      cookieFor = USER;
      otherTab(USER.id);
      await until(() => useAuth.getState().status === "signed-in");
      expect(useAuth.getState()).toMatchObject({ user: USER, accessToken: "R-u1" });
    });

    it("a page without accounts, or still loading, ignores the other tabs", async () => {
      const cs = server(() => undefined, { auth_mode: "off", registration: "closed" });
      otherTab(BOB.id);
      await useAuth.getState().init();
      otherTab(null);
      otherTab(BOB.id);
      expect(useAuth.getState().status).toBe("off");
      expect(calls(cs, "/api/v1/auth/refresh")).toHaveLength(0);
    });
  });

  it("refreshDelay refreshes a minute early, or a fifth early for short tokens", () => {
    expect(refreshDelay(900_000)).toBe(840_000);
    expect(refreshDelay(60_000)).toBe(48_000);
    expect(refreshDelay(0)).toBe(1000);
  });

  it("maps accounts errors to short sentences", () => {
    expect(authErrorMessage(new ApiError(401, "INVALID_CREDENTIALS", "x", "r"), "in").message).toBe("Wrong email or password.");
    expect(authErrorMessage(new ApiError(409, "CONFLICT", "x", "r"), "up")).toMatchObject({ field: "email" });
    const weak = new ApiError(422, "VALIDATION_ERROR", "Invalid request: password: too short", "r");
    weak.field = "password";
    expect(authErrorMessage(weak, "up")).toEqual({ message: "Password: too short", field: "password" });
  });
});

/** How Ada leaves the tab while her answers are on their way. */
type Leaving = "bob signs in" | "sign-out";

/**
 * The scenario of stores/session-user.ts, run once for each way of leaving: Ada signs in and
 * starts requests (`start`) whose answers the server holds back (`hold`); then Bob signs in on
 * the same tab and loads his own data (`bobLoads`), or Ada signs out; then Ada's answers arrive,
 * and `check` says what the tab shows. `route` answers the data calls: `ada` tells whose token
 * asked; an unanswered call is a 404. Toasts are cleared before each round, so `check` can say
 * that none of Ada's answers (or failures) spoke to Bob or to the sign-in page, and `calls`
 * holds every fetch made.
 */
async function lateAnswersForAda(o: {
  route: (c: Call, ada: boolean, hold: (r: Response) => Promise<Response>, leaving: Leaving) => Response | Promise<Response> | undefined;
  start: () => Promise<unknown>[];
  /** How many of Ada's answers `start` waits for (all held before she leaves). */
  held: number;
  bobLoads?: () => Promise<unknown>;
  check: (leaving: Leaving, calls: Call[]) => void;
}) {
  let loginAs = USER;
  let leaving: Leaving = "bob signs in";
  const held: (() => void)[] = [];
  const hold = (r: Response) => new Promise<Response>((resolve) => held.push(() => resolve(r)));
  const calls = server((c) => {
    if (c.url === "/api/v1/auth/login") return json({ ...tokens("T"), user: loginAs });
    if (c.url === "/api/v1/auth/logout") return new Response(null, { status: 204 });
    return o.route(c, loginAs === USER, hold, leaving);
  });
  // Uploads go through XMLHttpRequest (for their progress), answered by the same route.
  installXhr(async (_form, request) => {
    const ada = loginAs === USER;
    const r = (await o.route({ ...request, body: undefined }, ada, hold, leaving)) ?? envelope(404, "NOT_FOUND");
    const text = await r.text();
    return { status: r.status, body: text ? (JSON.parse(text) as unknown) : null };
  });
  await useAuth.getState().init();

  for (leaving of ["bob signs in", "sign-out"] as const) {
    loginAs = USER;
    await useAuth.getState().signIn("ada@example.com", "pw-pw-pw-pw");
    useToasts.setState({ toasts: [] });
    const pending = o.start();
    await until(() => held.length === o.held);
    if (leaving === "bob signs in") {
      loginAs = BOB;
      await useAuth.getState().signIn("bob@example.com", "pw-pw-pw-pw");
      await o.bobLoads?.();
    } else {
      await useAuth.getState().signOut();
    }
    // Ada's answers arrive now.
    held.splice(0).forEach((release) => release());
    await Promise.all(pending);
    o.check(leaving, calls);
  }
}

const toastTitles = () => useToasts.getState().toasts.map((t) => t.title);

describe("answers asked for the previous user (stores/session-user.ts)", () => {
  it("a folders or models answer does not land after another user signs in, or after sign-out", async () => {
    const FOLDER = { id: "f-ada", name: "Ada's secrets", session_count: 1, created_at: "2026-01-01T00:00:00Z" };
    await lateAnswersForAda({
      route: (c, ada, hold) => {
        if (c.url === "/api/v1/chat/folders") return ada ? hold(json([FOLDER])) : json([]);
        if (c.url === "/api/v1/models") return ada ? hold(json({ models: [{ id: "only-for-ada" }], default: "only-for-ada" })) : json({ models: [{ id: "for-all" }], default: "for-all" });
      },
      start: () => [useFolders.getState().load(), useModels.getState().load()],
      held: 2,
      bobLoads: () => Promise.all([useFolders.getState().load(), useModels.getState().load()]),
      check: (leaving) => {
        expect(useFolders.getState().folders).toEqual([]);
        expect(useModels.getState().models.map((m) => m.id)).not.toContain("only-for-ada");
        expect(useModels.getState().defaultModel).toBe(leaving === "bob signs in" ? "for-all" : "");
        expect(useFolders.getState().status).toBe(leaving === "bob signs in" ? "ready" : "idle");
      },
    });
  });

  it("a jobs or files list, or the poll of a running job or a file being read, does not land", async () => {
    await lateAnswersForAda({
      route: (c, ada, hold) => {
        const answer = (forAda: object, forBob: object) => (ada ? hold(json(forAda)) : json(forBob));
        if (c.url.startsWith("/api/v1/jobs?")) return answer({ jobs: [JOB], next_before: null }, { jobs: [], next_before: null });
        if (c.url === "/api/v1/jobs/job-ada") return answer(JOB, {});
        if (c.url.startsWith("/api/v1/files?")) return answer({ files: [FILE], next_before: null, used_bytes: 10 }, { files: [], next_before: null, used_bytes: 0 });
        if (c.url === "/api/v1/files/file-ada") return answer(FILE, {});
        if (c.url.startsWith("/api/v1/collections?")) return answer({ collections: [COLLECTION] }, { collections: [] });
      },
      start: () => [useJobs.getState().load(), useJobs.getState().refresh("job-ada"), useFiles.getState().load(), useFiles.getState().refresh("file-ada")],
      held: 5,
      bobLoads: () => Promise.all([useJobs.getState().load(), useFiles.getState().load()]),
      check: (leaving) => {
        const status = leaving === "bob signs in" ? "ready" : "idle";
        expect(useJobs.getState()).toMatchObject({ jobs: [], status });
        expect(useFiles.getState()).toMatchObject({ files: [], collections: [], status });
        expect(useFiles.getState().usedBytes).not.toBe(10);
      },
    });
  });

  it("a chat list or an opened chat does not land", async () => {
    const CHAT = { id: "s-ada", user_id: USER.id, title: "Ada's plans", system_prompt: null, created_at: "2026-01-01T00:00:00Z", updated_at: "2026-01-01T00:00:00Z", message_count: 1 };
    const MESSAGE = { id: "m1", session_id: CHAT.id, role: "user", content: "Ada's question", created_at: "2026-01-01T00:00:00Z" };
    await lateAnswersForAda({
      route: (c, ada, hold) => {
        if (c.url.startsWith("/api/v1/chat/sessions?")) return ada ? hold(json([CHAT])) : json([]);
        if (c.url === "/api/v1/chat/sessions/s-ada") return ada ? hold(json({ ...CHAT, messages: [MESSAGE] })) : undefined;
      },
      // The list (and its pinned chats), the archived ones, a folder's, one chat opened and one
      // read again (after an answer).
      start: () => {
        const chat = useChat.getState();
        return [chat.loadSessions(), chat.loadArchived(), chat.loadFolderSessions("f-ada"), chat.openSession("s-ada"), chat.syncSession("s-ada")];
      },
      held: 6,
      bobLoads: () => useChat.getState().loadSessions(),
      check: (leaving) => {
        expect(useChat.getState()).toMatchObject({ sessions: [], messages: {}, archivedStatus: "idle", sessionsStatus: leaving === "bob signs in" ? "ready" : "idle" });
      },
    });
  });

  // Ada's actions succeed in the first round (Bob signs in) and fail in the second (sign-out):
  // neither the result nor the failure's toast is shown to whoever is there when it arrives.
  const okThenFailing = (leaving: Leaving, ok: object) => (leaving === "bob signs in" ? json(ok) : envelope(500, "INTERNAL_ERROR"));
  const noContent = () => new Response(null, { status: 204 });

  it("a job submitted, cancelled, retried or deleted does not land, nor does its toast", async () => {
    await lateAnswersForAda({
      route: (c, ada, hold, leaving) => {
        if (!ada || c.method === "GET") return undefined;
        if (c.url === "/api/v1/jobs") return hold(okThenFailing(leaving, { ...JOB, job_id: "job-new" }));
        if (c.url === "/api/v1/jobs/job-ada/cancel") return hold(okThenFailing(leaving, { ...JOB, status: "cancelled" }));
        if (c.url === "/api/v1/jobs/job-ada/prompts/0/retry") return hold(okThenFailing(leaving, JOB));
        if (c.url === "/api/v1/jobs/job-done") return hold(leaving === "bob signs in" ? noContent() : envelope(500, "INTERNAL_ERROR"));
      },
      start: () => {
        const jobs = useJobs.getState();
        return [jobs.submit(["Ada's prompt"]), jobs.cancel("job-ada"), jobs.retryPrompt("job-ada", 0), jobs.remove("job-done")];
      },
      held: 4,
      check: () => {
        expect(useJobs.getState()).toMatchObject({ jobs: [], prompts: {}, knownIds: [] });
        expect(localStorage.getItem(JOBS_KEY) ?? "").not.toContain("Ada's prompt");
        expect(toastTitles()).toEqual([]);
      },
    });
  });

  it("an upload, a file deletion or a collection change does not land, nor does its toast", async () => {
    await lateAnswersForAda({
      route: (c, ada, hold, leaving) => {
        if (!ada || c.method === "GET") return undefined;
        const gone = () => hold(leaving === "bob signs in" ? noContent() : envelope(500, "INTERNAL_ERROR"));
        if (c.url === "/api/v1/files" && c.method === "POST") return hold(okThenFailing(leaving, { ...FILE, id: "file-new" }));
        if (c.url === "/api/v1/collections") return hold(okThenFailing(leaving, { ...COLLECTION, id: "c-new" }));
        if (c.url === "/api/v1/collections/c-ada" && c.method === "PATCH") return hold(okThenFailing(leaving, { ...COLLECTION, name: "Renamed" }));
        if (c.url === "/api/v1/collections/c-ada" && c.method === "DELETE") return gone();
        if (c.url === "/api/v1/collections/c-ada/files/file-ada") return hold(okThenFailing(leaving, COLLECTION));
        if (c.url === "/api/v1/files/file-ada") return gone();
      },
      start: () => {
        const files = useFiles.getState();
        return [
          files.upload([new File(["Ada's notes"], "ada.md")]),
          files.createCollection("Ada's new papers"),
          files.renameCollection("c-ada", "Renamed"),
          files.deleteCollection("c-ada"),
          files.setMembership("c-ada", "file-ada", true),
          files.remove("file-ada"),
        ];
      },
      held: 6,
      check: () => {
        expect(useFiles.getState()).toMatchObject({ files: [], collections: [], uploads: [] });
        expect(toastTitles()).toEqual([]);
      },
    });
  });

  it("switching an answer's version does not show the chat, nor a failure's toast", async () => {
    const SID = "s-ada";
    const CHAT = { id: SID, user_id: USER.id, title: "Ada's plans", system_prompt: null, created_at: "2026-01-01T00:00:00Z", updated_at: "2026-01-01T00:00:00Z", message_count: 3 };
    const message = (id: string) => ({ id, session_id: SID, role: "user" as const, content: `Ada's ${id}`, meta: null, created_at: "2026-01-01T00:00:00Z", parent_id: null, sibling_count: 2, sibling_index: 1 });
    await lateAnswersForAda({
      // m1: the versions lookup arrives late (the activation must not be asked for Bob);
      // m2: its activation arrives late (Ada's chat must not show). The second round fails.
      route: (c, ada, hold, leaving) => {
        if (!ada) return undefined;
        const versions = /\/messages\/(m\d)\/versions$/.exec(c.url)?.[1];
        if (versions) return versions === "m1" ? hold(json({ ids: ["m1", "m1-v2"] })) : json({ ids: [versions, `${versions}-v2`] });
        if (c.url.endsWith("/messages/m2-v2/activate")) return hold(okThenFailing(leaving, { ...CHAT, messages: [message("m2-v2")] }));
      },
      start: () => {
        useChat.setState({ sessions: [], activeId: SID, messages: { [SID]: ["m1", "m2"].map((id) => fromServer(message(id))) } });
        return [useChat.getState().switchVersion("m1", 1), useChat.getState().switchVersion("m2", 1)];
      },
      held: 2,
      check: (_leaving, calls) => {
        expect(calls.filter((c) => c.url.endsWith("/messages/m1-v2/activate"))).toEqual([]);
        expect(useChat.getState()).toMatchObject({ sessions: [], messages: {} });
        expect(toastTitles()).toEqual([]);
      },
    });
  });
});
