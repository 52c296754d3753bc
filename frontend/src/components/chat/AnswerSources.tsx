import { ChevronDown, ChevronRight } from "lucide-react";
import { type ReactNode, useMemo, useState } from "react";
import { citedIn, type Source, uncitedSources } from "@/lib/citations";
import type { UiMessage } from "@/stores/chat";
import { useSourcePanel } from "@/stores/source-panel";
import { type CitationHandlers, CitationContext } from "../markdown/citations";
import { SourceChip } from "./SourcePanel";

/** The numbers an answer cites: stored `meta.cited`, or read from its text while it streams. */
export function useGrounding(m: UiMessage) {
  const sources = m.meta.sources;
  const valid = useMemo(() => new Set((sources ?? []).map((s) => s.n)), [sources]);
  const cited = useMemo(() => m.meta.cited ?? (sources ? citedIn(m.content, valid) : []), [m.meta.cited, sources, m.content, valid]);
  return { sources, valid, cited };
}

/** Lets the citation buttons in an answer's markdown open their source in the side panel. */
export function CitationProvider({ sources, children }: { sources: Source[] | undefined; children: ReactNode }) {
  const open = useSourcePanel((s) => s.open);
  const value = useMemo<CitationHandlers | null>(() => {
    if (!sources?.length) return null;
    const byN = new Map(sources.map((s) => [s.n, s]));
    return {
      sources: byN,
      open: (n) => {
        const s = byN.get(n);
        if (s) open(s);
      },
    };
  }, [sources, open]);
  return <CitationContext.Provider value={value}>{children}</CitationContext.Provider>;
}

/**
 * Under a grounded answer: the sources it cites, then the ones it was given but did not cite,
 * folded (and past a few, behind "Show all"). An empty list says the search found nothing.
 */
export function AnswerSources({ m }: { m: UiMessage }) {
  const { sources, cited } = useGrounding(m);
  const [all, setAll] = useState(false);
  if (!sources) return null;
  if (sources.length === 0) {
    return <p className="mt-2 text-xs text-zinc-500">Searched your files: nothing relevant was found.</p>;
  }
  const byN = new Map(sources.map((s) => [s.n, s]));
  const used = cited.map((n) => byN.get(n)).filter((s): s is Source => s !== undefined);
  const rest = uncitedSources(sources, cited, all ? Infinity : undefined);
  const uncitedCount = rest.shown.length + rest.hidden;
  return (
    <div className="mt-2 space-y-1.5" data-testid="answer-sources">
      {used.length > 0 && (
        <ul className="flex flex-wrap gap-1.5" aria-label="Sources cited">
          {used.map((s) => (
            <li key={s.n} className="max-w-full">
              <SourceChip source={s} />
            </li>
          ))}
        </ul>
      )}
      {uncitedCount > 0 && <UncitedSources count={uncitedCount} shown={rest.shown} hidden={rest.hidden} onShowAll={() => setAll(true)} />}
    </div>
  );
}

function UncitedSources({ count, shown, hidden, onShowAll }: { count: number; shown: Source[]; hidden: number; onShowAll: () => void }) {
  const [open, setOpen] = useState(false);
  return (
    <div data-testid="uncited-sources">
      <button type="button" className="inline-flex items-center gap-1 text-xs text-zinc-500 hover:text-zinc-800 dark:hover:text-zinc-200" aria-expanded={open} onClick={() => setOpen((o) => !o)}>
        {open ? <ChevronDown size={12} aria-hidden /> : <ChevronRight size={12} aria-hidden />}
        {count} more passage{count === 1 ? "" : "s"} given but not cited
      </button>
      {open && (
        <ul className="mt-1 flex flex-wrap gap-1.5" aria-label="Sources not cited">
          {shown.map((s) => (
            <li key={s.n} className="max-w-full">
              <SourceChip source={s} />
            </li>
          ))}
          {hidden > 0 && (
            <li>
              <button type="button" className="px-2 py-1 text-xs text-accent-600 hover:underline dark:text-violet-300" onClick={onShowAll}>
                Show all ({hidden} more)
              </button>
            </li>
          )}
        </ul>
      )}
    </div>
  );
}
