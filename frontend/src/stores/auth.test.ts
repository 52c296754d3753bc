import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "@/api/client";
import { api } from "@/api/endpoints";
import { authErrorMessage } from "@/components/auth/AuthPages";
import { loadDraft, saveDraft } from "@/lib/drafts";
import { type Call, json, mockFetch, until } from "@/test/fetch-mock";
import { refreshDelay, SIGNED_IN_HINT_KEY, useAuth } from "./auth";
import { useChat } from "./chat";
import { useFiles } from "./files";
import { useFolders } from "./folders";
import { JOBS_KEY, useJobs } from "./jobs";
import { useModels } from "./models";
import { DEFAULT_SETTINGS, SETTINGS_KEY, useSettings } from "./settings";
import { useSourcePanel } from "./source-panel";

const USER = { id: "u1", email: "ada@example.com", display_name: "Ada", role: "user" as const };
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
    expect(localStorage.getItem(SIGNED_IN_HINT_KEY)).toBe("1");
    await useAuth.getState().signOut();
    expect(calls(cs, "/api/v1/auth/logout")).toHaveLength(1);
    expect(useAuth.getState()).toMatchObject({ status: "signed-out", accessToken: null, user: null, notice: null });
    expect(localStorage.getItem(SIGNED_IN_HINT_KEY)).toBeNull();
  });

  it("signing out, or another user signing in, forgets the previous user's folders, chats, jobs, models and open source", async () => {
    const FOLDER = { id: "f-ada", name: "Ada's secrets", session_count: 1, created_at: "2026-01-01T00:00:00Z" };
    const BOB = { id: "u2", email: "bob@example.com", display_name: "Bob", role: "user" as const };
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

  it("the chosen model and system prompt survive a reload, not a sign-in by someone else after a lapsed session", async () => {
    const BOB = { id: "u2", email: "bob@example.com", display_name: "Bob", role: "user" as const };
    let refreshOk = true;
    server((c) => {
      if (c.url === "/api/v1/auth/refresh") return refreshOk ? json(tokens("A1")) : envelope(401, "UNAUTHORIZED");
      if (c.url === "/api/v1/auth/login") return json({ ...tokens("B1"), user: BOB });
    });
    localStorage.setItem(SIGNED_IN_HINT_KEY, "1");
    await useAuth.getState().init();
    useSettings.getState().set({ model: "only-for-ada", systemPrompt: "Ada's private brief", persona: "" });

    // A reload: Ada again, from the refresh cookie. Her settings are hers: kept.
    useAuth.setState({ status: "loading", user: null, accessToken: null });
    await useAuth.getState().init();
    expect(useAuth.getState().user?.id).toBe("u1");
    expect(useSettings.getState()).toMatchObject({ model: "only-for-ada", systemPrompt: "Ada's private brief", owner: "u1" });

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
  });

  it("drafts and saved job prompts survive a reload, not a sign-in by someone else after a lapsed session", async () => {
    const BOB = { id: "u2", email: "bob@example.com", display_name: "Bob", role: "user" as const };
    let refreshOk = true;
    server((c) => {
      if (c.url === "/api/v1/auth/refresh") return refreshOk ? json(tokens("A1")) : envelope(401, "UNAUTHORIZED");
      if (c.url === "/api/v1/auth/login") return json({ ...tokens("B1"), user: BOB });
    });
    localStorage.setItem(SIGNED_IN_HINT_KEY, "1");
    await useAuth.getState().init();
    saveDraft("s-ada", "Ada's unsent words");
    useJobs.setState({ prompts: { "job-ada": ["Ada's prompt"] }, knownIds: ["job-ada"] });

    // A reload: Ada again, from the refresh cookie. Her drafts and prompts are kept.
    useAuth.setState({ status: "loading", user: null, accessToken: null });
    await useAuth.getState().init();
    expect(useAuth.getState().user?.id).toBe("u1");
    expect(loadDraft("s-ada")).toBe("Ada's unsent words");
    expect(useJobs.getState()).toMatchObject({ prompts: { "job-ada": ["Ada's prompt"] }, knownIds: ["job-ada"] });

    // Ada's session lapsed without a sign-out; the next page load is signed out (nobody in
    // memory to compare with) and Bob signs in on the same browser.
    refreshOk = false;
    useAuth.setState({ status: "loading", user: null, accessToken: null });
    await useAuth.getState().init();
    expect(useAuth.getState().status).toBe("signed-out");
    await useAuth.getState().signIn("bob@example.com", "pw-pw-pw-pw");
    expect(useAuth.getState().user?.id).toBe("u2");
    expect(loadDraft("s-ada")).toBe("");
    expect(useJobs.getState()).toMatchObject({ prompts: {}, knownIds: [] });
    expect(localStorage.getItem(JOBS_KEY) ?? "").not.toContain("Ada's prompt");
  });

  it("a folders or models answer asked for the previous user does not land after another user signs in, or after sign-out", async () => {
    const FOLDER = { id: "f-ada", name: "Ada's secrets", session_count: 1, created_at: "2026-01-01T00:00:00Z" };
    const BOB = { id: "u2", email: "bob@example.com", display_name: "Bob", role: "user" as const };
    let loginAs = USER;
    // Ada's answers wait until released; Bob's come at once.
    const held: (() => void)[] = [];
    const later = (r: Response) => new Promise<Response>((resolve) => held.push(() => resolve(r)));
    server((c) => {
      if (c.url === "/api/v1/auth/login") return json({ ...tokens("T"), user: loginAs });
      if (c.url === "/api/v1/auth/logout") return new Response(null, { status: 204 });
      const ada = c.headers["authorization"] === "Bearer T" && loginAs === USER;
      if (c.url === "/api/v1/chat/folders") return ada ? later(json([FOLDER])) : json([]);
      if (c.url === "/api/v1/models") return ada ? later(json({ models: [{ id: "only-for-ada" }], default: "only-for-ada" })) : json({ models: [{ id: "for-all" }], default: "for-all" });
    });
    const settle = () => new Promise((r) => setTimeout(r, 0));
    await useAuth.getState().init();

    for (const next of ["bob signs in", "sign-out"] as const) {
      loginAs = USER;
      await useAuth.getState().signIn("ada@example.com", "pw-pw-pw-pw");
      const folders = useFolders.getState().load();
      const models = useModels.getState().load();
      await settle();
      expect(held).toHaveLength(2);
      if (next === "bob signs in") {
        loginAs = BOB;
        await useAuth.getState().signIn("bob@example.com", "pw-pw-pw-pw");
        await Promise.all([useFolders.getState().load(), useModels.getState().load()]);
        expect(useModels.getState().defaultModel).toBe("for-all");
      } else {
        await useAuth.getState().signOut();
      }
      // Ada's answers arrive now.
      held.splice(0).forEach((release) => release());
      await Promise.all([folders, models]);
      expect(useFolders.getState().folders).toEqual([]);
      expect(useModels.getState().models.map((m) => m.id)).not.toContain("only-for-ada");
      expect(useModels.getState().defaultModel).not.toBe("only-for-ada");
      expect(useFolders.getState().status).toBe(next === "bob signs in" ? "ready" : "idle");
    }
  });

  it("a jobs or files answer asked for the previous user does not land after another user signs in, or after sign-out", async () => {
    const BOB = { id: "u2", email: "bob@example.com", display_name: "Bob", role: "user" as const };
    const JOB = { job_id: "job-ada", name: "Ada's batch", status: "running", created_at: "2026-01-01T00:00:00Z", completed_at: null, total_prompts: 1, completed_prompts: 0, results: [], error: null };
    const FILE = { id: "file-ada", filename: "ada-diary.md", content_type: "text/markdown", kind: "markdown", size_bytes: 10, sha256: "00", status: "pending", chunk_count: 0, created_at: "2026-01-01T00:00:00Z", updated_at: "2026-01-01T00:00:00Z" };
    const COLLECTION = { id: "c-ada", name: "Ada's papers", description: "", file_ids: [FILE.id], created_at: "", updated_at: "" };
    let loginAs = USER;
    // Ada's answers wait until released; Bob's come at once.
    const held: (() => void)[] = [];
    const later = (r: Response) => new Promise<Response>((resolve) => held.push(() => resolve(r)));
    server((c) => {
      if (c.url === "/api/v1/auth/login") return json({ ...tokens("T"), user: loginAs });
      if (c.url === "/api/v1/auth/logout") return new Response(null, { status: 204 });
      const ada = loginAs === USER;
      const answer = (forAda: object, forBob: object) => (ada ? later(json(forAda)) : json(forBob));
      if (c.url.startsWith("/api/v1/jobs?")) return answer({ jobs: [JOB], next_before: null }, { jobs: [], next_before: null });
      if (c.url === "/api/v1/jobs/job-ada") return answer(JOB, {});
      if (c.url.startsWith("/api/v1/files?")) return answer({ files: [FILE], next_before: null, used_bytes: 10 }, { files: [], next_before: null, used_bytes: 0 });
      if (c.url === "/api/v1/files/file-ada") return answer(FILE, {});
      if (c.url.startsWith("/api/v1/collections?")) return answer({ collections: [COLLECTION] }, { collections: [] });
    });
    await useAuth.getState().init();

    for (const next of ["bob signs in", "sign-out"] as const) {
      loginAs = USER;
      await useAuth.getState().signIn("ada@example.com", "pw-pw-pw-pw");
      // Lists, and the polls of a running job and of a file being read.
      const pending = [useJobs.getState().load(), useJobs.getState().refresh("job-ada"), useFiles.getState().load(), useFiles.getState().refresh("file-ada")];
      await until(() => held.length === 5);
      if (next === "bob signs in") {
        loginAs = BOB;
        await useAuth.getState().signIn("bob@example.com", "pw-pw-pw-pw");
        await Promise.all([useJobs.getState().load(), useFiles.getState().load()]);
      } else {
        await useAuth.getState().signOut();
      }
      // Ada's answers arrive now.
      held.splice(0).forEach((release) => release());
      await Promise.all(pending);
      const status = next === "bob signs in" ? "ready" : "idle";
      expect(useJobs.getState()).toMatchObject({ jobs: [], status });
      expect(useFiles.getState()).toMatchObject({ files: [], collections: [], status });
      expect(useFiles.getState().usedBytes).not.toBe(10);
    }
  });

  it("a chat list or an opened chat asked for the previous user does not land after another user signs in, or after sign-out", async () => {
    const BOB = { id: "u2", email: "bob@example.com", display_name: "Bob", role: "user" as const };
    const CHAT = { id: "s-ada", user_id: USER.id, title: "Ada's plans", system_prompt: null, created_at: "2026-01-01T00:00:00Z", updated_at: "2026-01-01T00:00:00Z", message_count: 1 };
    const MESSAGE = { id: "m1", session_id: CHAT.id, role: "user", content: "Ada's question", created_at: "2026-01-01T00:00:00Z" };
    let loginAs = USER;
    // Ada's answers wait until released; Bob's come at once.
    const held: (() => void)[] = [];
    const later = (r: Response) => new Promise<Response>((resolve) => held.push(() => resolve(r)));
    server((c) => {
      if (c.url === "/api/v1/auth/login") return json({ ...tokens("T"), user: loginAs });
      if (c.url === "/api/v1/auth/logout") return new Response(null, { status: 204 });
      const ada = loginAs === USER;
      if (c.url.startsWith("/api/v1/chat/sessions?")) return ada ? later(json([CHAT])) : json([]);
      if (c.url === "/api/v1/chat/sessions/s-ada") return ada ? later(json({ ...CHAT, messages: [MESSAGE] })) : undefined;
    });
    await useAuth.getState().init();

    for (const next of ["bob signs in", "sign-out"] as const) {
      loginAs = USER;
      await useAuth.getState().signIn("ada@example.com", "pw-pw-pw-pw");
      // The list (and its pinned chats), the archived ones, a folder's, one chat opened and one
      // read again (after an answer).
      const chat = useChat.getState();
      const pending = [chat.loadSessions(), chat.loadArchived(), chat.loadFolderSessions("f-ada"), chat.openSession("s-ada"), chat.syncSession("s-ada")];
      await until(() => held.length === 6);
      if (next === "bob signs in") {
        loginAs = BOB;
        await useAuth.getState().signIn("bob@example.com", "pw-pw-pw-pw");
        await useChat.getState().loadSessions();
      } else {
        await useAuth.getState().signOut();
      }
      // Ada's answers arrive now.
      held.splice(0).forEach((release) => release());
      await Promise.all(pending);
      expect(useChat.getState()).toMatchObject({ sessions: [], messages: {}, archivedStatus: "idle", sessionsStatus: next === "bob signs in" ? "ready" : "idle" });
    }
  });

  it("another user signing in stops an answer still streaming for the previous one, as a sign-out does", async () => {
    const BOB = { id: "u2", email: "bob@example.com", display_name: "Bob", role: "user" as const };
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
