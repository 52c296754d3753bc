/**
 * KaTeX for markdown math (`$…$`, `$$…$$`). Imported dynamically by the Markdown component
 * only when a text contains math, so neither KaTeX nor its CSS and fonts (bundled, no CDN) are
 * in the chat route's initial JavaScript.
 */
import type { Options } from "react-markdown";
import rehypeKatex from "rehype-katex";
import remarkMath from "remark-math";
import "katex/dist/katex.min.css";

type Pluggable = NonNullable<Options["remarkPlugins"]>[number];

export interface MathPlugins {
  remark: Pluggable;
  rehype: Pluggable;
}

export const mathPlugins: MathPlugins = {
  remark: remarkMath,
  // A formula KaTeX cannot parse (or one still streaming) shows as its source, in red, with
  // the reason as a tooltip, instead of breaking the answer.
  rehype: [rehypeKatex, { throwOnError: false, strict: "ignore" }],
};
