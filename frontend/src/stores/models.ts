import { create } from "zustand";
import { api } from "@/api/endpoints";
import type { ModelInfo } from "@/api/types";
import { requestedFor, stillFor } from "./session-user";

interface ModelsState {
  models: ModelInfo[];
  defaultModel: string;
  fallbackModel: string;
  status: "idle" | "loading" | "ready" | "error";
  load: () => Promise<void>;
}

export const useModels = create<ModelsState>()((set, get) => ({
  models: [],
  defaultModel: "",
  fallbackModel: "",
  status: "idle",
  load: async () => {
    if (get().status === "loading" || get().status === "ready") return;
    set({ status: "loading" });
    const user = requestedFor();
    try {
      const r = await api.models();
      // Another user signed in (or out) meanwhile: this list is not theirs.
      if (!stillFor(user)) return;
      set({
        // The picker offers chat models (a server without capabilities lists only those).
        models: Array.isArray(r.models)
          ? r.models.filter((m) => !m.capabilities?.length || m.capabilities.includes("chat"))
          : [],
        defaultModel: r.default ?? "",
        fallbackModel: r.fallback ?? "",
        status: "ready",
      });
    } catch {
      if (stillFor(user)) set({ status: "error" });
    }
  },
}));

/** The model a request will use: the user's pick, else the server default. */
export function effectiveModel(selected: string): string {
  return selected || useModels.getState().defaultModel || "default";
}
