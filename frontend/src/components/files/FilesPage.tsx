import { Download, FileText, FolderPlus, Pencil, Trash2, UploadCloud, X } from "lucide-react";
import { type DragEvent, useEffect, useId, useRef, useState } from "react";
import { describeError } from "@/api/client";
import { api, downloadFromUrl } from "@/api/endpoints";
import type { CollectionOut, FileOut, FileStatus } from "@/api/types";
import { useFilePoll } from "@/hooks/use-file-poll";
import { fileDetails, fileStatusText, formatBytes, uploadPercent } from "@/lib/files";
import { relativeTime } from "@/lib/format";
import { type Upload, useFiles } from "@/stores/files";
import { toast } from "@/stores/toasts";
import { ConfirmDialog } from "../ui/Dialog";

const BADGE: Record<FileStatus, string> = {
  pending: "bg-zinc-100 text-zinc-700 dark:bg-zinc-800 dark:text-zinc-300",
  processing: "bg-sky-100 text-sky-800 dark:bg-sky-950 dark:text-sky-300",
  ready: "bg-emerald-100 text-emerald-800 dark:bg-emerald-950 dark:text-emerald-300",
  failed: "bg-red-100 text-red-800 dark:bg-red-950 dark:text-red-300",
};

/** What the file picker offers; the server decides (415 names the supported types). */
export const FILE_ACCEPT = ".pdf,.docx,.html,.htm,.md,.markdown,.txt,.csv,text/plain,text/markdown,text/csv,text/html,application/pdf";

export function FileStatusBadge({ file }: { file: FileOut }) {
  return (
    <span className={`rounded-full px-2 py-0.5 text-xs font-medium ${BADGE[file.status] ?? BADGE.pending}`} data-testid="file-status">
      {fileStatusText(file)}
    </span>
  );
}

/**
 * Where files are dropped (or chosen with the button, the keyboard's way in). Dragging over it
 * highlights it; the drop hands every file to `onFiles`.
 */
export function DropZone({ onFiles, compact = false }: { onFiles: (files: File[]) => void; compact?: boolean }) {
  const input = useRef<HTMLInputElement>(null);
  const [over, setOver] = useState(false);
  const id = useId();
  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setOver(false);
    const files = [...e.dataTransfer.files];
    if (files.length > 0) onFiles(files);
  };
  return (
    <div
      onDragOver={(e) => {
        e.preventDefault();
        e.dataTransfer.dropEffect = "copy";
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={onDrop}
      data-testid="drop-zone"
      className={`flex flex-col items-center justify-center gap-2 rounded-xl border-2 border-dashed text-center transition-colors ${
        compact ? "p-4" : "p-6 sm:p-8"
      } ${over ? "border-accent-500 bg-violet-50 dark:bg-violet-950/40" : "border-zinc-300 dark:border-zinc-700"}`}
    >
      <UploadCloud size={compact ? 20 : 28} className="text-zinc-400" aria-hidden />
      <p className="text-sm text-zinc-600 dark:text-zinc-400">
        Drag files here, or{" "}
        <button type="button" className="font-medium text-accent-600 underline dark:text-violet-300" onClick={() => input.current?.click()}>
          choose files
        </button>
      </p>
      <p className="text-xs text-zinc-500">PDF, DOCX, HTML, Markdown, CSV or plain text</p>
      <input
        ref={input}
        id={id}
        type="file"
        multiple
        accept={FILE_ACCEPT}
        className="sr-only"
        tabIndex={-1}
        aria-label="Files to upload"
        data-testid="file-input"
        onChange={(e) => {
          const files = [...(e.target.files ?? [])];
          e.target.value = "";
          if (files.length > 0) onFiles(files);
        }}
      />
    </div>
  );
}

/** Uploads in flight (a progress bar each) and the ones the server refused (why, in words). */
export function UploadList({ uploads }: { uploads: Upload[] }) {
  const dismiss = useFiles((s) => s.dismissUpload);
  if (uploads.length === 0) return null;
  return (
    <ul className="space-y-2" aria-label="Uploads" data-testid="upload-list">
      {uploads.map((u) => {
        const pct = uploadPercent(u.loaded, u.total);
        return (
          <li key={u.key} className="rounded-lg bg-zinc-50 p-2 text-sm dark:bg-zinc-950" data-testid="upload-item" data-state={u.state}>
            <div className="flex items-center gap-2">
              <span className="min-w-0 flex-1 truncate font-medium" title={u.name}>
                {u.name}
              </span>
              <span className="shrink-0 text-xs tabular-nums text-zinc-500">
                {u.state === "uploading" ? `${pct ?? 0} % of ${formatBytes(u.size)}` : formatBytes(u.size)}
              </span>
              {u.state === "failed" && (
                <button type="button" className="btn-icon h-6 w-6" aria-label={`Dismiss ${u.name}`} onClick={() => dismiss(u.key)}>
                  <X size={14} />
                </button>
              )}
            </div>
            {u.state === "uploading" ? (
              <div
                className="mt-1.5 h-1.5 overflow-hidden rounded-full bg-zinc-200 dark:bg-zinc-800"
                role="progressbar"
                aria-label={`Uploading ${u.name}`}
                aria-valuemin={0}
                aria-valuemax={100}
                aria-valuenow={pct ?? undefined}
              >
                <div className="h-full rounded-full bg-accent-600 transition-[width] duration-150" style={{ width: `${pct ?? 0}%` }} />
              </div>
            ) : (
              <p className="mt-1 text-xs text-red-600 dark:text-red-400" data-testid="upload-error">
                Not uploaded: {u.error}
              </p>
            )}
          </li>
        );
      })}
    </ul>
  );
}

function FileRow({ file, collections, onDelete }: { file: FileOut; collections: CollectionOut[]; onDelete: (f: FileOut) => void }) {
  const details = fileDetails(file);
  const inCollections = collections.filter((c) => c.file_ids.includes(file.id));
  return (
    <li className="card flex flex-col gap-1 p-3" data-testid="file-item" data-status={file.status}>
      <div className="flex items-center gap-2">
        <FileText size={16} className="shrink-0 text-zinc-400" aria-hidden />
        <span className="min-w-0 flex-1 truncate text-sm font-medium" title={file.filename} data-testid="file-name">
          {file.filename}
        </span>
        <button
          type="button"
          className="btn-icon"
          aria-label={`Download ${file.filename}`}
          title="Download the original"
          onClick={() => void downloadFromUrl(api.fileContentUrl(file.id), file.filename).catch((e: unknown) => toast.error("Download failed", describeError(e)))}
        >
          <Download size={16} />
        </button>
        <button type="button" className="btn-icon hover:text-red-600" aria-label={`Delete ${file.filename}`} onClick={() => onDelete(file)}>
          <Trash2 size={16} />
        </button>
      </div>
      <div className="flex flex-wrap items-center gap-x-2 gap-y-1 pl-6 text-xs text-zinc-500">
        <FileStatusBadge file={file} />
        <span>{formatBytes(file.size_bytes)}</span>
        {details && <span>{details}</span>}
        <time dateTime={file.created_at} title={new Date(file.created_at).toLocaleString()}>
          {relativeTime(file.created_at)}
        </time>
        {inCollections.map((c) => (
          <span key={c.id} className="rounded bg-zinc-100 px-1.5 py-0.5 text-zinc-600 dark:bg-zinc-800 dark:text-zinc-300">
            {c.name}
          </span>
        ))}
      </div>
      {file.status === "failed" && file.error && (
        <p className="pl-6 text-sm text-red-600 dark:text-red-400" data-testid="file-error">
          {file.error}
        </p>
      )}
    </li>
  );
}

function CollectionCard({ collection, files, onDelete }: { collection: CollectionOut; files: FileOut[]; onDelete: (c: CollectionOut) => void }) {
  const { renameCollection, setMembership } = useFiles();
  const [editing, setEditing] = useState(false);
  const [name, setName] = useState(collection.name);
  const [pick, setPick] = useState("");
  const byId = new Map(files.map((f) => [f.id, f]));
  const members = collection.file_ids;
  const candidates = files.filter((f) => !members.includes(f.id));
  const save = async () => {
    const next = name.trim();
    if (!next || next === collection.name) {
      setEditing(false);
      setName(collection.name);
      return;
    }
    if (await renameCollection(collection.id, next)) setEditing(false);
  };
  return (
    <li className="card p-3" data-testid="collection-item">
      <div className="flex items-center gap-2">
        {editing ? (
          <input
            className="input flex-1"
            value={name}
            maxLength={200}
            aria-label="Collection name"
            autoFocus
            onChange={(e) => setName(e.target.value)}
            onBlur={() => void save()}
            onKeyDown={(e) => {
              if (e.key === "Enter") void save();
              if (e.key === "Escape") {
                setName(collection.name);
                setEditing(false);
              }
            }}
          />
        ) : (
          <h3 className="min-w-0 flex-1 truncate text-sm font-semibold" data-testid="collection-name">
            {collection.name}
          </h3>
        )}
        <span className="shrink-0 text-xs text-zinc-500">
          {members.length} file{members.length === 1 ? "" : "s"}
        </span>
        <button type="button" className="btn-icon" aria-label={`Rename collection ${collection.name}`} onClick={() => setEditing(true)}>
          <Pencil size={15} />
        </button>
        <button type="button" className="btn-icon hover:text-red-600" aria-label={`Delete collection ${collection.name}`} onClick={() => onDelete(collection)}>
          <Trash2 size={15} />
        </button>
      </div>
      {members.length > 0 && (
        <ul className="mt-2 space-y-1" aria-label={`Files in ${collection.name}`}>
          {members.map((id) => {
            const f = byId.get(id);
            const label = f?.filename ?? "a file not on this page";
            return (
              <li key={id} className="flex items-center gap-2 text-sm">
                <FileText size={14} className="shrink-0 text-zinc-400" aria-hidden />
                <span className="min-w-0 flex-1 truncate">{label}</span>
                <button
                  type="button"
                  className="btn-icon h-7 w-7"
                  aria-label={`Remove ${label} from ${collection.name}`}
                  onClick={() => void setMembership(collection.id, id, false)}
                >
                  <X size={14} />
                </button>
              </li>
            );
          })}
        </ul>
      )}
      {candidates.length > 0 && (
        <form
          className="mt-2 flex gap-2"
          onSubmit={(e) => {
            e.preventDefault();
            if (pick) void setMembership(collection.id, pick, true).then((ok) => ok && setPick(""));
          }}
        >
          <select className="input min-w-0 flex-1" value={pick} onChange={(e) => setPick(e.target.value)} aria-label={`File to add to ${collection.name}`}>
            <option value="">Add a file…</option>
            {candidates.map((f) => (
              <option key={f.id} value={f.id}>
                {f.filename}
              </option>
            ))}
          </select>
          <button type="submit" className="btn-secondary shrink-0" disabled={!pick}>
            Add
          </button>
        </form>
      )}
    </li>
  );
}

export function FilesPage() {
  const { files, collections, uploads, status, nextBefore, usedBytes, load, loadMore, upload, remove, createCollection, deleteCollection } = useFiles();
  const [pendingFile, setPendingFile] = useState<FileOut | null>(null);
  const [pendingCollection, setPendingCollection] = useState<CollectionOut | null>(null);
  const [newName, setNewName] = useState("");
  useFilePoll();

  useEffect(() => {
    void load();
  }, [load]);

  return (
    <div className="h-full overflow-y-auto">
      <div className="mx-auto max-w-3xl space-y-6 p-4 sm:p-6">
        <section className="card space-y-3" aria-labelledby="upload-files">
          <div className="flex items-baseline justify-between gap-2">
            <h2 id="upload-files" className="text-base font-semibold">
              Upload files
            </h2>
            {usedBytes !== null && <span className="text-xs text-zinc-500">{formatBytes(usedBytes)} stored</span>}
          </div>
          <p className="text-sm text-zinc-600 dark:text-zinc-400">Sable reads your files so that chats can answer from them, with citations.</p>
          <DropZone onFiles={(f) => void upload(f)} />
          <UploadList uploads={uploads} />
        </section>

        <section aria-labelledby="file-list">
          <h2 id="file-list" className="mb-2 text-base font-semibold">
            Files
          </h2>
          {status === "loading" && files.length === 0 && <p className="text-sm text-zinc-500">Loading files…</p>}
          {status !== "loading" && files.length === 0 && <p className="text-sm text-zinc-500">No files yet.</p>}
          <ul className="space-y-2" aria-label="Files" aria-live="polite">
            {files.map((f) => (
              <FileRow key={f.id} file={f} collections={collections} onDelete={setPendingFile} />
            ))}
          </ul>
          {nextBefore && (
            <button type="button" className="btn-secondary mt-3 w-full" onClick={() => void loadMore()}>
              Load older files
            </button>
          )}
        </section>

        <section aria-labelledby="collection-list">
          <h2 id="collection-list" className="mb-1 text-base font-semibold">
            Collections
          </h2>
          <p className="mb-2 text-sm text-zinc-600 dark:text-zinc-400">Group files to give a chat a whole collection at once. A file may be in several.</p>
          <form
            className="mb-3 flex gap-2"
            onSubmit={(e) => {
              e.preventDefault();
              const name = newName.trim();
              if (name) void createCollection(name).then((c) => c && setNewName(""));
            }}
          >
            <input className="input min-w-0 flex-1" value={newName} maxLength={200} onChange={(e) => setNewName(e.target.value)} placeholder="New collection name" aria-label="New collection name" />
            <button type="submit" className="btn-primary shrink-0" disabled={!newName.trim()}>
              <FolderPlus size={14} aria-hidden /> Create
            </button>
          </form>
          {collections.length === 0 && status === "ready" && <p className="text-sm text-zinc-500">No collections yet.</p>}
          <ul className="space-y-2" aria-label="Collections">
            {collections.map((c) => (
              <CollectionCard key={c.id} collection={c} files={files} onDelete={setPendingCollection} />
            ))}
          </ul>
        </section>
      </div>
      <ConfirmDialog
        open={pendingFile !== null}
        title="Delete file?"
        message={
          <>
            <strong className="break-all">{pendingFile?.filename}</strong> and everything Sable read from it are deleted. Answers that cited it keep their quotes, marked as from a deleted
            source.
          </>
        }
        confirmLabel="Delete"
        danger
        onCancel={() => setPendingFile(null)}
        onConfirm={() => {
          const f = pendingFile;
          setPendingFile(null);
          if (f) void remove(f.id).then((ok) => ok && toast.success("File deleted", f.filename));
        }}
      />
      <ConfirmDialog
        open={pendingCollection !== null}
        title="Delete collection?"
        message={
          <>
            The collection <strong className="break-all">{pendingCollection?.name}</strong> is deleted. Its files stay.
          </>
        }
        confirmLabel="Delete"
        danger
        onCancel={() => setPendingCollection(null)}
        onConfirm={() => {
          const c = pendingCollection;
          setPendingCollection(null);
          if (c) void deleteCollection(c.id);
        }}
      />
    </div>
  );
}
