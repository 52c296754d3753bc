/**
 * A folder's defaults for the chats started in it (issue 25.13): a system prompt (the server's
 * limit, from `GET /api/v1/auth/config`, like the other settings dialogs) and a model (from the
 * models list, like chat settings). Stored with `PATCH /api/v1/chat/folders/{id}`; "" clears.
 */
import { useState } from "react";
import type { FolderOut } from "@/api/organise";
import { useFolders } from "@/stores/folders";
import { useLimits } from "@/stores/limits";
import { ChatModelSelect } from "../chat/ChatSettingsDialog";
import { SettingsDialogFrame, SystemPromptField, systemPromptTooLong } from "../ui/SettingsDialogFrame";

export function FolderSettingsDialog({ folder, open, onClose }: { folder: FolderOut; open: boolean; onClose: () => void }) {
  const limits = useLimits((st) => st.limits);
  const [systemPrompt, setSystemPrompt] = useState("");
  const [model, setModel] = useState("");

  // A fresh draft from the folder each time the dialog opens.
  const [wasOpen, setWasOpen] = useState(false);
  if (open !== wasOpen) {
    setWasOpen(open);
    if (open) {
      setSystemPrompt(folder.system_prompt ?? "");
      setModel(folder.model ?? "");
    }
  }

  const promptLimit = limits?.system_prompt_max_chars;
  const promptTooLong = systemPromptTooLong(systemPrompt, promptLimit);

  return (
    <SettingsDialogFrame
      open={open}
      onClose={onClose}
      title="Folder settings"
      subtitle={<>New chats in “{folder.name}” start with these. Chats already in it keep their own.</>}
      closeLabel="Close folder settings"
      save={{
        run: () => useFolders.getState().update(folder.id, { system_prompt: systemPrompt.trim() ? systemPrompt : "", model }),
        disabled: promptTooLong,
      }}
    >
      <div>
        <label htmlFor="folder-set-model" className="mb-1 block font-medium">
          Default model
        </label>
        <ChatModelSelect id="folder-set-model" value={model} onChange={setModel} />
      </div>
      <SystemPromptField
        id="folder-set-system"
        label="Default system prompt"
        value={systemPrompt}
        onChange={setSystemPrompt}
        placeholder="Empty: new chats in this folder use the global system prompt"
        limit={promptLimit}
      />
    </SettingsDialogFrame>
  );
}
