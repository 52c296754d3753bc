/**
 * How the model pickers show the registry (issue 22): models grouped by provider, each with
 * its capabilities and context size, so that "which one can see images, which one takes a
 * long document" is answered in the picker itself.
 */
import type { ModelInfo } from "@/api/types";

export interface ModelGroup {
  provider: string;
  models: ModelInfo[];
}

/** Models grouped by provider, providers and models in the server's order. */
export function groupByProvider(models: ModelInfo[]): ModelGroup[] {
  const groups: ModelGroup[] = [];
  for (const m of models) {
    const provider = m.provider || "other";
    let group = groups.find((g) => g.provider === provider);
    if (!group) {
      group = { provider, models: [] };
      groups.push(group);
    }
    group.models.push(m);
  }
  return groups;
}

/** A context window as people say it: 8192 → "8K", 131072 → "128K", 1048576 → "1M". */
export function contextSize(tokens: number | null | undefined): string | null {
  if (!tokens || tokens <= 0) return null;
  if (tokens >= 1024 * 1024 && tokens % (1024 * 1024) === 0) return `${tokens / (1024 * 1024)}M`;
  if (tokens >= 1000) return `${Math.round(tokens / 1024)}K`;
  return String(tokens);
}

/** What a picker option says about a model: "gpt-4o · chat, vision · 128K context". */
export function modelLabel(m: ModelInfo): string {
  const parts = [m.id];
  if (m.capabilities?.length) parts.push(m.capabilities.join(", "));
  const ctx = contextSize(m.context_window);
  if (ctx) parts.push(`${ctx} context`);
  return parts.join(" · ");
}
