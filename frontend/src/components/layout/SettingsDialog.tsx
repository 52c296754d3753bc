import { X } from "lucide-react";
import { useEffect, useState } from "react";
import { PERSONAS } from "@/lib/personas";
import { useModels } from "@/stores/models";
import { useLimits } from "@/stores/limits";
import { maxTokensProblem, maxTokensRange, useSettings, type Theme } from "@/stores/settings";
import { useUi } from "@/stores/ui";
import { ModelOptions } from "../chat/ModelOptions";
import { Dialog } from "../ui/Dialog";

export function ModelSelect({ id, compact = false }: { id: string; compact?: boolean }) {
  const model = useSettings((s) => s.model);
  const set = useSettings((s) => s.set);
  const { models, defaultModel, status, load } = useModels();
  useEffect(() => {
    void load();
  }, [load]);
  // The server's default is the first option ("Server default (x)"); it is not listed again,
  // and picking it by name is the same as picking the default.
  const others = models.filter((m) => m.id !== defaultModel);
  const value = model === defaultModel ? "" : model;
  const known = value === "" || others.some((m) => m.id === value);
  return (
    <select
      id={id}
      value={value}
      onChange={(e) => set({ model: e.target.value })}
      className={compact ? "input h-8 w-auto max-w-[16rem] py-0 text-xs" : "input"}
      title={model || defaultModel || undefined}
      aria-label="Model"
    >
      <option value="">
        {defaultModel ? (compact ? `${defaultModel} (default)` : `Server default (${defaultModel})`) : status === "error" ? "Server default" : "Default"}
      </option>
      <ModelOptions models={others} />
      {!known && <option value={value}>{value}</option>}
    </select>
  );
}

/**
 * Number field that lets the user clear and retype. A valid value is saved as it is typed; an
 * invalid one is never saved (nor silently clamped): the field keeps it and says why, until
 * it is corrected.
 */
function MaxTokensInput({ value, onCommit }: { value: number; onCommit: (n: number) => void }) {
  const [draft, setDraft] = useState(String(value));
  const [committed, setCommitted] = useState(value);
  if (value !== committed) {
    setCommitted(value);
    setDraft(String(value));
  }
  const limits = useLimits((st) => st.limits);
  const problem = maxTokensProblem(draft);
  return (
    <div>
      <input
        id="set-max"
        type="number"
        inputMode="numeric"
        min={limits?.max_tokens_min}
        max={limits?.max_tokens_max}
        value={draft}
        aria-invalid={problem !== null}
        aria-describedby={problem ? "set-max-error" : undefined}
        onChange={(e) => {
          setDraft(e.target.value);
          if (maxTokensProblem(e.target.value) === null) onCommit(Number(e.target.value));
        }}
        className="input w-40 aria-[invalid=true]:border-red-500"
      />
      {problem && (
        <p id="set-max-error" className="mt-1 text-xs text-red-600 dark:text-red-400" role="alert">
          {problem} Not saved: still {value.toLocaleString("en-US")}.
        </p>
      )}
    </div>
  );
}

export function SettingsDialog() {
  const open = useUi((s) => s.settingsOpen);
  const setOpen = useUi((s) => s.setSettings);
  const s = useSettings();
  const close = () => setOpen(false);
  const count = [...s.systemPrompt].length;
  const limits = useLimits((st) => st.limits);

  return (
    <Dialog open={open} onClose={close} title="Settings" className="max-w-xl">
      <div className="flex items-center justify-between border-b border-zinc-200 px-5 py-3 dark:border-zinc-800">
        <h2 className="text-lg font-semibold">Settings</h2>
        <button type="button" className="btn-icon" onClick={close} aria-label="Close settings">
          <X size={18} />
        </button>
      </div>
      <div className="max-h-[70vh] space-y-5 overflow-y-auto px-5 py-4 text-sm">
        <div>
          <label htmlFor="set-model" className="mb-1 block font-medium">
            Model
          </label>
          <ModelSelect id="set-model" />
        </div>
        <div>
          <label htmlFor="set-temp" className="mb-1 flex justify-between font-medium">
            <span>Temperature</span>
            <span className="tabular-nums text-zinc-500">{s.temperature.toFixed(1)}</span>
          </label>
          <input
            id="set-temp"
            type="range"
            min={0}
            max={2}
            step={0.1}
            value={s.temperature}
            onChange={(e) => s.set({ temperature: Number(e.target.value) })}
            className="w-full accent-violet-600"
          />
        </div>
        <div>
          <label htmlFor="set-max" className="mb-1 block font-medium">
            Max tokens <span className="font-normal text-zinc-500">{maxTokensRange(limits)}</span>
          </label>
          <MaxTokensInput value={s.maxTokens} onCommit={(n) => s.set({ maxTokens: n })} />
        </div>
        <fieldset>
          <legend className="mb-1 font-medium">System prompt</legend>
          <div className="mb-2 flex flex-wrap gap-1.5" role="group" aria-label="Persona presets">
            {PERSONAS.map((p) => (
              <button
                key={p.id}
                type="button"
                aria-pressed={s.persona === p.id}
                onClick={() => s.set({ persona: p.id, systemPrompt: p.prompt })}
                className={`rounded-full border px-3 py-1 text-xs ${
                  s.persona === p.id
                    ? "border-accent-600 bg-accent-600 text-white"
                    : "border-zinc-300 hover:bg-zinc-100 dark:border-zinc-700 dark:hover:bg-zinc-800"
                }`}
              >
                {p.label}
              </button>
            ))}
            <button
              type="button"
              onClick={() => s.set({ persona: "", systemPrompt: "" })}
              className="rounded-full border border-zinc-300 px-3 py-1 text-xs hover:bg-zinc-100 dark:border-zinc-700 dark:hover:bg-zinc-800"
            >
              None
            </button>
          </div>
          <label htmlFor="set-system" className="sr-only">
            System prompt text
          </label>
          <textarea
            id="set-system"
            rows={4}
            value={s.systemPrompt}
            onChange={(e) => s.set({ systemPrompt: e.target.value, persona: "" })}
            placeholder="Optional instructions sent with every message"
            className="input resize-y"
          />
          {limits && (
            <p
              className={`mt-1 text-right text-xs ${count > limits.system_prompt_max_chars * 0.9 ? "text-red-600" : "text-zinc-500"}`}
              data-testid="system-prompt-count"
            >
              {count.toLocaleString("en-US")}/{limits.system_prompt_max_chars.toLocaleString("en-US")}
            </p>
          )}
        </fieldset>
        <fieldset>
          <legend className="mb-1 font-medium">Appearance</legend>
          <div className="inline-flex rounded-lg border border-zinc-300 p-0.5 dark:border-zinc-700" role="radiogroup" aria-label="Theme">
            {(["light", "dark", "system"] as Theme[]).map((t) => (
              <button
                key={t}
                type="button"
                role="radio"
                aria-checked={s.theme === t}
                onClick={() => s.set({ theme: t })}
                className={`rounded-md px-3 py-1 text-xs capitalize ${s.theme === t ? "bg-accent-600 text-white" : ""}`}
              >
                {t}
              </button>
            ))}
          </div>
        </fieldset>
      </div>
      <div className="flex justify-between border-t border-zinc-200 px-5 py-3 dark:border-zinc-800">
        <button type="button" className="btn-secondary" onClick={s.reset}>
          Reset to defaults
        </button>
        <button type="button" className="btn-primary" onClick={close}>
          Done
        </button>
      </div>
    </Dialog>
  );
}
