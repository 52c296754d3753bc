/**
 * Files and collections. The server owns them (the worker ingests each file); this store caches
 * the lists, tracks uploads in flight with their progress, and re-reads files that are still
 * being ingested (useFilePoll) until they are ready or failed.
 */
import { create } from "zustand";
import { api } from "@/api/endpoints";
import type { CollectionOut, FileOut } from "@/api/types";
import { isIngesting, uploadErrorText, upsertFile } from "@/lib/files";
import { requestedFor, stillFor } from "./session-user";
import { toast, toastError } from "./toasts";

export interface Upload {
  /** Local key (the file has no server id until the upload answers). */
  key: string;
  name: string;
  size: number;
  loaded: number;
  total: number;
  state: "uploading" | "failed";
  error?: string;
}

interface FilesState {
  files: FileOut[];
  collections: CollectionOut[];
  uploads: Upload[];
  status: "idle" | "loading" | "ready" | "error";
  nextBefore: string | null;
  usedBytes: number | null;
  load: () => Promise<void>;
  loadMore: () => Promise<void>;
  /** Uploads each file on its own request; resolves with the stored records (failed ones left out). */
  upload: (files: File[]) => Promise<FileOut[]>;
  dismissUpload: (key: string) => void;
  refresh: (id: string) => Promise<void>;
  refreshIngesting: () => Promise<void>;
  remove: (id: string) => Promise<boolean>;
  createCollection: (name: string, fileIds?: string[]) => Promise<CollectionOut | null>;
  renameCollection: (id: string, name: string) => Promise<boolean>;
  deleteCollection: (id: string) => Promise<boolean>;
  setMembership: (collectionId: string, fileId: string, member: boolean) => Promise<boolean>;
}

let uploadSeq = 0;

function replaceCollection(list: CollectionOut[], c: CollectionOut): CollectionOut[] {
  return list.some((x) => x.id === c.id) ? list.map((x) => (x.id === c.id ? c : x)) : [...list, c];
}

// Each answer is kept only while the user it was asked for is still signed in (requestedFor before
// the request, stillFor after): after a sign-out or another user's sign-in (the stores are reset)
// it belongs to nobody on screen, and neither does its toast (success or failure). A deletion's
// success needs no guard: dropping an id from the next user's lists changes nothing.
export const useFiles = create<FilesState>()((set, get) => {
  const patchUpload = (key: string, patch: Partial<Upload>) =>
    set((s) => ({ uploads: s.uploads.map((u) => (u.key === key ? { ...u, ...patch } : u)) }));

  const uploadOne = async (file: File): Promise<FileOut | null> => {
    const key = `u${++uploadSeq}`;
    set((s) => ({ uploads: [...s.uploads, { key, name: file.name, size: file.size, loaded: 0, total: file.size, state: "uploading" }] }));
    const user = requestedFor();
    try {
      const stored = await api.uploadFile(file, { onProgress: (loaded, total) => patchUpload(key, { loaded, total: total || file.size }) });
      if (!stillFor(user)) return null;
      set((s) => ({
        uploads: s.uploads.filter((u) => u.key !== key),
        files: upsertFile(s.files, stored),
        // The same bytes again are stored once (the server answers the existing record).
        usedBytes: s.usedBytes !== null && !stored.duplicate ? s.usedBytes + stored.size_bytes : s.usedBytes,
      }));
      if (stored.duplicate) toast.info("Already uploaded", `${file.name} is the same as ${stored.filename}.`);
      return stored;
    } catch (e) {
      if (stillFor(user)) patchUpload(key, { state: "failed", error: uploadErrorText(e) });
      return null;
    }
  };

  return {
    files: [],
    collections: [],
    uploads: [],
    status: "idle",
    nextBefore: null,
    usedBytes: null,

    load: async () => {
      set({ status: "loading" });
      const user = requestedFor();
      try {
        const [page, cols] = await Promise.all([api.listFiles(50), api.listCollections(200)]);
        if (!stillFor(user)) return;
        set({
          files: page.files,
          nextBefore: page.next_before ?? null,
          usedBytes: page.used_bytes,
          collections: cols.collections,
          status: "ready",
        });
      } catch (e) {
        if (!stillFor(user)) return;
        set({ status: "error" });
        toastError("Could not load files", e);
      }
    },

    loadMore: async () => {
      const before = get().nextBefore;
      if (!before) return;
      const user = requestedFor();
      try {
        const page = await api.listFiles(50, before);
        if (!stillFor(user)) return;
        set((s) => ({ files: page.files.reduce(upsertFile, s.files), nextBefore: page.next_before ?? null }));
      } catch (e) {
        if (stillFor(user)) toastError("Could not load more files", e);
      }
    },

    upload: async (files) => {
      const stored = await Promise.all(files.map(uploadOne));
      return stored.filter((f): f is FileOut => f !== null);
    },

    dismissUpload: (key) => set((s) => ({ uploads: s.uploads.filter((u) => u.key !== key) })),

    refresh: async (id) => {
      const user = requestedFor();
      try {
        const file = await api.getFile(id);
        if (!stillFor(user)) return;
        const prev = get().files.find((f) => f.id === id);
        set((s) => ({ files: upsertFile(s.files, file) }));
        if (prev && isIngesting(prev) && file.status === "failed") toast.error(`${file.filename} could not be read`, file.error ?? undefined);
      } catch {
        /* transient (or deleted elsewhere): the next poll or load settles it */
      }
    },

    refreshIngesting: async () => {
      await Promise.all(get().files.filter(isIngesting).map((f) => get().refresh(f.id)));
    },

    remove: async (id) => {
      const user = requestedFor();
      try {
        await api.deleteFile(id);
        set((s) => ({
          files: s.files.filter((f) => f.id !== id),
          usedBytes: s.usedBytes !== null ? Math.max(0, s.usedBytes - (s.files.find((f) => f.id === id)?.size_bytes ?? 0)) : null,
          // The server drops the file from every collection; mirror it without a reload.
          collections: s.collections.map((c) => ({ ...c, file_ids: c.file_ids.filter((x) => x !== id) })),
        }));
        return true;
      } catch (e) {
        if (stillFor(user)) toastError("Could not delete the file", e);
        return false;
      }
    },

    createCollection: async (name, fileIds) => {
      const user = requestedFor();
      try {
        const c = await api.createCollection({ name, file_ids: fileIds });
        if (!stillFor(user)) return null;
        set((s) => ({ collections: replaceCollection(s.collections, c) }));
        return c;
      } catch (e) {
        if (stillFor(user)) toastError("Could not create the collection", e);
        return null;
      }
    },

    renameCollection: async (id, name) => {
      const user = requestedFor();
      try {
        const c = await api.updateCollection(id, { name });
        if (!stillFor(user)) return false;
        set((s) => ({ collections: replaceCollection(s.collections, c) }));
        return true;
      } catch (e) {
        if (stillFor(user)) toastError("Could not rename the collection", e);
        return false;
      }
    },

    deleteCollection: async (id) => {
      const user = requestedFor();
      try {
        await api.deleteCollection(id);
        set((s) => ({ collections: s.collections.filter((c) => c.id !== id) }));
        return true;
      } catch (e) {
        if (stillFor(user)) toastError("Could not delete the collection", e);
        return false;
      }
    },

    setMembership: async (collectionId, fileId, member) => {
      const user = requestedFor();
      try {
        const c = member ? await api.addToCollection(collectionId, fileId) : await api.removeFromCollection(collectionId, fileId);
        if (!stillFor(user)) return false;
        set((s) => ({ collections: replaceCollection(s.collections, c) }));
        return true;
      } catch (e) {
        if (stillFor(user)) toastError(member ? "Could not add the file" : "Could not remove the file", e);
        return false;
      }
    },
  };
});
