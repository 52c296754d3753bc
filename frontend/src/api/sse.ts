/**
 * Reader for the contract's SSE wire format (§6): one `data: <JSON string>` line per token,
 * then `data: [DONE]`, or `data: [ERROR] <text>` on failure. Network chunks may split lines
 * and events anywhere (even inside a multi-byte UTF-8 character). Sable adds one named event,
 * `event: meta` with a JSON object (a grounded answer's `sources`, before the first token).
 */
import type { JsonObject } from "./types";

export type SseEvent =
  | { type: "token"; token: string }
  | { type: "meta"; data: JsonObject }
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

/**
 * Reads lines into events. Remembers the `event:` name until the blank line that ends the
 * event: the data of a `meta` event is a JSON object, not a token (an unreadable one is
 * skipped rather than shown as text); other names read as tokens, as they always have.
 */
function lineReader(): (rawLine: string) => SseEvent | null {
  let name = "";
  return (rawLine) => {
    const line = rawLine.endsWith("\r") ? rawLine.slice(0, -1) : rawLine;
    if (line === "") {
      name = "";
      return null;
    }
    if (line.startsWith("event:")) {
      name = line.slice(6).trim();
      return null;
    }
    if (!line.startsWith("data:")) return null; // comments, other fields
    let payload = line.slice(5);
    if (payload.startsWith(" ")) payload = payload.slice(1);
    if (name === "meta") {
      try {
        const v: unknown = JSON.parse(payload);
        if (typeof v === "object" && v !== null && !Array.isArray(v)) return { type: "meta", data: v as JsonObject };
      } catch {
        /* not JSON: skipped */
      }
      return null;
    }
    return parseDataPayload(payload);
  };
}

/**
 * Yields events as soon as their line is complete. Ends after `[DONE]` or `[ERROR]`, or when the
 * body ends; a final line without a trailing newline is still delivered.
 */
export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent, void, undefined> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const lineToEvent = lineReader();
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
          if (ev.type === "done" || ev.type === "error") return;
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
 * Consumes a stream, calling onToken for every token (and onMeta for a `meta` event). Resolves
 * with how it ended ("done" when `[DONE]` arrived, "eof" when the body just ended); rejects
 * with StreamError on `[ERROR]`.
 */
export async function consumeSse(
  body: ReadableStream<Uint8Array>,
  onToken: (token: string) => void,
  onMeta?: (meta: JsonObject) => void,
): Promise<StreamEnd> {
  for await (const ev of readSse(body)) {
    if (ev.type === "token") onToken(ev.token);
    else if (ev.type === "meta") onMeta?.(ev.data);
    else if (ev.type === "error") throw new StreamError(ev.message);
    else return "done";
  }
  return "eof";
}
