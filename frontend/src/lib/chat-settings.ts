/**
 * Per-chat settings (issue 15.6). A chat carries its own model, temperature, max tokens and
 * system prompt, copied from the global settings when it is created; the global settings
 * apply to new chats only. Chats created before per-chat settings existed carry none and keep
 * following the global settings.
 */
import type { ChatSessionCreate, ChatSessionOut } from "@/api/types";
import type { SettingsValues } from "@/stores/settings";

export interface ChatSettings {
  /** "" means the server's default model. */
  model: string;
  temperature: number;
  maxTokens: number;
  systemPrompt: string;
}

type Globals = Pick<SettingsValues, "model" | "temperature" | "maxTokens" | "systemPrompt">;

/** Whether the chat stores its own settings (every chat this UI creates does). */
export function hasOwnSettings(s: Pick<ChatSessionOut, "temperature" | "max_tokens">): boolean {
  return s.temperature != null || s.max_tokens != null;
}

/** The settings a generation in this chat uses. */
export function effectiveChatSettings(session: ChatSessionOut | undefined, globals: Globals): ChatSettings {
  if (!session || !hasOwnSettings(session)) {
    return {
      model: session?.model ?? globals.model,
      temperature: globals.temperature,
      maxTokens: globals.maxTokens,
      systemPrompt: session?.system_prompt ?? globals.systemPrompt,
    };
  }
  return {
    model: session.model ?? "",
    temperature: session.temperature ?? globals.temperature,
    maxTokens: session.max_tokens ?? globals.maxTokens,
    systemPrompt: session.system_prompt ?? "",
  };
}

/** The body that creates a chat with a snapshot of the global settings. */
export function newChatBody(globals: Globals): ChatSessionCreate {
  return {
    model: globals.model || null,
    temperature: globals.temperature,
    max_tokens: globals.maxTokens,
    system_prompt: globals.systemPrompt.trim() || null,
  };
}

/** The PATCH body that stores edited settings on a chat ("" clears the model). */
export function settingsPatch(s: ChatSettings) {
  return {
    model: s.model,
    temperature: s.temperature,
    max_tokens: s.maxTokens,
    system_prompt: s.systemPrompt,
  };
}
