import { useEffect } from "react";
import { resolveDark, useSettings } from "@/stores/settings";

/** Applies the theme to <html> and follows the OS while the theme is "system". */
export function useTheme(): void {
  const theme = useSettings((s) => s.theme);
  useEffect(() => {
    const apply = () => document.documentElement.classList.toggle("dark", resolveDark(theme));
    apply();
    if (theme !== "system") return;
    const mq = window.matchMedia("(prefers-color-scheme: dark)");
    mq.addEventListener("change", apply);
    return () => mq.removeEventListener("change", apply);
  }, [theme]);
}
