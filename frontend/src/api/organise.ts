/** Folders of chats and share links (issue 25.11, 25.13): their gateway routes. */
import { request } from "./client";
import type { components } from "./schema.gen";
import type { ChatSessionOut, JsonObject } from "./types";

type S = components["schemas"];
export type FolderOut = S["FolderOut"];
export type FolderCreate = S["FolderCreate"];
export type FolderUpdate = S["FolderUpdate"];
export type ShareCreated = S["ShareCreated"];
export type ShareStatus = S["ShareStatus"];
/** `meta` is free-form JSON (the reader's part of the owner's). */
export type SharedMessage = Omit<S["SharedMessage"], "meta"> & { meta?: JsonObject | null };
export type SharedChat = Omit<S["SharedChat"], "messages"> & { messages: SharedMessage[] };

const V1 = "/api/v1";
const enc = encodeURIComponent;

export const folderApi = {
  list: () => request<FolderOut[]>(`${V1}/chat/folders`),
  create: (body: FolderCreate) => request<FolderOut>(`${V1}/chat/folders`, { method: "POST", body }),
  update: (id: string, body: FolderUpdate) => request<FolderOut>(`${V1}/chat/folders/${enc(id)}`, { method: "PATCH", body }),
  remove: (id: string) => request<void>(`${V1}/chat/folders/${enc(id)}`, { method: "DELETE" }),
};

export const shareApi = {
  status: (sessionId: string) => request<ShareStatus>(`${V1}/chat/sessions/${enc(sessionId)}/share`),
  create: (sessionId: string) => request<ShareCreated>(`${V1}/chat/sessions/${enc(sessionId)}/share`, { method: "POST", body: {} }),
  revoke: (sessionId: string) => request<void>(`${V1}/chat/sessions/${enc(sessionId)}/share`, { method: "DELETE" }),
  /** Without credentials: the token is the reader's only key. */
  read: (token: string) => request<SharedChat>(`${V1}/shared/${enc(token)}`, { anonymous: true }),
  copy: (token: string) => request<ChatSessionOut>(`${V1}/shared/${enc(token)}/copy`, { method: "POST", body: {} }),
};

/** The full address of a share link (the API gives it relative to the site). */
export function shareLink(url: string): string {
  return new URL(url, window.location.origin).toString();
}
