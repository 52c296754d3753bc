/**
 * Accounts. The access token lives in memory only; a page load gets one from the httpOnly
 * refresh cookie (POST /auth/refresh with `{}`), and it is refreshed silently shortly before
 * it expires. Every API call carries it (hooks installed into api/client); a 401 triggers one
 * refresh-and-retry, then sign-in. With `auth_mode: "off"` (or a gateway without accounts)
 * nothing changes: no header, no sign-in.
 */
import { create } from "zustand";
import { type AuthConfig, type AuthUser, authApi, OFF_CONFIG, type TokenResponse } from "@/api/auth";
import { ApiError, setAuthHooks } from "@/api/client";
import { draftsForUser } from "@/lib/drafts";
import { emptyChatData, useChat } from "./chat";
import { useLimits } from "./limits";
import { useFiles } from "./files";
import { useFolders } from "./folders";
import { useJobs } from "./jobs";
import { useModels } from "./models";
import { setSessionUser } from "./session-user";
import { useSettings } from "./settings";
import { useSourcePanel } from "./source-panel";

/**
 * Set while this browser is signed in, so a first visit does not try (and 401) a refresh. It
 * holds the signed-in user's id, so that other tabs can follow a sign-in or sign-out
 * (followOtherTabs).
 */
export const SIGNED_IN_HINT_KEY = "sable-signed-in";
/** Shown on the sign-in form of a tab that followed a sign-out made in another tab. */
export const OTHER_TAB_SIGNED_OUT = "You were signed out in another tab.";
/** Retry a refresh that failed for transient reasons after this long (the token stays). */
const RETRY_MS = 10_000;
const CONFIG_ATTEMPTS = 3;
const INIT_REFRESH_ATTEMPTS = 3;
const MAX_INIT_WAIT_MS = 15_000;

type RefreshResult = { token: string } | { token: null; transient: boolean; retryMs: number };

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export type AuthStatus = "loading" | "off" | "signed-out" | "signed-in";

export interface AuthState {
  status: AuthStatus;
  config: AuthConfig | null;
  user: AuthUser | null;
  accessToken: string | null;
  /** Epoch ms when the access token expires. */
  expiresAt: number | null;
  /** Why the user was sent to sign-in (session expired), shown on the form. */
  notice: string | null;

  init: () => Promise<void>;
  signIn: (email: string, password: string) => Promise<void>;
  signUp: (email: string, password: string, displayName?: string) => Promise<void>;
  signOut: () => Promise<void>;
  /** Gets a new access token from the refresh cookie; null when that failed. Single-flight. */
  refresh: () => Promise<string | null>;
  /** Drops the session locally (a 401 that a refresh could not cure), with a notice for sign-in. */
  expire: (notice: string) => void;
}

/** When to refresh a token that lives `expiresInMs`: a minute early, or a fifth early when short-lived. */
export function refreshDelay(expiresInMs: number): number {
  const lead = Math.min(60_000, expiresInMs / 5);
  return Math.max(1000, expiresInMs - lead);
}

let timer: ReturnType<typeof setTimeout> | undefined;
let inflight: Promise<RefreshResult> | null = null;

function schedule(ms: number) {
  clearTimeout(timer);
  timer = setTimeout(() => void useAuth.getState().refresh(), ms);
}

function hint(userId: string | null) {
  try {
    if (userId) localStorage.setItem(SIGNED_IN_HINT_KEY, userId);
    else localStorage.removeItem(SIGNED_IN_HINT_KEY);
  } catch {
    /* storage unavailable */
  }
}

/** The hinted user's id (earlier versions stored "1"); null when signed out here. */
function hintedUser(): string | null {
  try {
    return localStorage.getItem(SIGNED_IN_HINT_KEY);
  } catch {
    return null;
  }
}

/**
 * Refresh tokens are single-use and a reused one revokes the whole sign-in, so tabs of the same
 * browser must not refresh at the same moment with the same cookie: a Web Lock serializes them
 * (the tab that waits then sends the already rotated cookie).
 */
async function refreshExclusively(): Promise<TokenResponse> {
  const locks = typeof navigator !== "undefined" ? navigator.locks : undefined;
  if (!locks) return authApi.refresh();
  return await locks.request("sable-auth-refresh", () => authApi.refresh());
}

/**
 * Forgets everything cached in memory for the previous user: every store that holds their data
 * (chats, folders, jobs, files and collections, an open source, and the models, which an admin
 * may limit per account). Browser preferences stay (theme, temperature, collapsed folders, the
 * sidebar), as do the server's limits (the same for everyone); what is stored for the user
 * beyond a reload is keepStoredUserDataFor's.
 */
function resetUserCaches() {
  useChat.setState(emptyChatData());
  useFolders.setState({ folders: [], status: "idle", draftFolderId: null });
  useJobs.setState({ jobs: [], status: "idle", nextBefore: null });
  useFiles.setState({ files: [], collections: [], uploads: [], status: "idle", nextBefore: null, usedBytes: null });
  useSourcePanel.setState({ source: null });
  useModels.setState({ models: [], defaultModel: "", fallbackModel: "", status: "idle" });
}

/**
 * What this browser keeps for the user beyond a reload (drafts, submitted job prompts, the chosen
 * model and system prompt) stays for `userId` and is forgotten when it was someone else's (or
 * nobody's). Each records its owner, so a sign-in by B after A's session lapsed without a
 * sign-out (nobody in memory to compare with) still forgets A's; a reload by A keeps them.
 */
function keepStoredUserDataFor(userId: string | null) {
  draftsForUser(userId);
  useJobs.getState().forUser(userId);
  useSettings.getState().forUser(userId);
}

export const useAuth = create<AuthState>()((set, get) => {
  const accept = (t: TokenResponse) => {
    const previous = get().user?.id;
    setSessionUser(t.user.id);
    if (previous !== t.user.id) {
      // An answer still streaming for the previous user (another tab signed in as someone
      // else; this one's refresh got their token) stops, as on a sign-out.
      if (previous) useChat.getState().stop();
      resetUserCaches();
    }
    keepStoredUserDataFor(t.user.id);
    const ms = Math.max(0, t.expires_in * 1000);
    set({ status: "signed-in", user: t.user, accessToken: t.access_token, expiresAt: Date.now() + ms, notice: null });
    hint(t.user.id);
    schedule(refreshDelay(ms));
  };

  const signedOut = (notice: string | null = null) => {
    clearTimeout(timer);
    const wasSignedIn = get().status === "signed-in";
    set({ status: "signed-out", user: null, accessToken: null, expiresAt: null, notice });
    setSessionUser(null);
    hint(null);
    if (wasSignedIn) {
      useChat.getState().stop();
      resetUserCaches();
      keepStoredUserDataFor(null);
    }
  };

  /**
   * One refresh, shared by concurrent callers. A refused refresh token (401 and other 4xx)
   * signs out; rate limiting (429), server errors and network trouble are transient: the
   * session is kept while its token lasts and the refresh is tried again.
   */
  const attemptRefresh = (): Promise<RefreshResult> => {
    if (get().config?.auth_mode !== "jwt") return Promise.resolve({ token: null, transient: false, retryMs: 0 });
    inflight ??= refreshExclusively()
      .then((t): RefreshResult => {
        accept(t);
        return { token: t.access_token };
      })
      .catch((e: unknown): RefreshResult => {
        const transient = !(e instanceof ApiError) || e.status === 429 || e.status >= 500;
        const retryMs = e instanceof ApiError && e.retryAfterMs !== undefined ? e.retryAfterMs : RETRY_MS;
        if (!transient) {
          // The refresh cookie is missing, expired or revoked: sign in again.
          signedOut(get().status === "signed-in" ? "Your session has ended. Please sign in again." : null);
        } else if (get().status === "signed-in") {
          schedule(retryMs); // keep the token while it lasts and try again
        }
        return { token: null, transient, retryMs };
      })
      .finally(() => {
        inflight = null;
      });
    return inflight;
  };

  return {
    status: "loading",
    config: null,
    user: null,
    accessToken: null,
    expiresAt: null,
    notice: null,

    init: async () => {
      let config: AuthConfig | null = null;
      for (let attempt = 0; attempt < CONFIG_ATTEMPTS && !config; attempt++) {
        if (attempt > 0) await sleep(1000 * 2 ** (attempt - 1));
        config = await authApi.config().catch(() => null);
      }
      // Gateway unreachable: behave as without accounts (the offline banner explains).
      config ??= OFF_CONFIG;
      set({ config });
      useLimits.setState({ limits: config.limits ?? null });
      if (config.auth_mode !== "jwt") {
        set({ status: "off" });
        return;
      }
      if (hintedUser() !== null) {
        // A busy server (429) or a network hiccup delays the start instead of signing out.
        for (let attempt = 0; attempt < INIT_REFRESH_ATTEMPTS; attempt++) {
          const r = await attemptRefresh();
          if (r.token !== null || !r.transient) break;
          if (attempt + 1 < INIT_REFRESH_ATTEMPTS) await sleep(Math.min(r.retryMs, MAX_INIT_WAIT_MS));
        }
      }
      if (get().status !== "signed-in") signedOut();
    },

    signIn: async (email, password) => {
      accept(await authApi.login({ email, password }));
    },

    signUp: async (email, password, displayName) => {
      const name = displayName?.trim();
      const answer = await authApi.register({ email, password, ...(name ? { display_name: name } : {}) });
      // The default answer carries no tokens (it must not tell whether the email was taken).
      accept("access_token" in answer ? answer : await authApi.login({ email, password }));
    },

    signOut: async () => {
      try {
        await authApi.logout();
      } catch {
        /* the cookie may already be gone; sign out locally regardless */
      }
      signedOut();
    },

    refresh: async () => (await attemptRefresh()).token,

    expire: (notice) => {
      if (get().config?.auth_mode === "jwt" && get().status === "signed-in") signedOut(notice);
    },
  };
});

/**
 * Tabs of one browser share the refresh cookie, so they share one sign-in; a tab follows what
 * another did to it (the storage event fires in the other tabs only). Signed out there: this
 * tab signs out too, saying why. Someone else signed in there (or anyone, while this tab was
 * signed out): this tab refreshes from the cookie, which now carries that sign-in, and becomes
 * that user, its stores reset by accept() — so it never shows one user's data under another's
 * name, and never acts for the previous user with a token it still holds.
 */
function followOtherTabs(e: StorageEvent) {
  // A null key: the other tab cleared the whole storage.
  if (e.key !== SIGNED_IN_HINT_KEY && e.key !== null) return;
  const { status, user, config } = useAuth.getState();
  if (config?.auth_mode !== "jwt" || status === "loading") return;
  const signedInThere = hintedUser();
  if (signedInThere === null) useAuth.getState().expire(OTHER_TAB_SIGNED_OUT);
  else if (status !== "signed-in" || signedInThere !== user?.id) void useAuth.getState().refresh();
}

if (typeof window !== "undefined") window.addEventListener("storage", followOtherTabs);

setAuthHooks({
  token: () => useAuth.getState().accessToken,
  refresh: () => useAuth.getState().refresh(),
  unauthorized: () => useAuth.getState().expire("Your session has ended. Please sign in again."),
});
