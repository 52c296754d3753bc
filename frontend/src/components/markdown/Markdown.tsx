import { isValidElement, memo, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import ReactMarkdown, { type Components } from "react-markdown";
import { Link } from "react-router";
import remarkGfm from "remark-gfm";
import { sourceLabel } from "@/lib/citations";
import { citeNumber, CitationContext, remarkCitations } from "./citations";
import { CodeBlock } from "./CodeBlock";
import type { MathPlugins } from "./math";
import { Mermaid } from "./Mermaid";

interface Props {
  text: string;
  streaming?: boolean;
  /**
   * Directory of the document being shown (Learn pages). Relative links to other `.md` files
   * then open inside the reader instead of leaving the app.
   */
  docBase?: string;
  /** A grounded answer's source numbers: markers `[n]` of these become citation buttons. */
  citations?: ReadonlySet<number>;
}

/** A citation marker: a small numbered button that opens the source's passage. */
function CitationButton({ n }: { n: number }) {
  const ctx = useContext(CitationContext);
  const source = ctx?.sources.get(n);
  const label = source ? `Source ${n}: ${sourceLabel(source)}${source.deleted ? " (source deleted)" : ""}` : `Source ${n}`;
  return (
    <button
      type="button"
      className={`citation mx-0.5 inline-flex h-[1.3em] min-w-[1.3em] items-center justify-center rounded px-1 align-super text-[0.7em] font-semibold leading-none no-underline ${
        source?.deleted
          ? "bg-zinc-100 text-zinc-500 line-through dark:bg-zinc-800"
          : "bg-violet-100 text-accent-700 hover:bg-violet-200 dark:bg-violet-950 dark:text-violet-300 dark:hover:bg-violet-900"
      }`}
      aria-label={label}
      title={label}
      data-cite={n}
      onClick={() => ctx?.open(n)}
    >
      {n}
    </button>
  );
}

/** Resolves `href` against `base` (a directory, "" for the root); null when it leaves the root. */
export function resolveDocLink(base: string, href: string): string | null {
  if (/^[a-z][a-z0-9+.-]*:/i.test(href) || href.startsWith("/") || href.startsWith("#")) return null;
  const [pathPart = "", hash = ""] = href.split("#", 2);
  if (!pathPart.toLowerCase().endsWith(".md")) return null;
  const parts = base ? base.split("/") : [];
  for (const seg of pathPart.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") {
      if (parts.length === 0) return null;
      parts.pop();
    } else parts.push(seg);
  }
  return parts.join("/") + (hash ? `#${hash}` : "");
}

function textOf(node: ReactNode): string {
  if (typeof node === "string") return node;
  if (typeof node === "number") return String(node);
  if (Array.isArray(node)) return node.map(textOf).join("");
  if (isValidElement<{ children?: ReactNode }>(node)) return textOf(node.props.children);
  return "";
}

function buildComponents(streaming: boolean, docBase?: string): Components {
  return {
    pre({ children }) {
      const child: unknown = Array.isArray(children) ? (children as unknown[])[0] : children;
      let className = "";
      if (isValidElement<{ className?: string }>(child)) className = child.props.className ?? "";
      const lang = /language-([\w+#.-]+)/.exec(className)?.[1] ?? "";
      const code = textOf(children).replace(/\n$/, "");
      if (lang.toLowerCase() === "mermaid") return <Mermaid source={code} streaming={streaming} />;
      return <CodeBlock code={code} language={lang} />;
    },
    code({ children, className }) {
      return <code className={className ?? "inline-code"}>{children}</code>;
    },
    a({ children, href }) {
      const cite = citeNumber(href);
      if (cite !== null) return <CitationButton n={cite} />;
      if (docBase !== undefined && href) {
        const doc = resolveDocLink(docBase, href);
        if (doc !== null) return <Link to={`/learn/${doc}`}>{children}</Link>;
        if (href.startsWith("#")) return <a href={href}>{children}</a>;
      }
      return (
        <a href={href} target="_blank" rel="noopener noreferrer">
          {children}
        </a>
      );
    },
    img({ src, alt }) {
      return <img src={typeof src === "string" ? src : undefined} alt={alt ?? ""} loading="lazy" />;
    },
    table({ children }) {
      return (
        // Wide tables scroll sideways (phones) instead of breaking words inside cells.
        <div className="overflow-x-auto" data-testid="md-table-scroll">
          <table>{children}</table>
        </div>
      );
    },
  };
}

const streamingComponents = buildComponents(true);
const staticComponents = buildComponents(false);

/**
 * Whether `text` may hold TeX math: `$$…$$`, or `$…$` whose content neither starts nor ends
 * with a space (so "$5 and $10" does not count). Only decides whether KaTeX is loaded; what is
 * math is then remark-math's call.
 */
export function hasMath(text: string): boolean {
  return /\$\$[\s\S]+?\$\$/.test(text) || /(^|[^\\$])\$[^\s$](?:[^$\n]*?[^\s$\\])?\$(?!\d)/m.test(text);
}

let mathLoaded: MathPlugins | null = null;
let mathLoading: Promise<MathPlugins> | null = null;
/** Loads KaTeX (and its CSS) once, on the first text with math. */
export function loadMath(): Promise<MathPlugins> {
  mathLoading ??= import("./math").then((m) => (mathLoaded = m.mathPlugins));
  return mathLoading;
}

/** The math plugins once loaded, when `text` needs them; loading starts on first need. */
function useMath(text: string): MathPlugins | null {
  const needed = useMemo(() => hasMath(text), [text]);
  const [plugins, setPlugins] = useState<MathPlugins | null>(mathLoaded);
  useEffect(() => {
    if (!needed || plugins) return;
    let live = true;
    loadMath().then(
      (p) => live && setPlugins(p),
      () => {
        mathLoading = null; // a failed chunk load is retried by the next text with math
      },
    );
    return () => {
      live = false;
    };
  }, [needed, plugins]);
  return needed ? plugins : null;
}

/** The one markdown renderer used by chat answers and the Learn pages (GFM, code, math, mermaid). */
export const Markdown = memo(function Markdown({ text, streaming = false, docBase, citations }: Props) {
  const components = useMemo(
    () => (docBase !== undefined ? buildComponents(false, docBase) : streaming ? streamingComponents : staticComponents),
    [docBase, streaming],
  );
  const math = useMath(text);
  const remarkPlugins = useMemo(() => {
    const list = math ? [remarkGfm, math.remark] : [remarkGfm];
    return citations && citations.size > 0 ? [...list, remarkCitations(citations)] : list;
  }, [math, citations]);
  const rehypePlugins = useMemo(() => (math ? [math.rehype] : []), [math]);
  return (
    <div className="prose-sable">
      <ReactMarkdown remarkPlugins={remarkPlugins} rehypePlugins={rehypePlugins} components={components}>
        {text}
      </ReactMarkdown>
    </div>
  );
});
