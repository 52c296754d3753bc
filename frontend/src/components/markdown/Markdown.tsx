import { isValidElement, memo, type ReactNode } from "react";
import ReactMarkdown, { type Components } from "react-markdown";
import remarkGfm from "remark-gfm";
import { CodeBlock } from "./CodeBlock";
import { Mermaid } from "./Mermaid";

interface Props {
  text: string;
  streaming?: boolean;
}

function textOf(node: ReactNode): string {
  if (typeof node === "string") return node;
  if (typeof node === "number") return String(node);
  if (Array.isArray(node)) return node.map(textOf).join("");
  if (isValidElement<{ children?: ReactNode }>(node)) return textOf(node.props.children);
  return "";
}

function buildComponents(streaming: boolean): Components {
  return {
    pre({ children }) {
      const child = Array.isArray(children) ? children[0] : children;
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
        <div className="overflow-x-auto">
          <table>{children}</table>
        </div>
      );
    },
  };
}

const streamingComponents = buildComponents(true);
const staticComponents = buildComponents(false);

/** The one markdown renderer used by chat answers and the Learn pages (GFM, code, mermaid). */
export const Markdown = memo(function Markdown({ text, streaming = false }: Props) {
  return (
    <div className="prose-sable">
      <ReactMarkdown remarkPlugins={[remarkGfm]} components={streaming ? streamingComponents : staticComponents}>
        {text}
      </ReactMarkdown>
    </div>
  );
});
