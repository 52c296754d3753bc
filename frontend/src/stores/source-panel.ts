/** Which cited passage the side panel shows (null: closed). */
import { create } from "zustand";
import type { Source } from "@/lib/citations";

interface SourcePanelState {
  source: Source | null;
  open: (source: Source) => void;
  close: () => void;
}

export const useSourcePanel = create<SourcePanelState>()((set) => ({
  source: null,
  open: (source) => set({ source }),
  close: () => set({ source: null }),
}));
