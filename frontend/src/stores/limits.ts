/**
 * The gateway's input limits, from `GET /api/v1/auth/config` (`limits`), never copied by hand:
 * the message box, the settings dialogs and the job form check against these. `null` until the
 * config arrives, or from a gateway that does not state them; then only the server checks.
 */
import { create } from "zustand";
import type { components } from "@/api/schema.gen";

export type Limits = components["schemas"]["LimitsOut"];

export const useLimits = create<{ limits: Limits | null }>(() => ({ limits: null }));

/** The limits now (outside React). */
export const currentLimits = (): Limits | null => useLimits.getState().limits;
