import { vi } from "vitest";

export interface Call {
  method: string;
  url: string;
  body: unknown;
  headers: Record<string, string>;
}

type Handler = (call: Call, signal: AbortSignal | null) => Response | Promise<Response>;

export const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

/** An SSE body that sends `tokens`, then either [DONE], nothing (hang until aborted) or EOF. */
export function sseBody(tokens: string[], end: "done" | "hang" | "eof" | { error: string }, signal: AbortSignal | null) {
  const enc = new TextEncoder();
  let i = 0;
  return new Response(
    new ReadableStream<Uint8Array>({
      pull(ctrl) {
        const t = tokens[i++];
        if (t !== undefined) {
          ctrl.enqueue(enc.encode(`data: ${JSON.stringify(t)}\n\n`));
          return;
        }
        if (end === "done") {
          ctrl.enqueue(enc.encode("data: [DONE]\n\n"));
          ctrl.close();
        } else if (end === "eof") ctrl.close();
        else if (end === "hang") {
          return new Promise<void>((_, reject) => {
            signal?.addEventListener("abort", () => {
              const err = new DOMException("aborted", "AbortError");
              ctrl.error(err);
              reject(err);
            });
          });
        } else {
          ctrl.enqueue(enc.encode(`data: [ERROR] ${end.error}\n\n`));
          ctrl.close();
        }
        return undefined;
      },
    }),
    { status: 200, headers: { "content-type": "text/event-stream" } },
  );
}

/** Installs a fetch mock; returns the recorded calls. */
export function mockFetch(handler: Handler): Call[] {
  const calls: Call[] = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
      const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
      const call: Call = {
        method: init?.method ?? "GET",
        url,
        body: typeof init?.body === "string" ? (JSON.parse(init.body) as unknown) : undefined,
        headers: Object.fromEntries([...new Headers(init?.headers).entries()].map(([k, v]) => [k.toLowerCase(), v])),
      };
      calls.push(call);
      return handler(call, init?.signal ?? null);
    }),
  );
  return calls;
}

export const until = async (cond: () => boolean, ms = 2000) => {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
};
