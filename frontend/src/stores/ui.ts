import { create } from "zustand";

interface UiState {
  sidebarOpen: boolean;
  /** Mobile slide-over sidebar. */
  mobileSidebarOpen: boolean;
  paletteOpen: boolean;
  settingsOpen: boolean;
  online: boolean;
  toggleSidebar: () => void;
  setMobileSidebar: (open: boolean) => void;
  setPalette: (open: boolean) => void;
  setSettings: (open: boolean) => void;
  setOnline: (online: boolean) => void;
}

export const useUi = create<UiState>()((set) => ({
  sidebarOpen: true,
  mobileSidebarOpen: false,
  paletteOpen: false,
  settingsOpen: false,
  online: true,
  toggleSidebar: () =>
    set((s) =>
      typeof window !== "undefined" && window.innerWidth < 768
        ? { mobileSidebarOpen: !s.mobileSidebarOpen }
        : { sidebarOpen: !s.sidebarOpen },
    ),
  setMobileSidebar: (open) => set({ mobileSidebarOpen: open }),
  setPalette: (open) => set({ paletteOpen: open }),
  setSettings: (open) => set({ settingsOpen: open }),
  setOnline: (online) => set({ online }),
}));

/** Focus request for the chat composer, consumed by the composer component. */
export const focusComposer = () => {
  const el = document.getElementById("chat-input");
  if (el instanceof HTMLTextAreaElement) el.focus();
};
