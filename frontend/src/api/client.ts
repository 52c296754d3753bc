/** Thin fetch wrapper: same-origin relative URLs, typed JSON, the contract's error envelope. */

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly requestId: string | null;

  constructor(status: number, code: string, message: string, requestId: string | null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.requestId = requestId;
  }
}

export const NETWORK_ERROR_EVENT = "sable:network-error";

/** True when the request never reached the server (offline, refused, aborted by timeout). */
export class NetworkError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NetworkError";
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Turns any non-2xx response into an ApiError, reading the envelope or a FastAPI-style `detail`. */
export async function errorFromResponse(res: Response): Promise<ApiError> {
  const requestId = res.headers.get("x-request-id");
  let code = "UNKNOWN_ERROR";
  let message = res.statusText || `HTTP ${res.status}`;
  let text = "";
  try {
    text = await res.text();
  } catch {
    /* body unreadable: keep the status text */
  }
  if (text) {
    try {
      const body: unknown = JSON.parse(text);
      if (isRecord(body)) {
        const env = body["error"];
        if (isRecord(env)) {
          if (typeof env["code"] === "string") code = env["code"];
          if (typeof env["message"] === "string") message = env["message"];
          const rid = env["request_id"];
          if (typeof rid === "string") return new ApiError(res.status, code, message, rid);
        } else if (typeof body["detail"] === "string") {
          message = body["detail"];
        } else if (Array.isArray(body["detail"])) {
          const first: unknown = body["detail"][0];
          if (isRecord(first) && typeof first["msg"] === "string") {
            code = "VALIDATION_ERROR";
            message = first["msg"];
          }
        }
      }
    } catch {
      message = text.slice(0, 200);
    }
  }
  return new ApiError(res.status, code, message, requestId);
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  signal?: AbortSignal;
  timeoutMs?: number;
}

export async function rawRequest(path: string, opts: RequestOptions = {}): Promise<Response> {
  const { method = "GET", body, signal, timeoutMs = 30_000 } = opts;
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(new DOMException("timeout", "TimeoutError")), timeoutMs);
  const onAbort = () => ctrl.abort(signal?.reason);
  signal?.addEventListener("abort", onAbort, { once: true });
  const init: RequestInit = { method, signal: ctrl.signal, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { Accept: "application/json", "Content-Type": "application/json" };
  }
  try {
    // The caller's signal stays linked after the headers arrive so that aborting it also
    // cancels reading the body (stopping a stream); the timeout covers the headers only.
    return await fetch(path, init);
  } catch (e) {
    signal?.removeEventListener("abort", onAbort);
    if (signal?.aborted) throw e;
    const msg = e instanceof Error ? e.message : String(e);
    // Lets the health poll re-check at once, so the offline banner appears without waiting.
    if (typeof window !== "undefined") window.dispatchEvent(new Event(NETWORK_ERROR_EVENT));
    throw new NetworkError(ctrl.signal.aborted ? "Request timed out" : `Cannot reach the server (${msg})`);
  } finally {
    clearTimeout(timer);
  }
}

export async function request<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const res = await rawRequest(path, opts);
  if (!res.ok) throw await errorFromResponse(res);
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

export function describeError(e: unknown): string {
  if (e instanceof ApiError) return e.requestId ? `${e.message} (request ${e.requestId})` : e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}
