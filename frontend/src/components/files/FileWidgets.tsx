/**
 * Pieces of the Files page that the chat's attach dialog uses too (kept apart from the page so
 * the chat route does not load the whole page).
 */
import { UploadCloud, X } from "lucide-react";
import { type DragEvent, useId, useRef, useState } from "react";
import type { FileOut, FileStatus } from "@/api/types";
import { fileStatusText, formatBytes, uploadPercent } from "@/lib/files";
import { type Upload, useFiles } from "@/stores/files";

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

