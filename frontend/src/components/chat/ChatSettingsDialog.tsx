/**
 * One chat's own settings (issue 15.6), edited from the chat header and stored on the session
 * with PATCH. The global settings (Settings dialog) are only the starting point of new chats.
 */
import { X } from "lucide-react";
import { useEffect, useState } from "react";
import type { ChatSettings } from "@/lib/chat-settings";
import { useChat } from "@/stores/chat";
import { useModels } from "@/stores/models";
import { PERSONAS } from "@/lib/personas";
import { useLimits } from "@/stores/limits";
import { maxTokensProblem, maxTokensRange } from "@/stores/settings";
import { Dialog } from "../ui/Dialog";
import { ModelOptions } from "./ModelOptions";

/** A model picker bound to a value (the chat's model; "" is the server's default). */
export function ChatModelSelect({
  id,
  value,
  onChange,
  compact = false,
}: {
  id: string;
  value: string;
  onChange: (model: string) => void;
  compact?: boolean;
}) {
  const { models, defaultModel, load } = useModels();
  useEffect(() => {
    void load();
  }, [load]);
  // The default model is the first option already; listing it again would show it twice.
  const others = models.filter((m) => m.id !== defaultModel);
  const known = value === "" || models.some((m) => m.id === value);
  return (
    <select
      id={id}
      value={value === defaultModel ? "" : value}
      onChange={(e) => onChange(e.target.value)}
      className={compact ? "input h-8 w-auto max-w-[16rem] py-0 text-xs" : "input"}
      title={value || defaultModel || undefined}
      aria-label={compact ? "Model for this chat" : undefined}
    >
      <option value="">{defaultModel ? `${defaultModel} (default)` : "Server default"}</option>
      <ModelOptions models={others} />
      {!known && <option value={value}>{value}</option>}
    </select>
  );
}

export function ChatSettingsDialog({ sessionId, open, onClose }: { sessionId: string; open: boolean; onClose: () => void }) {
  const title = useChat((s) => s.sessions.find((x) => x.id === sessionId)?.title ?? "");
  const [draft, setDraft] = useState<ChatSettings | null>(null);
  const [maxText, setMaxText] = useState("");
  const [saving, setSaving] = useState(false);
  const limits = useLimits((st) => st.limits);

  // A fresh draft from the chat's current settings each time the dialog opens.
  const [wasOpen, setWasOpen] = useState(false);
  if (open !== wasOpen) {
    setWasOpen(open);
    if (open) {
      const current = useChat.getState().chatSettings(sessionId);
      setDraft(current);
      setMaxText(String(current.maxTokens));
    }
  }
  if (!draft) return null;

  const maxProblem = maxTokensProblem(maxText);
  const maxValid = maxProblem === null;
  const promptLength = [...draft.systemPrompt].length;
  // The server's limit (GET /api/v1/auth/config), the same one the main Settings use.
  const promptLimit = limits?.system_prompt_max_chars;
  const promptTooLong = promptLimit !== undefined && promptLength > promptLimit;

  const save = async () => {
    if (!maxValid || promptTooLong) return;
    setSaving(true);
    const ok = await useChat.getState().saveChatSettings(sessionId, { ...draft, maxTokens: Number(maxText) });
    setSaving(false);
    if (ok) onClose();
  };

  return (
    <Dialog open={open} onClose={onClose} title="Chat settings" className="max-w-xl">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        <div className="flex items-center justify-between border-b border-zinc-200 px-5 py-3 dark:border-zinc-800">
          <div className="min-w-0">
            <h2 className="text-lg font-semibold">Chat settings</h2>
            <p className="truncate text-xs text-zinc-500">For “{title}” only. New chats start from the global settings.</p>
          </div>
          <button type="button" className="btn-icon" onClick={onClose} aria-label="Close chat settings">
            <X size={18} />
          </button>
        </div>
        <div className="max-h-[70vh] space-y-5 overflow-y-auto px-5 py-4 text-sm">
          <div>
            <label htmlFor="chat-set-model" className="mb-1 block font-medium">
              Model
            </label>
            <ChatModelSelect id="chat-set-model" value={draft.model} onChange={(model) => setDraft({ ...draft, model })} />
          </div>
          <div>
            <label htmlFor="chat-set-temp" className="mb-1 flex justify-between font-medium">
              <span>Temperature</span>
              <span className="tabular-nums text-zinc-500">{draft.temperature.toFixed(1)}</span>
            </label>
            <input
              id="chat-set-temp"
              type="range"
              min={0}
              max={2}
              step={0.1}
              value={draft.temperature}
              onChange={(e) => setDraft({ ...draft, temperature: Number(e.target.value) })}
              className="w-full accent-violet-600"
            />
          </div>
          <div>
            <label htmlFor="chat-set-max" className="mb-1 block font-medium">
              Max tokens <span className="font-normal text-zinc-500">{maxTokensRange(limits)}</span>
            </label>
            <input
              id="chat-set-max"
              type="number"
              inputMode="numeric"
              min={limits?.max_tokens_min}
              max={limits?.max_tokens_max}
              value={maxText}
              aria-invalid={!maxValid}
              aria-describedby={maxValid ? undefined : "chat-set-max-error"}
              onChange={(e) => setMaxText(e.target.value)}
              className="input w-40 aria-[invalid=true]:border-red-500"
            />
            {!maxValid && (
              <p id="chat-set-max-error" className="mt-1 text-xs text-red-600 dark:text-red-400">
                {maxProblem}
              </p>
            )}
          </div>
          <div>
            <label htmlFor="chat-set-system" className="mb-1 block font-medium">
              System prompt
            </label>
            <div className="mb-2 flex flex-wrap gap-1.5" role="group" aria-label="Persona presets">
              {PERSONAS.map((p) => (
                <button
                  key={p.id}
                  type="button"
                  aria-pressed={draft.systemPrompt === p.prompt}
                  onClick={() => setDraft({ ...draft, systemPrompt: p.prompt })}
                  className={`rounded-full border px-3 py-1 text-xs ${
                    draft.systemPrompt === p.prompt
                      ? "border-accent-600 bg-accent-600 text-white"
                      : "border-zinc-300 hover:bg-zinc-100 dark:border-zinc-700 dark:hover:bg-zinc-800"
                  }`}
                >
                  {p.label}
                </button>
              ))}
            </div>
            <textarea
              id="chat-set-system"
              rows={5}
              value={draft.systemPrompt}
              aria-invalid={promptTooLong || undefined}
              onChange={(e) => setDraft({ ...draft, systemPrompt: e.target.value })}
              placeholder="Instructions sent with every message of this chat"
              className="input resize-y"
            />
            {promptLimit !== undefined && (
              <p className={`mt-1 text-right text-xs ${promptTooLong ? "text-red-600" : "text-zinc-500"}`} data-testid="system-prompt-count">
                {promptLength.toLocaleString("en-US")}/{promptLimit.toLocaleString("en-US")}
              </p>
            )}
          </div>
        </div>
        <div className="flex justify-end gap-2 border-t border-zinc-200 px-5 py-3 dark:border-zinc-800">
          <button type="button" className="btn-secondary" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="btn-primary" disabled={!maxValid || promptTooLong || saving}>
            Save
          </button>
        </div>
      </form>
    </Dialog>
  );
}
