/**
 * The frame the settings dialogs share (Settings, Chat settings, Folder settings): a title with
 * an optional line under it and a close button, a scrolling body, and a footer of buttons. With
 * `save` the body and footer are one form with Cancel and Save (Enter in a field saves too); the
 * dialog closes once the save succeeded.
 */
import { X } from "lucide-react";
import { useState, type ReactNode } from "react";
import { PERSONAS, type Persona } from "@/lib/personas";
import { useLimits } from "@/stores/limits";
import { maxTokensProblem, maxTokensRange } from "@/stores/settings";
import { Dialog } from "./Dialog";

interface FrameProps {
  open: boolean;
  onClose: () => void;
  title: string;
  /** A line under the title: what the settings apply to. */
  subtitle?: ReactNode;
  /** The close button's accessible name ("Close chat settings"). */
  closeLabel: string;
  /** A settings form: `run` stores the draft (true when it did); Save is off while `disabled`. */
  save?: { run: () => Promise<boolean>; disabled: boolean };
  /** The footer's buttons of a dialog without `save`. */
  footer?: ReactNode;
  children: ReactNode;
}

export function SettingsDialogFrame({ open, onClose, title, subtitle, closeLabel, save, footer, children }: FrameProps) {
  const [saving, setSaving] = useState(false);
  const submit = async () => {
    if (!save || save.disabled || saving) return;
    setSaving(true);
    const ok = await save.run();
    setSaving(false);
    if (ok) onClose();
  };
  const content = (
    <>
      <div className="flex items-center justify-between border-b border-zinc-200 px-5 py-3 dark:border-zinc-800">
        <div className="min-w-0">
          <h2 className="text-lg font-semibold">{title}</h2>
          {subtitle && <p className="truncate text-xs text-zinc-500">{subtitle}</p>}
        </div>
        <button type="button" className="btn-icon" onClick={onClose} aria-label={closeLabel}>
          <X size={18} />
        </button>
      </div>
      <div className="max-h-[70vh] space-y-5 overflow-y-auto px-5 py-4 text-sm">{children}</div>
      <div className="flex justify-end gap-2 border-t border-zinc-200 px-5 py-3 dark:border-zinc-800">
        {save ? (
          <>
            <button type="button" className="btn-secondary" onClick={onClose}>
              Cancel
            </button>
            <button type="submit" className="btn-primary" disabled={save.disabled || saving}>
              Save
            </button>
          </>
        ) : (
          footer
        )}
      </div>
    </>
  );
  return (
    <Dialog open={open} onClose={onClose} title={title} className="max-w-xl">
      {save ? (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void submit();
          }}
        >
          {content}
        </form>
      ) : (
        content
      )}
    </Dialog>
  );
}

/** The persona preset buttons above a system prompt; `children` adds buttons after them. */
export function PersonaPresets({ isActive, onPick, children }: { isActive: (p: Persona) => boolean; onPick: (p: Persona) => void; children?: ReactNode }) {
  return (
    <div className="mb-2 flex flex-wrap gap-1.5" role="group" aria-label="Persona presets">
      {PERSONAS.map((p) => (
        <button
          key={p.id}
          type="button"
          aria-pressed={isActive(p)}
          onClick={() => onPick(p)}
          className={`rounded-full border px-3 py-1 text-xs ${
            isActive(p) ? "border-accent-600 bg-accent-600 text-white" : "border-zinc-300 hover:bg-zinc-100 dark:border-zinc-700 dark:hover:bg-zinc-800"
          }`}
        >
          {p.label}
        </button>
      ))}
      {children}
    </div>
  );
}

/**
 * A draft system prompt (a chat's or a folder's): label, persona presets, the text and its
 * length against the server's limit (`limit`; unknown: no count), red when over.
 */
export function SystemPromptField({
  id,
  label,
  value,
  onChange,
  placeholder,
  limit,
}: {
  id: string;
  label: string;
  value: string;
  onChange: (text: string) => void;
  placeholder: string;
  limit: number | undefined;
}) {
  const length = [...value].length;
  const tooLong = systemPromptTooLong(value, limit);
  return (
    <div>
      <label htmlFor={id} className="mb-1 block font-medium">
        {label}
      </label>
      <PersonaPresets isActive={(p) => value === p.prompt} onPick={(p) => onChange(p.prompt)} />
      <textarea
        id={id}
        rows={5}
        value={value}
        aria-invalid={tooLong || undefined}
        onChange={(e) => onChange(e.target.value)}
        placeholder={placeholder}
        className="input resize-y"
      />
      {limit !== undefined && (
        <p className={`mt-1 text-right text-xs ${tooLong ? "text-red-600" : "text-zinc-500"}`} data-testid="system-prompt-count">
          {length.toLocaleString("en-US")}/{limit.toLocaleString("en-US")}
        </p>
      )}
    </div>
  );
}

/**
 * The max-tokens field: its label with the server's range, the text as typed and, when it is
 * not a number in range, why (`note` adds to that sentence).
 */
export function MaxTokensField({ id, text, onChange, note = "" }: { id: string; text: string; onChange: (text: string) => void; note?: string }) {
  const limits = useLimits((st) => st.limits);
  const problem = maxTokensProblem(text);
  return (
    <div>
      <label htmlFor={id} className="mb-1 block font-medium">
        Max tokens <span className="font-normal text-zinc-500">{maxTokensRange(limits)}</span>
      </label>
      <input
        id={id}
        type="number"
        inputMode="numeric"
        min={limits?.max_tokens_min}
        max={limits?.max_tokens_max}
        value={text}
        aria-invalid={problem !== null}
        aria-describedby={problem ? `${id}-error` : undefined}
        onChange={(e) => onChange(e.target.value)}
        className="input w-40 aria-[invalid=true]:border-red-500"
      />
      {problem && (
        <p id={`${id}-error`} className="mt-1 text-xs text-red-600 dark:text-red-400" role="alert">
          {problem}
          {note}
        </p>
      )}
    </div>
  );
}

/** Whether a system prompt is longer than the server allows (unknown limit: never). */
export function systemPromptTooLong(text: string, limit: number | undefined): boolean {
  return limit !== undefined && [...text].length > limit;
}

/** The temperature slider (0–2 in steps of 0.1) with its value beside the label. */
export function TemperatureField({ id, value, onChange }: { id: string; value: number; onChange: (t: number) => void }) {
  return (
    <div>
      <label htmlFor={id} className="mb-1 flex justify-between font-medium">
        <span>Temperature</span>
        <span className="tabular-nums text-zinc-500">{value.toFixed(1)}</span>
      </label>
      <input
        id={id}
        type="range"
        min={0}
        max={2}
        step={0.1}
        value={value}
        onChange={(e) => onChange(Number(e.target.value))}
        className="w-full accent-violet-600"
      />
    </div>
  );
}
