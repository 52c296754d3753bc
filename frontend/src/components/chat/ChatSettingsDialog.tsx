/**
 * One chat's own settings (issue 15.6), edited from the chat header and stored on the session
 * with PATCH. The global settings (Settings dialog) are only the starting point of new chats.
 */
import { useEffect, useState } from "react";
import type { ChatSettings } from "@/lib/chat-settings";
import { useChat } from "@/stores/chat";
import { useModels } from "@/stores/models";
import { useLimits } from "@/stores/limits";
import { maxTokensProblem } from "@/stores/settings";
import { MaxTokensField, SettingsDialogFrame, SystemPromptField, systemPromptTooLong, TemperatureField } from "../ui/SettingsDialogFrame";
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

  const maxValid = maxTokensProblem(maxText) === null;
  // The server's limit (GET /api/v1/auth/config), the same one the main Settings use.
  const promptLimit = limits?.system_prompt_max_chars;
  const promptTooLong = systemPromptTooLong(draft.systemPrompt, promptLimit);

  return (
    <SettingsDialogFrame
      open={open}
      onClose={onClose}
      title="Chat settings"
      subtitle={<>For “{title}” only. New chats start from the global settings.</>}
      closeLabel="Close chat settings"
      save={{
        run: () => useChat.getState().saveChatSettings(sessionId, { ...draft, maxTokens: Number(maxText) }),
        disabled: !maxValid || promptTooLong,
      }}
    >
      <div>
        <label htmlFor="chat-set-model" className="mb-1 block font-medium">
          Model
        </label>
        <ChatModelSelect id="chat-set-model" value={draft.model} onChange={(model) => setDraft({ ...draft, model })} />
      </div>
      <TemperatureField id="chat-set-temp" value={draft.temperature} onChange={(temperature) => setDraft({ ...draft, temperature })} />
      <MaxTokensField id="chat-set-max" text={maxText} onChange={setMaxText} />
      <SystemPromptField
        id="chat-set-system"
        label="System prompt"
        value={draft.systemPrompt}
        onChange={(systemPrompt) => setDraft({ ...draft, systemPrompt })}
        placeholder="Instructions sent with every message of this chat"
        limit={promptLimit}
      />
    </SettingsDialogFrame>
  );
}
