/** Pure helpers for the Files page and the composer's attachments (sizes, states, errors). */
import { ApiError } from "@/api/client";
import type { FileOut, FileStatus } from "@/api/types";
import { humanError } from "./errors";

/** Still being ingested: polled until it is ready or failed. */
export const isIngesting = (f: Pick<FileOut, "status">) => f.status === "pending" || f.status === "processing";

/** "812 B", "14.2 KB", "3.4 MB" (decimal units, as FILE_MAX_BYTES is stated). */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return "–";
  if (n < 1000) return `${n} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let v = n / 1000;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

const STATUS_WORDS: Record<FileStatus, string> = {
  pending: "Queued",
  processing: "Processing",
  ready: "Ready",
  failed: "Failed",
};

/** The badge's words: "Processing · embedding" while a stage is known. */
export function fileStatusText(f: Pick<FileOut, "status" | "stage">): string {
  const words = STATUS_WORDS[f.status] ?? f.status;
  return f.status === "processing" && f.stage ? `${words} · ${f.stage}` : words;
}

/** "12 pages · 48 passages" once known; pages only for paged formats (PDF). */
export function fileDetails(f: Pick<FileOut, "pages" | "chunk_count" | "status">): string {
  const parts: string[] = [];
  if (f.pages) parts.push(`${f.pages} page${f.pages === 1 ? "" : "s"}`);
  if (f.status === "ready" || f.chunk_count > 0) parts.push(`${f.chunk_count} passage${f.chunk_count === 1 ? "" : "s"}`);
  return parts.join(" · ");
}

/** 0..100, or null when the browser cannot tell the total. */
export function uploadPercent(loaded: number, total: number): number | null {
  if (total <= 0) return null;
  return Math.min(100, Math.round((loaded / total) * 100));
}

/**
 * Why an upload was refused, in words. The upload codes carry the server's own sentence (the
 * size limit, the supported types, the quota used and allowed), which says more than a generic
 * line; everything else reads as any other API error.
 */
export function uploadErrorText(e: unknown): string {
  if (e instanceof ApiError) {
    if (["FILE_TOO_LARGE", "UNSUPPORTED_FILE_TYPE", "QUOTA_EXCEEDED", "INVALID_UPLOAD"].includes(e.code) || e.status === 413 || e.status === 415) {
      return e.message;
    }
  }
  return humanError(e).message;
}

/** Keeps one record per id, newest first (the server's order), the given file replacing an older copy. */
export function upsertFile(list: FileOut[], file: FileOut): FileOut[] {
  const rest = list.filter((f) => f.id !== file.id);
  return [file, ...rest].sort((a, b) => (a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : 0));
}
