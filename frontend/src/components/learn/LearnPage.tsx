import { ArrowLeft, FileText } from "lucide-react";
import { useEffect, useState } from "react";
import { Link, useParams } from "react-router";
import { ApiError } from "@/api/client";
import { humanError } from "@/lib/errors";
import { api } from "@/api/endpoints";
import { Markdown } from "../markdown/Markdown";
import { WorkshopIndex } from "./WorkshopIndex";

export const DOCS: { path: string; title: string; blurb: string }[] = [
  { path: "README.md", title: "README", blurb: "What Sable is, how to run it and how to configure it." },
  { path: "ARCHITECTURE.md", title: "Architecture", blurb: "Bird's-eye view, crate map and invariants." },
  { path: "docs/benchmarks.md", title: "Benchmarks", blurb: "Measured throughput and latency on a 2-core machine." },
  { path: "CHANGELOG.md", title: "Changelog", blurb: "What changed, release by release." },
];

interface DocEntry {
  path: string;
  title: string;
  blurb?: string;
}

export function LearnIndex() {
  const [docs, setDocs] = useState<DocEntry[]>(DOCS);
  useEffect(() => {
    let live = true;
    api
      .workshopIndex()
      .then((list) => {
        if (!live || !list) return;
        const known = new Set(DOCS.map((d) => d.path));
        setDocs([...DOCS, ...list.filter((d) => !known.has(d.path))]);
      })
      .catch(() => undefined);
    return () => {
      live = false;
    };
  }, []);
  return (
    <div className="h-full overflow-y-auto">
      <div className="mx-auto max-w-3xl p-4 sm:p-6">
        <h2 className="text-xl font-semibold">Learn</h2>
        <div className="mt-5">
          <WorkshopIndex />
        </div>
        <h3 className="mt-10 text-lg font-semibold">Documentation</h3>
        <p className="mt-1 text-sm text-zinc-500">This project's own documentation, served by the gateway.</p>
        <ul className="mt-4 grid grid-cols-1 gap-3 sm:grid-cols-2">
          {docs.map((d) => (
            <li key={d.path}>
              <Link to={`/learn/${d.path}`} className="card block h-full hover:border-accent-500">
                <span className="flex items-center gap-2 font-medium">
                  <FileText size={16} aria-hidden /> {d.title}
                </span>
                {d.blurb && <span className="mt-1 block text-sm text-zinc-500">{d.blurb}</span>}
                <code className="mt-2 block text-xs text-zinc-400">{d.path}</code>
              </Link>
            </li>
          ))}
        </ul>
      </div>
    </div>
  );
}

type DocState =
  | { kind: "loading" }
  | { kind: "ok"; content: string }
  | { kind: "missing"; message: string }
  | { kind: "error"; message: string };

export function LearnDoc() {
  const params = useParams();
  const path = params["*"] ?? "";
  const [attempt, setAttempt] = useState(0);
  // The loaded state is keyed by what was asked for, so a new path or a retry reads as loading.
  const key = `${attempt}:${path}`;
  const [loaded, setLoaded] = useState<{ key: string; state: DocState } | null>(null);
  const state: DocState = loaded?.key === key ? loaded.state : { kind: "loading" };

  useEffect(() => {
    let live = true;
    const setState = (s: DocState) => live && setLoaded({ key, state: s });
    api
      .workshopContent(path)
      .then((r) => setState({ kind: "ok", content: r.content }))
      .catch((e: unknown) => {
        if (e instanceof ApiError && e.status >= 400 && e.status < 500) setState({ kind: "missing", message: e.message });
        else setState({ kind: "error", message: humanError(e).message });
      });
    return () => {
      live = false;
    };
  }, [path, key]);

  return (
    <div className="h-full overflow-y-auto">
      <article className="mx-auto max-w-3xl p-4 sm:p-6">
        <nav aria-label="Breadcrumb" className="mb-4 flex items-center gap-2 text-sm text-zinc-500">
          <Link to="/learn" className="inline-flex items-center gap-1 hover:underline">
            <ArrowLeft size={14} aria-hidden /> Learn
          </Link>
          <span aria-hidden>/</span>
          <code>{path}</code>
        </nav>
        {state.kind === "loading" && (
          <div className="space-y-3" aria-label="Loading document">
            {[80, 95, 70, 90].map((w, i) => (
              <div key={i} className="h-4 animate-pulse rounded bg-zinc-100 dark:bg-zinc-900" style={{ width: `${w}%` }} />
            ))}
          </div>
        )}
        {state.kind === "ok" && <Markdown text={state.content} docBase={path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : ""} />}
        {state.kind === "missing" && (
          <div className="card text-sm">
            <p className="font-medium">Content not yet available</p>
            <p className="mt-1 text-zinc-500">{state.message}</p>
          </div>
        )}
        {state.kind === "error" && (
          <div className="card text-sm">
            <p className="font-medium text-red-600">Could not load this page</p>
            <p className="mt-1 text-zinc-500">{state.message}</p>
            <button type="button" className="btn-secondary mt-3" onClick={() => setAttempt((a) => a + 1)}>
              Retry
            </button>
          </div>
        )}
      </article>
    </div>
  );
}
