import type { Limits } from "@/stores/limits";

/** Limits as a gateway states them in `GET /api/v1/auth/config` (for unit tests). */
export const SERVER_LIMITS: Limits = {
  prompt_max_chars: 10_000,
  system_prompt_max_chars: 20_000,
  max_tokens_min: 1,
  max_tokens_max: 8192,
  temperature_min: 0,
  temperature_max: 2,
  job_prompts_max: 100,
  job_name_max_chars: 200,
  title_max_chars: 200,
};
