import { create } from "zustand";
import { persist } from "zustand/middleware";

export type Theme = "light" | "dark" | "system";

export const SETTINGS_KEY = "sable-settings";
export const MAX_TOKENS_LIMIT = 8192;
export const SYSTEM_PROMPT_LIMIT = 4000;

export interface SettingsValues {
  /** Empty string means "the server's default model". */
  model: string;
  temperature: number;
  maxTokens: number;
  systemPrompt: string;
  persona: string;
  theme: Theme;
}

interface SettingsState extends SettingsValues {
  set: (patch: Partial<SettingsValues>) => void;
  reset: () => void;
}

export const DEFAULT_SETTINGS: SettingsValues = {
  model: "",
  temperature: 0.7,
  maxTokens: 1024,
  systemPrompt: "",
  persona: "",
  theme: "system",
};

const clamp = (n: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, n));

/** Keeps values inside what the API accepts (contract §5.2), whatever the form sends. */
export function sanitize(patch: Partial<SettingsValues>): Partial<SettingsValues> {
  const out: Partial<SettingsValues> = { ...patch };
  if (out.temperature !== undefined) {
    const t = Number.isFinite(out.temperature) ? out.temperature : DEFAULT_SETTINGS.temperature;
    out.temperature = Math.round(clamp(t, 0, 2) * 10) / 10;
  }
  if (out.maxTokens !== undefined) {
    const m = Number.isFinite(out.maxTokens) ? Math.round(out.maxTokens) : DEFAULT_SETTINGS.maxTokens;
    out.maxTokens = clamp(m, 1, MAX_TOKENS_LIMIT);
  }
  if (out.systemPrompt !== undefined) out.systemPrompt = out.systemPrompt.slice(0, SYSTEM_PROMPT_LIMIT);
  return out;
}

export const useSettings = create<SettingsState>()(
  persist(
    (set) => ({
      ...DEFAULT_SETTINGS,
      set: (patch) => set(sanitize(patch)),
      reset: () => set({ ...DEFAULT_SETTINGS }),
    }),
    {
      name: SETTINGS_KEY,
      version: 1,
      partialize: ({ model, temperature, maxTokens, systemPrompt, persona, theme }) => ({
        model,
        temperature,
        maxTokens,
        systemPrompt,
        persona,
        theme,
      }),
    },
  ),
);

export function resolveDark(theme: Theme): boolean {
  if (theme === "dark") return true;
  if (theme === "light") return false;
  return typeof window !== "undefined" && window.matchMedia?.("(prefers-color-scheme: dark)").matches === true;
}

/** Why a max-tokens entry cannot be saved, or null when it can. */
export function maxTokensProblem(text: string): string | null {
  const t = text.trim();
  const range = `from 1 to ${MAX_TOKENS_LIMIT.toLocaleString("en-US")}`;
  if (t === "") return `Enter a number ${range}.`;
  if (!/^\d+$/.test(t)) return `Enter a whole number ${range}.`;
  const n = Number(t);
  if (n < 1 || n > MAX_TOKENS_LIMIT) return `${n.toLocaleString("en-US")} is out of range: enter a number ${range}.`;
  return null;
}
