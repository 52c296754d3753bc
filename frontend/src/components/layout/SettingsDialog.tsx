import { useEffect, useState } from "react";
import { useModels } from "@/stores/models";
import { useLimits } from "@/stores/limits";
import { maxTokensProblem, useSettings, type Theme } from "@/stores/settings";
import { useUi } from "@/stores/ui";
import { ModelOptions } from "../chat/ModelOptions";
import { MaxTokensField, PersonaPresets, SettingsDialogFrame, TemperatureField } from "../ui/SettingsDialogFrame";

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
  return (
    <MaxTokensField
      id="set-max"
      text={draft}
      onChange={(text) => {
        setDraft(text);
        if (maxTokensProblem(text) === null) onCommit(Number(text));
      }}
      note={` Not saved: still ${value.toLocaleString("en-US")}.`}
    />
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
    <SettingsDialogFrame
      open={open}
      onClose={close}
      title="Settings"
      closeLabel="Close settings"
      footer={
        <>
          <button type="button" className="btn-secondary mr-auto" onClick={s.reset}>
            Reset to defaults
          </button>
          <button type="button" className="btn-primary" onClick={close}>
            Done
          </button>
        </>
      }
    >
      <div>
        <label htmlFor="set-model" className="mb-1 block font-medium">
          Model
        </label>
        <ModelSelect id="set-model" />
      </div>
      <TemperatureField id="set-temp" value={s.temperature} onChange={(temperature) => s.set({ temperature })} />
      <MaxTokensInput value={s.maxTokens} onCommit={(n) => s.set({ maxTokens: n })} />
      <fieldset>
        <legend className="mb-1 font-medium">System prompt</legend>
        <PersonaPresets isActive={(p) => s.persona === p.id} onPick={(p) => s.set({ persona: p.id, systemPrompt: p.prompt })}>
          <button
            type="button"
            onClick={() => s.set({ persona: "", systemPrompt: "" })}
            className="rounded-full border border-zinc-300 px-3 py-1 text-xs hover:bg-zinc-100 dark:border-zinc-700 dark:hover:bg-zinc-800"
          >
            None
          </button>
        </PersonaPresets>
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
    </SettingsDialogFrame>
  );
}
