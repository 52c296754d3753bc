import { useEffect } from "react";
import { useUi } from "@/stores/ui";
import { useActions } from "./use-commands";

/** Global keyboard shortcuts. */
export function useShortcuts(): void {
  const a = useActions();
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const mod = e.ctrlKey || e.metaKey;
      const key = e.key.toLowerCase();
      if (mod && !e.shiftKey && key === "k") {
        e.preventDefault();
        useUi.getState().setPalette(!useUi.getState().paletteOpen);
      } else if (mod && e.shiftKey && key === "o") {
        e.preventDefault();
        a.newChat();
      } else if (mod && !e.shiftKey && key === "/") {
        e.preventDefault();
        a.toggleSidebar();
      } else if (mod && !e.shiftKey && key === ",") {
        e.preventDefault();
        a.openSettings();
      } else if (mod && e.shiftKey && key === "e") {
        e.preventDefault();
        a.exportCurrent();
      } else if (e.shiftKey && key === "escape") {
        e.preventDefault();
        a.focusInput();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [a]);
}
