/**
 * Folders of chats (issue 25.13): the caller's folders, which ones are collapsed (remembered
 * in localStorage, per browser), and the folder the next new chat goes in. Which chat is in
 * which folder is the session's `folder_id` (moved through the chat store).
 */
import { create } from "zustand";
import { folderApi, type FolderOut } from "@/api/organise";
import type { ChatSessionCreate } from "@/api/types";
import { requestedFor, stillFor } from "./session-user";
import { toastError } from "./toasts";

const COLLAPSED_KEY = "sable-folders-collapsed";

function storage(): Storage | null {
  try {
    return typeof localStorage === "undefined" ? null : localStorage;
  } catch {
    return null; // storage disabled: collapsing lasts as long as the page
  }
}

function loadCollapsed(): string[] {
  try {
    const raw: unknown = JSON.parse(storage()?.getItem(COLLAPSED_KEY) ?? "[]");
    return Array.isArray(raw) ? raw.filter((x): x is string => typeof x === "string") : [];
  } catch {
    return [];
  }
}

interface FoldersState {
  folders: FolderOut[];
  status: "idle" | "loading" | "ready" | "error";
  collapsed: string[];
  /** The folder a new chat (not yet sent) is created in. */
  draftFolderId: string | null;
  load: () => Promise<void>;
  create: (name: string) => Promise<FolderOut | null>;
  update: (id: string, patch: { name?: string; system_prompt?: string; model?: string }) => Promise<boolean>;
  remove: (id: string) => Promise<boolean>;
  toggle: (id: string) => void;
  setDraftFolder: (id: string | null) => void;
  /** Adds `folder_id` (and the folder's defaults) to the body that creates a new chat. */
  newChatBody: (body: ChatSessionCreate) => ChatSessionCreate;
}

const byName = (a: FolderOut, b: FolderOut) => a.name.localeCompare(b.name, undefined, { sensitivity: "base" });

export const useFolders = create<FoldersState>()((set, get) => ({
  folders: [],
  status: "idle",
  collapsed: loadCollapsed(),
  draftFolderId: null,

  // Each answer is kept only while the user it was asked for is still signed in: after a
  // sign-out or another user's sign-in (the stores are reset) it belongs to nobody on screen.
  load: async () => {
    set({ status: "loading" });
    const user = requestedFor();
    try {
      const folders = await folderApi.list();
      if (stillFor(user)) set({ folders, status: "ready" });
    } catch {
      // A gateway without folders (or offline): the sidebar just shows none.
      if (stillFor(user)) set({ status: "error" });
    }
  },

  create: async (raw) => {
    const name = raw.trim();
    if (!name) return null;
    const user = requestedFor();
    try {
      const folder = await folderApi.create({ name });
      if (!stillFor(user)) return null;
      set((s) => ({ folders: [...s.folders, folder].sort(byName) }));
      return folder;
    } catch (e) {
      toastError("Could not create the folder", e);
      return null;
    }
  },

  update: async (id, patch) => {
    try {
      const folder = await folderApi.update(id, patch);
      set((s) => ({ folders: s.folders.map((f) => (f.id === id ? folder : f)).sort(byName) }));
      return true;
    } catch (e) {
      toastError("Could not change the folder", e);
      return false;
    }
  },

  remove: async (id) => {
    try {
      await folderApi.remove(id);
      set((s) => ({
        folders: s.folders.filter((f) => f.id !== id),
        draftFolderId: s.draftFolderId === id ? null : s.draftFolderId,
      }));
      return true;
    } catch (e) {
      toastError("Could not delete the folder", e);
      return false;
    }
  },

  toggle: (id) => {
    const collapsed = get().collapsed.includes(id) ? get().collapsed.filter((x) => x !== id) : [...get().collapsed, id];
    set({ collapsed });
    try {
      storage()?.setItem(COLLAPSED_KEY, JSON.stringify(collapsed));
    } catch {
      /* quota: remembered for this page only */
    }
  },

  setDraftFolder: (id) => set({ draftFolderId: id }),

  newChatBody: (body) => {
    const folder = get().folders.find((f) => f.id === get().draftFolderId);
    if (!folder) return body;
    // The folder's defaults win over the global settings for chats started in it.
    return {
      ...body,
      folder_id: folder.id,
      ...(folder.system_prompt ? { system_prompt: folder.system_prompt } : {}),
      ...(folder.model ? { model: folder.model } : {}),
    };
  },
}));
