import { BookOpen, FileText, Folder, Paperclip, X } from "lucide-react";
import { useEffect, useState } from "react";
import { Link } from "react-router";
import { supportsKnowledge } from "@/api/endpoints";
import { useFilePoll } from "@/hooks/use-file-poll";
import { hasKnowledge, knowledgeItems, knowledgeOf, knowledgeSummary, toggleId, type Knowledge } from "@/lib/knowledge";
import { useChat } from "@/stores/chat";
import { useFiles } from "@/stores/files";
import { Dialog } from "../ui/Dialog";
import { DropZone, FileStatusBadge, UploadList } from "../files/FileWidgets";

/** The knowledge of a chat (or of the new chat, `sessionId` null), from the store. */
export function useChatKnowledge(sessionId: string | null): Knowledge {
  const session = useChat((s) => (sessionId ? s.sessions.find((x) => x.id === sessionId) : undefined));
  const draft = useChat((s) => s.draftKnowledge);
  return sessionId ? knowledgeOf(session) : draft;
}

/** Loads the caller's files and collections once (to name what a chat has attached). */
function useFilesLoaded() {
  const status = useFiles((s) => s.status);
  useEffect(() => {
    if (status === "idle") void useFiles.getState().load();
  }, [status]);
  return status === "ready";
}

/** Keeps the statuses of files being read up to date while the dialog is open. */
function FilePoller() {
  useFilePoll();
  return null;
}

/**
 * Attach files to a chat: upload right here (they are attached once stored), or tick files and
 * collections from the Files page. Each change is saved on the chat at once.
 */
export function KnowledgeDialog({ sessionId, open, onClose }: { sessionId: string | null; open: boolean; onClose: () => void }) {
  const knowledge = useChatKnowledge(sessionId);
  const { files, collections, uploads, upload } = useFiles();
  useFilesLoaded();
  const save = (next: Knowledge) => void useChat.getState().setKnowledge(sessionId, next);
  // Read at the time of the change: an upload resolves after other ticks may have been saved.
  const current = () => {
    const st = useChat.getState();
    return sessionId ? knowledgeOf(st.sessions.find((x) => x.id === sessionId)) : st.draftKnowledge;
  };
  const onFiles = async (list: File[]) => {
    const stored = await upload(list);
    if (stored.length === 0) return;
    const k = current();
    save({ ...k, file_ids: stored.reduce((ids, f) => toggleId(ids, f.id, true), k.file_ids) });
  };
  return (
    <Dialog open={open} onClose={onClose} title="Files for this chat" className="max-w-xl">
      <div className="flex max-h-[80vh] flex-col">
        <FilePoller />
        <div className="flex items-center justify-between gap-2 px-5 pb-2 pt-4">
          <h2 className="text-lg font-semibold">Files for this chat</h2>
          <button type="button" className="btn-icon" aria-label="Close" onClick={onClose}>
            <X size={18} />
          </button>
        </div>
        <div className="min-h-0 flex-1 space-y-4 overflow-y-auto px-5 pb-2">
          <p className="text-sm text-zinc-600 dark:text-zinc-400">Answers in this chat quote the files and collections ticked here and cite them as [1], [2]…</p>
          <DropZone compact onFiles={(f) => void onFiles(f)} />
          <UploadList uploads={uploads} />
          {collections.length > 0 && (
            <fieldset>
              <legend className="mb-1 text-sm font-semibold">Collections</legend>
              <ul className="space-y-1">
                {collections.map((c) => (
                  <li key={c.id}>
                    <label className="flex cursor-pointer items-center gap-2 rounded-lg px-2 py-1.5 text-sm hover:bg-zinc-50 dark:hover:bg-zinc-800">
                      <input
                        type="checkbox"
                        className="h-4 w-4 accent-violet-600"
                        checked={knowledge.collection_ids.includes(c.id)}
                        onChange={(e) => save({ ...current(), collection_ids: toggleId(current().collection_ids, c.id, e.target.checked) })}
                      />
                      <Folder size={14} className="shrink-0 text-zinc-400" aria-hidden />
                      <span className="min-w-0 flex-1 truncate">{c.name}</span>
                      <span className="shrink-0 text-xs text-zinc-500">
                        {c.file_ids.length} file{c.file_ids.length === 1 ? "" : "s"}
                      </span>
                    </label>
                  </li>
                ))}
              </ul>
            </fieldset>
          )}
          <fieldset>
            <legend className="mb-1 text-sm font-semibold">Files</legend>
            {files.length === 0 && <p className="text-sm text-zinc-500">No files yet: drop some above.</p>}
            <ul className="space-y-1" data-testid="knowledge-files">
              {files.map((f) => (
                <li key={f.id}>
                  <label className="flex cursor-pointer items-center gap-2 rounded-lg px-2 py-1.5 text-sm hover:bg-zinc-50 dark:hover:bg-zinc-800">
                    <input
                      type="checkbox"
                      className="h-4 w-4 accent-violet-600"
                      checked={knowledge.file_ids.includes(f.id)}
                      onChange={(e) => save({ ...current(), file_ids: toggleId(current().file_ids, f.id, e.target.checked) })}
                    />
                    <FileText size={14} className="shrink-0 text-zinc-400" aria-hidden />
                    <span className="min-w-0 flex-1 truncate">{f.filename}</span>
                    <FileStatusBadge file={f} />
                  </label>
                </li>
              ))}
            </ul>
          </fieldset>
        </div>
        <div className="flex items-center justify-between gap-2 border-t border-zinc-200 px-5 py-3 dark:border-zinc-800">
          <Link to="/files" className="text-sm text-accent-600 hover:underline dark:text-violet-300" onClick={onClose}>
            Manage files
          </Link>
          <button type="button" className="btn-primary" onClick={onClose}>
            Done
          </button>
        </div>
      </div>
    </Dialog>
  );
}

let supported: boolean | null = null;

/** Whether the gateway takes knowledge on a chat (asked of its OpenAPI document once). */
function useKnowledgeSupported(): boolean {
  const [ok, setOk] = useState(supported);
  useEffect(() => {
    if (supported !== null) return;
    let live = true;
    void supportsKnowledge().then((v) => {
      supported = v;
      if (live) setOk(v);
    });
    return () => {
      live = false;
    };
  }, []);
  return ok === true;
}

/**
 * The paperclip of the composer: opens the dialog; a count shows how much is attached. Not
 * offered by a gateway without knowledge on chats.
 */
export function AttachButton({ sessionId }: { sessionId: string | null }) {
  const [open, setOpen] = useState(false);
  const ok = useKnowledgeSupported();
  const knowledge = useChatKnowledge(sessionId);
  const count = knowledge.file_ids.length + knowledge.collection_ids.length;
  if (!ok) return null;
  return (
    <>
      <button
        type="button"
        className="btn-icon relative"
        aria-label={count ? `Attach files (${knowledgeSummary(knowledge)} attached)` : "Attach files"}
        title="Answer from your files"
        aria-haspopup="dialog"
        onClick={() => setOpen(true)}
      >
        <Paperclip size={16} />
        {count > 0 && (
          <span className="absolute -right-0.5 -top-0.5 flex h-4 min-w-4 items-center justify-center rounded-full bg-accent-600 px-1 text-[10px] font-semibold text-white" aria-hidden>
            {count}
          </span>
        )}
      </button>
      <KnowledgeDialog sessionId={sessionId} open={open} onClose={() => setOpen(false)} />
    </>
  );
}

/**
 * What the chat answers from, by name ("Contracts", "notes.md"), in the chat's header; a
 * click opens the picker. Nothing when the chat has no knowledge.
 */
export function KnowledgeChips({ sessionId }: { sessionId: string | null }) {
  const knowledge = useChatKnowledge(sessionId);
  const { files, collections, nextBefore } = useFiles();
  const loaded = useFilesLoaded();
  const [open, setOpen] = useState(false);
  if (!hasKnowledge(knowledge)) return null;
  // Beyond the first page of files an unknown id may just not be loaded yet.
  const items = knowledgeItems(knowledge, files, collections, loaded && nextBefore === null);
  const shown = items.slice(0, 3);
  return (
    <>
      <button
        type="button"
        className="inline-flex min-w-0 items-center gap-1 rounded-md px-1.5 py-0.5 text-xs text-zinc-600 hover:bg-zinc-100 dark:text-zinc-400 dark:hover:bg-zinc-800"
        onClick={() => setOpen(true)}
        aria-haspopup="dialog"
        aria-label={`Answers from ${items.map((i) => (i.missing ? `${i.name} (deleted)` : i.name)).join(", ")}. Change the files`}
        data-testid="chat-knowledge"
      >
        <BookOpen size={12} className="shrink-0" aria-hidden />
        {shown.map((i) => (
          <span key={`${i.kind}-${i.id}`} className={`max-w-[10rem] truncate rounded bg-zinc-100 px-1.5 dark:bg-zinc-800 ${i.missing ? "line-through opacity-60" : ""}`}>
            {i.kind === "collection" ? <Folder size={10} className="mr-0.5 inline" aria-hidden /> : null}
            {i.name}
          </span>
        ))}
        {items.length > shown.length && <span>+{items.length - shown.length}</span>}
      </button>
      <KnowledgeDialog sessionId={sessionId} open={open} onClose={() => setOpen(false)} />
    </>
  );
}
