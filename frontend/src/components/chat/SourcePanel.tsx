import { Download, FileX, X } from "lucide-react";
import { useEffect, useRef, useState } from "react";
import { ApiError, describeError, errorFromResponse, rawRequest } from "@/api/client";
import { api, downloadFromUrl } from "@/api/endpoints";
import type { FileOut } from "@/api/types";
import { locatePassage, passageWindow, sourceLabel, type Source } from "@/lib/citations";
import { useFiles } from "@/stores/files";
import { useSourcePanel } from "@/stores/source-panel";
import { toast } from "@/stores/toasts";

/** Formats whose stored bytes are the text the passages were cut from (so it can be shown around them). */
const TEXT_KINDS = new Set(["markdown", "text", "csv"]);
/** Larger files are not fetched just to show a passage's surroundings. */
const CONTEXT_MAX_BYTES = 2_000_000;

type View =
  | { state: "loading" }
  | { state: "deleted" }
  | { state: "snippet" }
  | { state: "context"; before: string; passage: string; after: string };

/** The cited file, or null when it was deleted (read from the loaded list when it is complete). */
async function findFile(id: string): Promise<FileOut | null> {
  const st = useFiles.getState();
  if (st.status === "idle") await st.load();
  const now = useFiles.getState();
  const known = now.files.find((f) => f.id === id);
  if (known) return known;
  if (now.status === "ready" && now.nextBefore === null) return null;
  try {
    return await api.getFile(id);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return null;
    throw e;
  }
}

/** The passage in its surrounding text when the file is text, else the passage alone. */
async function loadView(source: Source, signal: AbortSignal): Promise<View> {
  if (source.deleted) return { state: "deleted" };
  const file = await findFile(source.file_id);
  if (!file) return { state: "deleted" };
  if (!TEXT_KINDS.has(file.kind) || file.size_bytes > CONTEXT_MAX_BYTES) return { state: "snippet" };
  const res = await rawRequest(api.fileContentUrl(file.id), { signal, timeoutMs: 20_000 });
  if (res.status === 404) return { state: "deleted" };
  if (!res.ok) throw await errorFromResponse(res);
  const text = await res.text();
  const at = locatePassage(text, source.snippet);
  return at ? { state: "context", ...passageWindow(text, at) } : { state: "snippet" };
}

/**
 * The side panel of a citation: the passage highlighted in its surrounding text (for text
 * files; other formats show the passage as the answer was given it), the file's name and
 * page, and the whole file to download. A deleted file's passage stays readable, marked so.
 * Beside the conversation from md up; over it on a phone.
 */
export function SourcePanel() {
  const { source, close } = useSourcePanel();
  const [view, setView] = useState<{ key: string; view: View } | null>(null);
  const mark = useRef<HTMLElement>(null);
  const panel = useRef<HTMLElement>(null);
  const key = source ? `${source.file_id}:${source.chunk_id}:${source.n}` : "";

  useEffect(() => {
    if (!source) return;
    const ctrl = new AbortController();
    loadView(source, ctrl.signal).then(
      (v) => !ctrl.signal.aborted && setView({ key, view: v }),
      (e: unknown) => {
        if (ctrl.signal.aborted) return;
        console.warn("source context unavailable", describeError(e));
        setView({ key, view: { state: "snippet" } });
      },
    );
    return () => ctrl.abort();
  }, [source, key]);

  const shown: View = view?.key === key ? view.view : { state: "loading" };
  useEffect(() => {
    if (shown.state === "context") mark.current?.scrollIntoView({ block: "center" });
  }, [shown.state, key]);
  // The panel takes the focus when it opens (keyboard users land in it); Esc closes it.
  useEffect(() => {
    if (!source) return;
    panel.current?.focus();
    const onKey = (e: KeyboardEvent) => e.key === "Escape" && close();
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [source, close]);

  if (!source) return null;
  const deleted = shown.state === "deleted";
  return (
    <aside
      ref={panel}
      tabIndex={-1}
      aria-label={`Source ${source.n}`}
      data-testid="source-panel"
      className="fixed inset-0 z-40 flex flex-col bg-white outline-none md:static md:inset-auto md:z-auto md:w-96 md:shrink-0 md:border-l md:border-zinc-200 dark:bg-zinc-950 md:dark:border-zinc-800"
    >
      <div className="flex items-start gap-2 border-b border-zinc-200 px-4 py-3 dark:border-zinc-800">
        <span className="mt-0.5 inline-flex h-5 min-w-5 items-center justify-center rounded bg-violet-100 px-1 text-xs font-semibold text-accent-700 dark:bg-violet-950 dark:text-violet-300">
          {source.n}
        </span>
        <div className="min-w-0 flex-1">
          <h2 className="break-words text-sm font-semibold" data-testid="source-filename">
            {source.filename}
          </h2>
          <p className="text-xs text-zinc-500">
            {[source.page ? `Page ${source.page}` : null, source.heading].filter(Boolean).join(" · ") || "Passage"}
          </p>
        </div>
        <button type="button" className="btn-icon" aria-label="Close source" onClick={close}>
          <X size={18} />
        </button>
      </div>
      <div className="min-h-0 flex-1 overflow-y-auto px-4 py-3 text-sm leading-relaxed">
        {deleted && (
          <p className="mb-3 flex items-center gap-1.5 rounded-lg bg-zinc-100 px-3 py-2 text-xs text-zinc-600 dark:bg-zinc-900 dark:text-zinc-400" data-testid="source-deleted">
            <FileX size={14} aria-hidden /> Source deleted: the file is gone; this is the passage as the answer was given it.
          </p>
        )}
        {shown.state === "loading" && <p className="text-zinc-500">Loading the passage…</p>}
        {shown.state === "context" ? (
          <p className="whitespace-pre-wrap break-words text-zinc-600 dark:text-zinc-400" data-testid="source-context">
            {shown.before}
            <mark ref={mark} className="rounded bg-amber-200 px-0.5 text-zinc-900 dark:bg-amber-500/40 dark:text-zinc-50" data-testid="source-passage">
              {shown.passage}
            </mark>
            {shown.after}
          </p>
        ) : (
          shown.state !== "loading" && (
            <p className="whitespace-pre-wrap break-words">
              <mark className="rounded bg-amber-200 px-0.5 text-zinc-900 dark:bg-amber-500/40 dark:text-zinc-50" data-testid="source-passage">
                {source.snippet}
              </mark>
            </p>
          )
        )}
      </div>
      {!deleted && shown.state !== "loading" && (
        <div className="border-t border-zinc-200 px-4 py-3 dark:border-zinc-800">
          <button
            type="button"
            className="btn-secondary w-full"
            onClick={() =>
              void downloadFromUrl(api.fileContentUrl(source.file_id), source.filename).catch((e: unknown) => toast.error("Download failed", describeError(e)))
            }
          >
            <Download size={14} aria-hidden /> Open the whole file
          </button>
        </div>
      )}
    </aside>
  );
}

/** A source in a list under an answer: its number, file and page; opens the panel. */
export function SourceChip({ source }: { source: Source }) {
  const open = useSourcePanel((s) => s.open);
  return (
    <button
      type="button"
      onClick={() => open(source)}
      className={`inline-flex max-w-full items-center gap-1.5 rounded-lg border border-zinc-200 px-2 py-1 text-left text-xs hover:bg-zinc-50 dark:border-zinc-800 dark:hover:bg-zinc-900 ${source.deleted ? "opacity-70" : ""}`}
      data-testid="source-chip"
      title={source.snippet.slice(0, 200)}
    >
      <span className="font-semibold text-accent-700 dark:text-violet-300">{source.n}</span>
      <span className={`truncate ${source.deleted ? "line-through" : ""}`}>{sourceLabel(source)}</span>
      {source.deleted && <span className="shrink-0 text-zinc-500">source deleted</span>}
    </button>
  );
}
