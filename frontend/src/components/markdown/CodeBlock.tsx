import { useEffect, useState } from "react";
import { copyText } from "@/lib/clipboard";
import { toast } from "@/stores/toasts";
import { highlight } from "./highlighter";

interface Props {
  code: string;
  language: string;
}

export function CodeBlock({ code, language }: Props) {
  const [highlighted, setHtml] = useState<string | null>(null);
  const html = language ? highlighted : null;
  const [copied, setCopied] = useState(false);

  useEffect(() => {
    let live = true;
    if (!language) return;
    highlight(code, language)
      .then((h) => live && setHtml(h))
      .catch(() => live && setHtml(null));
    return () => {
      live = false;
    };
  }, [code, language]);

  const onCopy = async () => {
    if (await copyText(code)) {
      setCopied(true);
      toast.success("Copied to clipboard");
      setTimeout(() => setCopied(false), 1500);
    } else toast.error("Copy failed");
  };

  return (
    <div className="code-block group my-3 overflow-hidden rounded-lg border border-zinc-200 dark:border-zinc-800">
      <div className="flex items-center justify-between bg-zinc-100 px-3 py-1 text-xs text-zinc-600 dark:bg-zinc-900 dark:text-zinc-400">
        <span>{language || "output"}</span>
        <button
          type="button"
          onClick={onCopy}
          className="rounded px-2 py-0.5 hover:bg-zinc-200 dark:hover:bg-zinc-800"
          aria-label={`Copy ${language || "output"} code`}
        >
          {copied ? "Copied" : "Copy"}
        </button>
      </div>
      <pre className="hljs overflow-x-auto bg-zinc-50 p-3 text-[13px] leading-relaxed dark:bg-zinc-950">
        {html !== null ? <code dangerouslySetInnerHTML={{ __html: html }} /> : <code>{code}</code>}
      </pre>
    </div>
  );
}
