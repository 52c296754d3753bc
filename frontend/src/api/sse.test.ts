import { describe, expect, it } from "vitest";
import { consumeSse, parseDataPayload, readSse, StreamError, type SseEvent } from "./sse";

/** A body that delivers the given byte chunks one by one, like a slow network. */
function bodyOf(chunks: (string | Uint8Array)[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(ctrl) {
      const c = chunks[i++];
      if (c === undefined) ctrl.close();
      else ctrl.enqueue(typeof c === "string" ? enc.encode(c) : c);
    },
  });
}

async function collect(chunks: (string | Uint8Array)[]): Promise<SseEvent[]> {
  const out: SseEvent[] = [];
  for await (const ev of readSse(bodyOf(chunks))) out.push(ev);
  return out;
}

const tokens = (evs: SseEvent[]) => evs.flatMap((e) => (e.type === "token" ? [e.token] : []));

describe("SSE reader", () => {
  it("reads Sable's meta event (sources before the first token) apart from the tokens", async () => {
    const meta = { sources: [{ n: 1, file_id: "f", filename: "a.md" }] };
    const wire = `event: meta\ndata: ${JSON.stringify(meta)}\n\ndata: "Zebras [1]"\n\nevent: meta\ndata: {broken\n\ndata: [DONE]\n\n`;
    for (const chunks of [[wire], wire.split("")]) {
      const evs = await collect(chunks);
      expect(evs).toEqual([{ type: "meta", data: meta }, { type: "token", token: "Zebras [1]" }, { type: "done" }]);
    }
    const seen: unknown[] = [];
    const end = await consumeSse(bodyOf([wire]), (t) => seen.push(t), (m) => seen.push(m));
    expect(end).toBe("done");
    expect(seen).toEqual([meta, "Zebras [1]"]);
  });

  it("reads one token per event and stops at [DONE]", async () => {
    const evs = await collect(['data: "Hello "\n\ndata: "world"\n\ndata: [DONE]\n\n']);
    expect(evs).toEqual([{ type: "token", token: "Hello " }, { type: "token", token: "world" }, { type: "done" }]);
  });

  it("reassembles events split across network chunks at any byte", async () => {
    const wire = 'data: "alpha "\n\ndata: "beta "\n\ndata: "gamma"\n\ndata: [DONE]\n\n';
    for (let cut = 1; cut < wire.length; cut++) {
      const evs = await collect([wire.slice(0, cut), wire.slice(cut)]);
      expect(tokens(evs).join("")).toBe("alpha beta gamma");
      expect(evs.at(-1)).toEqual({ type: "done" });
    }
    const oneByteAtATime = await collect(wire.split(""));
    expect(tokens(oneByteAtATime)).toEqual(["alpha ", "beta ", "gamma"]);
  });

  it("decodes multi-byte UTF-8 split between chunks", async () => {
    const bytes = new TextEncoder().encode('data: "héllo 🌍"\n\ndata: [DONE]\n\n');
    const evs = await collect([bytes.slice(0, 9), bytes.slice(9, 14), bytes.slice(14)]);
    expect(tokens(evs)).toEqual(["héllo 🌍"]);
  });

  it("keeps newlines, quotes, backslashes and tabs in JSON-encoded tokens", async () => {
    const evs = await collect([
      'data: "### Heading\\n\\n"\n\n',
      'data: "\\"there\\" "\n\n',
      'data: "a\\\\b\\t"\n\n',
      'data: "\\u00e9t\\u00e9"\n\n',
      "data: [DONE]\n\n",
    ]);
    expect(tokens(evs)).toEqual(["### Heading\n\n", '"there" ', "a\\b\t", "été"]);
  });

  it("reports [ERROR] with its message and stops reading", async () => {
    const evs = await collect(['data: "partial "\n\n', "data: [ERROR] model exploded\n\n", 'data: "ignored"\n\n']);
    expect(evs).toEqual([
      { type: "token", token: "partial " },
      { type: "error", message: "model exploded" },
    ]);
  });

  it("treats a stream that ends without [DONE] as finished, including a last line without newline", async () => {
    const evs = await collect(['data: "one "\n\n', 'data: "two"']);
    expect(evs).toEqual([
      { type: "token", token: "one " },
      { type: "token", token: "two" },
    ]);
  });

  it("tolerates CRLF line endings, comments and other fields", async () => {
    const evs = await collect([': ping\r\n\r\nevent: token\r\ndata: "x"\r\n\r\ndata: [DONE]\r\n\r\n']);
    expect(evs).toEqual([{ type: "token", token: "x" }, { type: "done" }]);
  });

  it("falls back to raw text for payloads that are not JSON strings", () => {
    expect(parseDataPayload("plain words")).toEqual({ type: "token", token: "plain words" });
    expect(parseDataPayload('"unterminated')).toEqual({ type: "token", token: '"unterminated' });
    expect(parseDataPayload("[ERROR]")).toEqual({ type: "error", message: "Generation failed" });
  });

  it("an empty body ends as eof with no tokens", async () => {
    const seen: string[] = [];
    await expect(consumeSse(bodyOf([]), (t) => seen.push(t))).resolves.toBe("eof");
    expect(seen).toEqual([]);
  });
});

describe("consumeSse", () => {
  it("delivers tokens and resolves 'done' on [DONE]", async () => {
    const seen: string[] = [];
    const end = await consumeSse(bodyOf(['data: "a"\n\ndata: "b"\n', "\ndata: [DONE]\n\n"]), (t) => seen.push(t));
    expect(end).toBe("done");
    expect(seen).toEqual(["a", "b"]);
  });

  it("resolves 'eof' when the body ends without [DONE]", async () => {
    await expect(consumeSse(bodyOf(['data: "a"\n\n']), () => undefined)).resolves.toBe("eof");
  });

  it("rejects with StreamError on [ERROR] after delivering earlier tokens", async () => {
    const seen: string[] = [];
    const p = consumeSse(bodyOf(['data: "a"\n\ndata: [ERROR] upstream timed out\n\n']), (t) => seen.push(t));
    await expect(p).rejects.toBeInstanceOf(StreamError);
    await expect(
      consumeSse(bodyOf(["data: [ERROR] upstream timed out\n\n"]), () => undefined),
    ).rejects.toThrow("upstream timed out");
    expect(seen).toEqual(["a"]);
  });
});
