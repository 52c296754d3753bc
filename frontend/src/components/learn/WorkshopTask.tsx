import { ArrowLeft, CheckCircle2, ChevronLeft, ChevronRight, Circle, Presentation, X } from "lucide-react";
import { useCallback, useEffect, useRef, useState } from "react";
import { Link, useParams } from "react-router";
import { api } from "@/api/endpoints";
import type { WorkshopTaskProgress } from "@/api/types";
import { humanError } from "@/lib/errors";
import { Markdown } from "../markdown/Markdown";
import { allTasks, PAGE_LABELS, PART_NAMES, splitSlides, taskUrl, useWorkshop } from "./workshop-data";

type Content = { key: string; state: "ok"; text: string } | { key: string; state: "error"; message: string };

/** One workshop task: its four pages as tabs, done/not done, previous and next task. */
export function WorkshopTaskPage() {
  const { taskId = "", page = "overview" } = useParams();
  const { curriculum, progress, error, reload } = useWorkshop();
  const [saved, setSaved] = useState<WorkshopTaskProgress | null>(null);
  const [content, setContent] = useState<Content | null>(null);
  const [presenting, setPresenting] = useState(false);

  const tasks = allTasks(curriculum);
  const index = tasks.findIndex((t) => t.task.id === taskId);
  const entry = index >= 0 ? tasks[index] : undefined;
  const current = entry?.task.pages.find((p) => p.kind === page);
  const path = current?.path ?? "";

  // Where the learner is, for "continue where you left off" (best effort: reading works without it).
  const openedTask = entry?.task.id;
  const openedPage = current?.kind;
  useEffect(() => {
    if (!openedTask || !openedPage) return;
    api
      .saveWorkshopProgress({ task_id: openedTask, page: openedPage })
      .then(setSaved)
      .catch(() => undefined);
  }, [openedTask, openedPage]);

  useEffect(() => {
    if (!path) return;
    let live = true;
    api
      .workshopContent(path)
      .then((r) => live && setContent({ key: path, state: "ok", text: r.content }))
      .catch((e: unknown) => live && setContent({ key: path, state: "error", message: humanError(e).message }));
    return () => {
      live = false;
    };
  }, [path]);

  const fromServer = progress?.tasks.find((t) => t.task_id === taskId) ?? null;
  const status = saved?.task_id === taskId ? saved : fromServer;
  const done = status?.done ?? false;
  const toggleDone = useCallback(() => {
    api
      .saveWorkshopProgress({ task_id: taskId, done: !done })
      .then(setSaved)
      .catch(() => reload());
  }, [taskId, done, reload]);

  if (error) {
    return (
      <Frame>
        <p className="card text-sm">{error}</p>
      </Frame>
    );
  }
  if (!curriculum) {
    return (
      <Frame>
        <div className="h-32 animate-pulse rounded bg-zinc-100 dark:bg-zinc-900" aria-label="Loading the task" />
      </Frame>
    );
  }
  if (!entry || !current) {
    return (
      <Frame>
        <div className="card text-sm">
          <p className="font-medium">No such workshop page</p>
          <p className="mt-1 text-zinc-500">
            {taskId} / {page}
          </p>
        </div>
      </Frame>
    );
  }

  const { part, task } = entry;
  const prev = index > 0 ? tasks[index - 1] : undefined;
  const next = index + 1 < tasks.length ? tasks[index + 1] : undefined;
  const loaded = content?.key === path ? content : null;
  const docBase = `workshop/${path.slice(0, path.lastIndexOf("/"))}`;

  return (
    <Frame>
      <nav aria-label="Breadcrumb" className="mb-3 flex flex-wrap items-center gap-2 text-sm text-zinc-500">
        <Link to="/learn" className="inline-flex items-center gap-1 hover:underline">
          <ArrowLeft size={14} aria-hidden /> Learn
        </Link>
        <span aria-hidden>/</span>
        <span>{PART_NAMES[part.id] ?? `Part ${part.id}`}</span>
      </nav>
      <div className="flex flex-wrap items-start justify-between gap-3">
        <h2 className="text-xl font-semibold">{task.title}</h2>
        <button
          type="button"
          className={done ? "btn-secondary inline-flex items-center gap-1.5" : "btn-primary inline-flex items-center gap-1.5"}
          onClick={toggleDone}
          aria-pressed={done}
          data-testid="workshop-done"
        >
          {done ? <CheckCircle2 size={16} aria-hidden /> : <Circle size={16} aria-hidden />}
          {done ? (status?.completed_via === "check" ? "Done · lab check passed" : "Done") : "Mark as done"}
        </button>
      </div>
      <div role="tablist" aria-label="Task pages" className="mt-4 flex gap-1 overflow-x-auto border-b border-zinc-200 dark:border-zinc-800">
        {task.pages.map((p) => (
          <Link
            key={p.kind}
            role="tab"
            aria-selected={p.kind === current.kind}
            to={taskUrl(task.id, p.kind)}
            className={`shrink-0 whitespace-nowrap border-b-2 px-3 py-2 text-sm ${
              p.kind === current.kind
                ? "border-accent-500 font-medium text-zinc-900 dark:text-zinc-100"
                : "border-transparent text-zinc-500 hover:text-zinc-800 dark:hover:text-zinc-200"
            }`}
          >
            {PAGE_LABELS[p.kind] ?? p.kind}
          </Link>
        ))}
      </div>
      <div role="tabpanel" className="mt-5">
        {!loaded && (
          <div className="space-y-3" aria-label="Loading page">
            {[80, 95, 70].map((w) => (
              <div key={w} className="h-4 animate-pulse rounded bg-zinc-100 dark:bg-zinc-900" style={{ width: `${w}%` }} />
            ))}
          </div>
        )}
        {loaded?.state === "error" && <p className="card text-sm">{loaded.message}</p>}
        {loaded?.state === "ok" && current.kind === "slides" && (
          <SlidesOutline slides={splitSlides(loaded.text)} docBase={docBase} onPresent={() => setPresenting(true)} />
        )}
        {loaded?.state === "ok" && current.kind !== "slides" && (
          <Markdown text={current.kind === "overview" ? withoutTitle(loaded.text, task.title) : loaded.text} docBase={docBase} />
        )}
        {loaded?.state === "ok" && current.kind === "lab" && (
          <p className="card mt-6 text-sm text-zinc-500">
            When the check passes (<code>make lab-check TASK={task.id}</code>, with your API key in{" "}
            <code>SABLE_TOKEN</code> or <code>.data/workshop/token</code>), this task is marked done for you.
          </p>
        )}
      </div>
      <nav aria-label="Tasks" className="mt-10 flex flex-wrap justify-between gap-3 border-t border-zinc-200 pt-4 text-sm dark:border-zinc-800">
        {prev ? (
          <Link to={taskUrl(prev.task.id)} className="inline-flex items-center gap-1 hover:underline">
            <ChevronLeft size={14} aria-hidden /> {prev.task.title}
          </Link>
        ) : (
          <span />
        )}
        {next && (
          <Link to={taskUrl(next.task.id)} className="inline-flex items-center gap-1 hover:underline">
            {next.task.title} <ChevronRight size={14} aria-hidden />
          </Link>
        )}
      </nav>
      {presenting && loaded?.state === "ok" && (
        <SlideDeck slides={splitSlides(loaded.text)} docBase={docBase} title={task.title} onClose={() => setPresenting(false)} />
      )}
    </Frame>
  );
}

/** The overview starts with the task's title, already the page's heading. */
function withoutTitle(text: string, title: string): string {
  const first = `# ${title}`;
  return text.startsWith(first) ? text.slice(first.length).trimStart() : text;
}

function Frame({ children }: { children: React.ReactNode }) {
  return (
    <div className="h-full overflow-y-auto">
      <article className="mx-auto max-w-3xl p-4 sm:p-6">{children}</article>
    </div>
  );
}

function SlidesOutline({ slides, docBase, onPresent }: { slides: string[]; docBase: string; onPresent: () => void }) {
  return (
    <div>
      <button type="button" className="btn-primary inline-flex items-center gap-1.5" onClick={onPresent}>
        <Presentation size={16} aria-hidden /> Present ({slides.length} slides)
      </button>
      <ol className="mt-4 space-y-3">
        {slides.map((s, i) => (
          <li key={i} className="card">
            <span className="text-xs text-zinc-400">
              {i + 1} / {slides.length}
            </span>
            <Markdown text={s} docBase={docBase} />
          </li>
        ))}
      </ol>
    </div>
  );
}

/**
 * The deck, full screen: → / PageDown / Space next, ← / PageUp previous, Home / End, Escape
 * closes. The browser's full-screen mode is asked for and left on close; the overlay covers
 * the app either way (a phone may refuse full screen).
 */
export function SlideDeck({
  slides,
  docBase,
  title,
  onClose,
}: {
  slides: string[];
  docBase: string;
  title: string;
  onClose: () => void;
}) {
  const [i, setI] = useState(0);
  const root = useRef<HTMLDivElement>(null);
  const last = slides.length - 1;
  const go = useCallback((n: number) => setI(Math.max(0, Math.min(last, n))), [last]);

  useEffect(() => {
    const el = root.current;
    el?.focus();
    if (el && document.fullscreenEnabled && !document.fullscreenElement) el.requestFullscreen().catch(() => undefined);
    return () => {
      if (document.fullscreenElement) document.exitFullscreen().catch(() => undefined);
    };
  }, []);

  // Leaving full screen with the browser's own Escape closes the deck too.
  useEffect(() => {
    const el = root.current;
    let entered = false;
    const track = () => {
      if (document.fullscreenElement === el) entered = true;
      else if (entered) onClose();
    };
    document.addEventListener("fullscreenchange", track);
    return () => document.removeEventListener("fullscreenchange", track);
  }, [onClose]);

  const onKey = (e: React.KeyboardEvent) => {
    if (e.key === "ArrowRight" || e.key === "PageDown" || e.key === " ") go(i + 1);
    else if (e.key === "ArrowLeft" || e.key === "PageUp") go(i - 1);
    else if (e.key === "Home") go(0);
    else if (e.key === "End") go(last);
    else if (e.key === "Escape") onClose();
    else return;
    e.preventDefault();
  };

  return (
    <div
      ref={root}
      role="dialog"
      aria-modal="true"
      aria-label={`Slides: ${title}`}
      tabIndex={-1}
      onKeyDown={onKey}
      className="fixed inset-0 z-50 flex flex-col bg-white outline-none dark:bg-zinc-950"
      data-testid="slide-deck"
    >
      <div className="flex items-center justify-between gap-2 border-b border-zinc-200 px-4 py-2 text-sm text-zinc-500 dark:border-zinc-800">
        <span className="truncate">{title}</span>
        <span className="flex items-center gap-3">
          <span className="whitespace-nowrap" data-testid="slide-counter">
            {i + 1} / {slides.length}
          </span>
          <button type="button" className="btn-icon" onClick={onClose} aria-label="Close slides (Escape)">
            <X size={18} aria-hidden />
          </button>
        </span>
      </div>
      <div className="flex-1 overflow-y-auto">
        <div className="mx-auto flex min-h-full max-w-4xl flex-col justify-center p-6 text-lg sm:p-12 sm:text-xl">
          <Markdown text={slides[i] ?? ""} docBase={docBase} />
        </div>
      </div>
      <div className="flex items-center justify-between border-t border-zinc-200 px-4 py-2 dark:border-zinc-800">
        <button type="button" className="btn-secondary" onClick={() => go(i - 1)} disabled={i === 0} aria-label="Previous slide">
          <ChevronLeft size={18} aria-hidden />
        </button>
        <span className="hidden text-xs text-zinc-400 sm:inline">← → to move · Esc to close</span>
        <button type="button" className="btn-secondary" onClick={() => go(i + 1)} disabled={i === last} aria-label="Next slide">
          <ChevronRight size={18} aria-hidden />
        </button>
      </div>
    </div>
  );
}
