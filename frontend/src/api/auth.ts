/** Accounts routes under /api/v1/auth; shapes derived from the generated schema. */
import { errorFromResponse, rawRequest, request } from "./client";
import { documentedRoute } from "./endpoints";
import type { components } from "./schema.gen";

type S = components["schemas"];
const AUTH = "/api/v1/auth";

export type AuthMode = S["AuthMode"];
/** `limits` is absent from gateways older than it. */
export type AuthConfig = Omit<S["AuthConfigOut"], "limits"> & { limits?: S["LimitsOut"] };
/**
 * An account. The gateway's document names both the account role and the chat-turn role
 * "Role", so it describes `role` with the chat enum; the account role is admin | user.
 */
export type AuthUser = Omit<S["User"], "role"> & { role: "admin" | "user" };
/** `expires_in`: seconds until the access token expires. */
export type TokenResponse = Omit<S["TokenResponse"], "user"> & { user: AuthUser };
export type ApiKey = S["ApiKey"];
/** Only the answer to creating a key carries the key itself, once. */
export type NewApiKey = S["ApiKeyCreated"];
/** One signed-in device; `current` is the one of this page's token. */
export type SignIn = S["SignIn"];
type RegisterRequest = S["RegisterRequest"];
export type AdminUserCreate = S["AdminUserCreate"];
/** A one-time password reset link (`url` is relative to this site), shown once. */
export type ResetLink = S["ResetLink"];
type LoginRequest = S["LoginRequest"];

export const OFF_CONFIG: AuthConfig = { auth_mode: "off", registration: "closed" };

export const authApi = {
  /**
   * The gateway's accounts configuration. A gateway without accounts (no such route in its
   * OpenAPI document, or 404) runs without sign-in.
   */
  async config(): Promise<AuthConfig> {
    if ((await documentedRoute(`${AUTH}/config`)) === false) return OFF_CONFIG;
    const res = await rawRequest(`${AUTH}/config`, { anonymous: true, timeoutMs: 10_000 });
    if (res.status === 404 || res.status === 405) return OFF_CONFIG;
    if (!res.ok) throw await errorFromResponse(res);
    return (await res.json()) as AuthConfig;
  },
  login: (body: LoginRequest) =>
    request<TokenResponse>(`${AUTH}/login`, { method: "POST", body, anonymous: true }),
  /**
   * A server that does not reveal accounts (the default) answers 202 without tokens, the same
   * for a new and a taken email: sign in next. `REGISTRATION_REVEALS_ACCOUNTS=true` answers
   * 201 with tokens.
   */
  register: (body: RegisterRequest) =>
    request<TokenResponse | S["RegisterAccepted"]>(`${AUTH}/register`, {
      method: "POST",
      body,
      anonymous: true,
    }),
  /**
   * Without a token the httpOnly `sable_refresh` cookie is used (and rotated). keepalive: a
   * reload while the refresh is in flight must not drop the answer, or the browser would keep
   * the already used cookie and the next refresh would count as a reuse (revoking the sign-in).
   */
  refresh: (refreshToken?: string) =>
    request<TokenResponse>(`${AUTH}/refresh`, {
      method: "POST",
      body: refreshToken ? { refresh_token: refreshToken } : {},
      anonymous: true,
      keepalive: true,
    }),
  logout: () => request<void>(`${AUTH}/logout`, { method: "POST", body: {}, anonymous: true }),
  me: () => request<AuthUser>(`${AUTH}/me`),
  listKeys: () => request<ApiKey[]>(`${AUTH}/keys`),
  createKey: (name: string) => request<NewApiKey>(`${AUTH}/keys`, { method: "POST", body: { name } }),
  revokeKey: (id: string) => request<void>(`${AUTH}/keys/${encodeURIComponent(id)}`, { method: "DELETE" }),
  updateProfile: (displayName: string) =>
    request<AuthUser>(`${AUTH}/me`, { method: "PATCH", body: { display_name: displayName.trim() || null } }),
  changePassword: (currentPassword: string, newPassword: string) =>
    request<void>(`${AUTH}/password`, {
      method: "POST",
      body: { current_password: currentPassword, new_password: newPassword },
    }),
  listSignIns: () => request<SignIn[]>(`${AUTH}/sessions`),
  revokeSignIn: (id: string) => request<void>(`${AUTH}/sessions/${encodeURIComponent(id)}`, { method: "DELETE" }),
  logoutAll: () => request<void>(`${AUTH}/logout-all`, { method: "POST" }),
  /** Everything of mine, as the JSON document the server builds (large: no short timeout). */
  exportData: () => request<unknown>(`${AUTH}/export`, { timeoutMs: 120_000 }),
  deleteAccount: (password: string) => request<void>(`${AUTH}/me`, { method: "DELETE", body: { password } }),
  resetPassword: (token: string, newPassword: string) =>
    request<void>(`${AUTH}/password-reset`, {
      method: "POST",
      body: { token, new_password: newPassword },
      anonymous: true,
    }),
};

/** Accounts as an administrator sees them (`/api/v1/admin/users`); others get 403. */
export const adminUsersApi = {
  list: () => request<AuthUser[]>("/api/v1/admin/users"),
  create: (body: AdminUserCreate) => request<AuthUser>("/api/v1/admin/users", { method: "POST", body }),
  disable: (id: string) => request<AuthUser>(`/api/v1/admin/users/${encodeURIComponent(id)}/disable`, { method: "POST", body: {} }),
  enable: (id: string) => request<AuthUser>(`/api/v1/admin/users/${encodeURIComponent(id)}/enable`, { method: "POST", body: {} }),
  resetLink: (id: string) =>
    request<ResetLink>(`/api/v1/admin/users/${encodeURIComponent(id)}/password-reset`, { method: "POST", body: {} }),
};
