/**
 * Reader for the contract's SSE wire format (§6): one `data: <JSON string>` line per token,
 * then `data: [DONE]`, or `data: [ERROR] <text>` on failure. Network chunks may split lines
 * and events anywhere (even inside a multi-byte UTF-8 character).
 */

export type SseEvent =
  | { type: "token"; token: string }
  | { type: "done" }
  | { type: "error"; message: string };

/** Decodes one `data:` payload into an event. */
export function parseDataPayload(payload: string): SseEvent {
  if (payload === "[DONE]") return { type: "done" };
  if (payload === "[ERROR]" || payload.startsWith("[ERROR] ")) {
    return { type: "error", message: payload.slice(8).trim() || "Generation failed" };
  }
  if (payload.startsWith('"')) {
    try {
      const v: unknown = JSON.parse(payload);
      if (typeof v === "string") return { type: "token", token: v };
    } catch {
      /* fall through: treat as raw text, like the reference client */
    }
  }
  return { type: "token", token: payload };
}

function lineToEvent(rawLine: string): SseEvent | null {
  const line = rawLine.endsWith("\r") ? rawLine.slice(0, -1) : rawLine;
  if (!line.startsWith("data:")) return null; // blank separators, comments, other fields
  let payload = line.slice(5);
  if (payload.startsWith(" ")) payload = payload.slice(1);
  return parseDataPayload(payload);
}

/**
 * Yields events as soon as their line is complete. Ends after `[DONE]` or `[ERROR]`, or when the
 * body ends; a final line without a trailing newline is still delivered.
 */
export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent, void, undefined> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let nl = buffer.indexOf("\n");
      while (nl !== -1) {
        const ev = lineToEvent(buffer.slice(0, nl));
        buffer = buffer.slice(nl + 1);
        if (ev) {
          yield ev;
          if (ev.type !== "token") return;
        }
        nl = buffer.indexOf("\n");
      }
    }
    buffer += decoder.decode();
    if (buffer) {
      const ev = lineToEvent(buffer);
      if (ev) yield ev;
    }
  } finally {
    reader.cancel().catch(() => undefined);
  }
}

export type StreamEnd = "done" | "eof";

export class StreamError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StreamError";
  }
}

/**
 * Consumes a stream, calling onToken for every token. Resolves with how it ended ("done" when
 * `[DONE]` arrived, "eof" when the body just ended); rejects with StreamError on `[ERROR]`.
 */
export async function consumeSse(
  body: ReadableStream<Uint8Array>,
  onToken: (token: string) => void,
): Promise<StreamEnd> {
  for await (const ev of readSse(body)) {
    if (ev.type === "token") onToken(ev.token);
    else if (ev.type === "error") throw new StreamError(ev.message);
    else return "done";
  }
  return "eof";
}
