/**
 * The options of a model picker: the models grouped by provider (`<optgroup>`), each named
 * with its capabilities and context size (issue 22). Shared by the global and per-chat pickers.
 */
import type { ModelInfo } from "@/api/types";
import { groupByProvider, modelLabel } from "@/lib/models";

export function ModelOptions({ models }: { models: ModelInfo[] }) {
  return (
    <>
      {groupByProvider(models).map((g) => (
        <optgroup key={g.provider} label={g.provider} data-testid="model-group">
          {g.models.map((m) => (
            <option key={m.id} value={m.id} title={m.description ?? undefined}>
              {modelLabel(m)}
            </option>
          ))}
        </optgroup>
      ))}
    </>
  );
}
