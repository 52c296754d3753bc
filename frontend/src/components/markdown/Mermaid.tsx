import type MermaidDefault from "mermaid";
import { useEffect, useId, useRef, useState } from "react";
import { resolveDark, useSettings } from "@/stores/settings";

type MermaidApi = typeof MermaidDefault;
let loading: Promise<MermaidApi> | null = null;
const loadMermaid = () => {
  loading ??= import("mermaid").then((m) => m.default);
  return loading;
};

interface Props {
  source: string;
  /** While the answer streams the source is incomplete: show it as code until it settles. */
  streaming: boolean;
}

/** Renders a mermaid diagram lazily with securityLevel 'strict'; a failed diagram shows its source. */
export function Mermaid({ source, streaming }: Props) {
  const reactId = useId();
  const id = `mmd-${reactId.replace(/[^a-zA-Z0-9]/g, "")}`;
  const theme = useSettings((s) => s.theme);
  const [svg, setSvg] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const host = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (streaming) return;
    let live = true;
    void (async () => {
      try {
        const mermaid = await loadMermaid();
        mermaid.initialize({
          startOnLoad: false,
          securityLevel: "strict",
          theme: resolveDark(theme) ? "dark" : "default",
        });
        await mermaid.parse(source);
        const { svg: out } = await mermaid.render(id, source);
        if (live) {
          setSvg(out);
          setError(null);
        }
      } catch (e) {
        document.getElementById(id)?.remove();
        document.getElementById(`d${id}`)?.remove();
        if (live) {
          setSvg(null);
          setError(e instanceof Error ? e.message : String(e));
        }
      }
    })();
    return () => {
      live = false;
    };
  }, [source, streaming, theme, id]);

  if (svg && !streaming) {
    return (
      <div
        ref={host}
        className="my-3 flex justify-center overflow-x-auto rounded-lg border border-zinc-200 bg-white p-3 dark:border-zinc-800 dark:bg-zinc-900"
        role="img"
        aria-label="Mermaid diagram"
        dangerouslySetInnerHTML={{ __html: svg }}
      />
    );
  }
  return (
    <div className="my-3 rounded-lg border border-zinc-200 dark:border-zinc-800" data-testid="mermaid-source">
      {error && (
        <p className="border-b border-red-200 bg-red-50 px-3 py-1 text-xs text-red-700 dark:border-red-900 dark:bg-red-950 dark:text-red-300">
          Diagram could not be rendered: {error.split("\n")[0]}
        </p>
      )}
      <pre className="overflow-x-auto p-3 text-[13px]">
        <code>{source}</code>
      </pre>
    </div>
  );
}
