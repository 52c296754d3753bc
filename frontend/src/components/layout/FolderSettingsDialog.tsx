/**
 * A folder's defaults for the chats started in it (issue 25.13): a system prompt (the server's
 * limit, from `GET /api/v1/auth/config`, like the other settings dialogs) and a model (from the
 * models list, like chat settings). Stored with `PATCH /api/v1/chat/folders/{id}`; "" clears.
 */
import { X } from "lucide-react";
import { useState } from "react";
import type { FolderOut } from "@/api/organise";
import { PERSONAS } from "@/lib/personas";
import { useFolders } from "@/stores/folders";
import { useLimits } from "@/stores/limits";
import { ChatModelSelect } from "../chat/ChatSettingsDialog";
import { Dialog } from "../ui/Dialog";

export function FolderSettingsDialog({ folder, open, onClose }: { folder: FolderOut; open: boolean; onClose: () => void }) {
  const limits = useLimits((st) => st.limits);
  const [systemPrompt, setSystemPrompt] = useState("");
  const [model, setModel] = useState("");
  const [saving, setSaving] = useState(false);

  // A fresh draft from the folder each time the dialog opens.
  const [wasOpen, setWasOpen] = useState(false);
  if (open !== wasOpen) {
    setWasOpen(open);
    if (open) {
      setSystemPrompt(folder.system_prompt ?? "");
      setModel(folder.model ?? "");
    }
  }

  const promptLength = [...systemPrompt].length;
  const promptLimit = limits?.system_prompt_max_chars;
  const promptTooLong = promptLimit !== undefined && promptLength > promptLimit;

  const save = async () => {
    if (promptTooLong) return;
    setSaving(true);
    const ok = await useFolders.getState().update(folder.id, { system_prompt: systemPrompt.trim() ? systemPrompt : "", model });
    setSaving(false);
    if (ok) onClose();
  };

  return (
    <Dialog open={open} onClose={onClose} title="Folder settings" className="max-w-xl">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        <div className="flex items-center justify-between border-b border-zinc-200 px-5 py-3 dark:border-zinc-800">
          <div className="min-w-0">
            <h2 className="text-lg font-semibold">Folder settings</h2>
            <p className="truncate text-xs text-zinc-500">New chats in “{folder.name}” start with these. Chats already in it keep their own.</p>
          </div>
          <button type="button" className="btn-icon" onClick={onClose} aria-label="Close folder settings">
            <X size={18} />
          </button>
        </div>
        <div className="max-h-[70vh] space-y-5 overflow-y-auto px-5 py-4 text-sm">
          <div>
            <label htmlFor="folder-set-model" className="mb-1 block font-medium">
              Default model
            </label>
            <ChatModelSelect id="folder-set-model" value={model} onChange={setModel} />
          </div>
          <div>
            <label htmlFor="folder-set-system" className="mb-1 block font-medium">
              Default system prompt
            </label>
            <div className="mb-2 flex flex-wrap gap-1.5" role="group" aria-label="Persona presets">
              {PERSONAS.map((p) => (
                <button
                  key={p.id}
                  type="button"
                  aria-pressed={systemPrompt === p.prompt}
                  onClick={() => setSystemPrompt(p.prompt)}
                  className={`rounded-full border px-3 py-1 text-xs ${
                    systemPrompt === p.prompt
                      ? "border-accent-600 bg-accent-600 text-white"
                      : "border-zinc-300 hover:bg-zinc-100 dark:border-zinc-700 dark:hover:bg-zinc-800"
                  }`}
                >
                  {p.label}
                </button>
              ))}
            </div>
            <textarea
              id="folder-set-system"
              rows={5}
              value={systemPrompt}
              aria-invalid={promptTooLong || undefined}
              onChange={(e) => setSystemPrompt(e.target.value)}
              placeholder="Empty: new chats in this folder use the global system prompt"
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
          <button type="submit" className="btn-primary" disabled={promptTooLong || saving}>
            Save
          </button>
        </div>
      </form>
    </Dialog>
  );
}
