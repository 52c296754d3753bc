import { Download, FileText, FolderPlus, Pencil, Trash2, X } from "lucide-react";
import { useEffect, useState } from "react";
import { describeError } from "@/api/client";
import { api, downloadFromUrl } from "@/api/endpoints";
import type { CollectionOut, FileOut } from "@/api/types";
import { useFilePoll } from "@/hooks/use-file-poll";
import { fileDetails, formatBytes } from "@/lib/files";
import { relativeTime } from "@/lib/format";
import { useFiles } from "@/stores/files";
import { toast } from "@/stores/toasts";
import { ConfirmDialog } from "../ui/Dialog";
import { DropZone, FileStatusBadge, UploadList } from "./FileWidgets";

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
