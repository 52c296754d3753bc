import { create } from "zustand";
import { persist } from "zustand/middleware";
import { currentLimits, type Limits } from "./limits";

export type Theme = "light" | "dark" | "system";

export const SETTINGS_KEY = "sable-settings";

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
  /**
   * The user whose model and system prompt these are (null: nobody signed in, or accounts off).
   * Stored with them, so that a sign-in by someone else resets them even when the previous user
   * never signed out (an expired session).
   */
  owner: string | null;
  set: (patch: Partial<SettingsValues>) => void;
  reset: () => void;
  /** Keeps the model and system prompt for `userId`, or resets them when they were someone else's. */
  forUser: (userId: string | null) => void;
}

export const DEFAULT_SETTINGS: SettingsValues = {
  model: "",
  temperature: 0.7,
  maxTokens: 1024,
  systemPrompt: "",
  persona: "",
  theme: "system",
};

/**
 * The settings that are the user's, not the browser's: the chosen model (an admin may limit the
 * models per account) and the system prompt (with its persona), which may say private things.
 * Temperature, max tokens and the theme stay with the browser.
 */
const USER_SETTINGS: Pick<SettingsValues, "model" | "systemPrompt" | "persona"> = {
  model: DEFAULT_SETTINGS.model,
  systemPrompt: DEFAULT_SETTINGS.systemPrompt,
  persona: DEFAULT_SETTINGS.persona,
};

const clamp = (n: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, n));

/** Keeps values inside what the API accepts (contract §5.2), whatever the form sends. */
export function sanitize(patch: Partial<SettingsValues>): Partial<SettingsValues> {
  const out: Partial<SettingsValues> = { ...patch };
  const limits = currentLimits();
  if (out.temperature !== undefined) {
    const t = Number.isFinite(out.temperature) ? out.temperature : DEFAULT_SETTINGS.temperature;
    out.temperature = Math.round(clamp(t, 0, 2) * 10) / 10;
  }
  if (out.maxTokens !== undefined) {
    const m = Number.isFinite(out.maxTokens) ? Math.round(out.maxTokens) : DEFAULT_SETTINGS.maxTokens;
    out.maxTokens = clamp(m, limits?.max_tokens_min ?? 1, limits?.max_tokens_max ?? Number.MAX_SAFE_INTEGER);
  }
  if (out.systemPrompt !== undefined && limits) out.systemPrompt = out.systemPrompt.slice(0, limits.system_prompt_max_chars);
  return out;
}

export const useSettings = create<SettingsState>()(
  persist(
    (set, get) => ({
      ...DEFAULT_SETTINGS,
      owner: null,
      set: (patch) => set(sanitize(patch)),
      reset: () => set({ ...DEFAULT_SETTINGS }),
      forUser: (userId) => {
        if (get().owner !== userId) set({ ...USER_SETTINGS, owner: userId });
      },
    }),
    {
      name: SETTINGS_KEY,
      version: 1,
      partialize: ({ owner, model, temperature, maxTokens, systemPrompt, persona, theme }) => ({
        owner,
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
  const limits = currentLimits();
  const min = limits?.max_tokens_min ?? 1;
  const max = limits?.max_tokens_max;
  const range = max === undefined ? `of at least ${min}` : `from ${min} to ${max.toLocaleString("en-US")}`;
  if (t === "") return `Enter a number ${range}.`;
  if (!/^\d+$/.test(t)) return `Enter a whole number ${range}.`;
  const n = Number(t);
  if (n < min || (max !== undefined && n > max)) return `${n.toLocaleString("en-US")} is out of range: enter a number ${range}.`;
  return null;
}

/** "(1–8192)" beside a max-tokens field, from the server's limits (empty until known). */
export function maxTokensRange(limits: Limits | null): string {
  return limits ? `(${limits.max_tokens_min}–${limits.max_tokens_max})` : "";
}
