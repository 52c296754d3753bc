import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { Markdown } from "./Markdown";

const html = (text: string, cites: number[]) => renderToStaticMarkup(<Markdown text={text} citations={new Set(cites)} />);

describe("citations in markdown", () => {
  it("turns known markers into citation buttons, in text, lists and emphasis", () => {
    const out = html("Zebras migrate [1].\n\n- **grass [2][1]**\n", [1, 2]);
    expect(out.match(/data-cite="\d"/g)).toEqual(['data-cite="1"', 'data-cite="2"', 'data-cite="1"']);
    expect(out).toContain("Zebras migrate ");
  });

  it("leaves code, unknown numbers and answers without sources alone", () => {
    const out = html("See `arr[1]` and [3], or\n\n```\nx[1]\n```\n", [1]);
    expect(out).not.toContain("data-cite");
    expect(out).toContain("[3]");
    expect(html("Plain [1].", [])).not.toContain("data-cite");
  });
});
