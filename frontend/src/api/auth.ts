/**
 * Accounts routes under /api/v1/auth. Hand-written shapes: derive them from schema.gen.ts
 * once the gateway's OpenAPI document describes these routes.
 */
import { errorFromResponse, rawRequest, request } from "./client";
import { documentedRoute } from "./endpoints";

const AUTH = "/api/v1/auth";

export type AuthMode = "jwt" | "off";

export interface AuthConfig {
  auth_mode: AuthMode;
  registration: "open" | "closed";
}

export interface AuthUser {
  id: string;
  email: string;
  display_name: string | null;
  role: "admin" | "user";
  created_at?: string;
}

export interface TokenResponse {
  access_token: string;
  refresh_token: string;
  token_type: "bearer";
  /** Seconds until the access token expires. */
  expires_in: number;
  user: AuthUser;
}

export interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  created_at: string;
  last_used_at: string | null;
}

/** Only the answer to creating a key carries the key itself, once. */
export interface NewApiKey extends ApiKey {
  key: string;
}

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
  login: (body: { email: string; password: string }) =>
    request<TokenResponse>(`${AUTH}/login`, { method: "POST", body, anonymous: true }),
  register: (body: { email: string; password: string; display_name?: string }) =>
    request<TokenResponse>(`${AUTH}/register`, { method: "POST", body, anonymous: true }),
  /** Without a token the httpOnly `sable_refresh` cookie is used (and rotated). */
  refresh: (refreshToken?: string) =>
    request<TokenResponse>(`${AUTH}/refresh`, {
      method: "POST",
      body: refreshToken ? { refresh_token: refreshToken } : {},
      anonymous: true,
    }),
  logout: () => request<void>(`${AUTH}/logout`, { method: "POST", body: {}, anonymous: true }),
  me: () => request<AuthUser>(`${AUTH}/me`),
  listKeys: () => request<ApiKey[]>(`${AUTH}/keys`),
  createKey: (name: string) => request<NewApiKey>(`${AUTH}/keys`, { method: "POST", body: { name } }),
  revokeKey: (id: string) => request<void>(`${AUTH}/keys/${encodeURIComponent(id)}`, { method: "DELETE" }),
};
