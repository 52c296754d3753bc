/** Thin fetch wrapper: same-origin relative URLs, typed JSON, the contract's error envelope. */

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly requestId: string | null;
  /** For validation errors: the request field the first `detail` entry names (e.g. "password"). */
  field?: string;
  /** From `Retry-After` (429, 503), in milliseconds. */
  retryAfterMs?: number;

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
  const err = await parseError(res);
  const retryAfter = Number(res.headers.get("retry-after") ?? "");
  if (res.headers.has("retry-after") && Number.isFinite(retryAfter) && retryAfter >= 0) err.retryAfterMs = retryAfter * 1000;
  return err;
}

async function parseError(res: Response): Promise<ApiError> {
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
          const err = new ApiError(res.status, code, message, typeof rid === "string" ? rid : requestId);
          err.field = fieldOf(body);
          return err;
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

/** The last string of `detail[0].loc` (["body", "password"] → "password"), when present. */
function fieldOf(body: Record<string, unknown>): string | undefined {
  const detail = body["detail"];
  if (!Array.isArray(detail)) return undefined;
  const first: unknown = detail[0];
  if (!isRecord(first) || !Array.isArray(first["loc"])) return undefined;
  const last: unknown = first["loc"].at(-1);
  return typeof last === "string" && last !== "body" ? last : undefined;
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  signal?: AbortSignal;
  timeoutMs?: number;
  /** Leave out the bearer token and the 401 refresh-and-retry (the auth routes themselves). */
  anonymous?: boolean;
  /** Let the request finish even when the page unloads (fetch keepalive). */
  keepalive?: boolean;
}

/**
 * How requests authenticate, installed by the auth store (the client does not import it).
 * `token()` is the in-memory access token (null when signed out or auth is off); `refresh()`
 * tries once to get a new one (resolving null on failure); `unauthorized()` is called when a
 * 401 survives the refresh, to send the user to sign-in.
 */
export interface AuthHooks {
  token: () => string | null;
  refresh: () => Promise<string | null>;
  unauthorized: () => void;
}

let auth: AuthHooks | null = null;

export function setAuthHooks(hooks: AuthHooks | null): void {
  auth = hooks;
}

/**
 * One request; with auth hooks installed it sends `Authorization: Bearer …`, and a 401 triggers
 * one refresh and one retry, then `unauthorized()`.
 */
export async function rawRequest(path: string, opts: RequestOptions = {}): Promise<Response> {
  const hooks = opts.anonymous ? null : auth;
  const token = hooks?.token() ?? null;
  const res = await send(path, opts, token);
  if (res.status !== 401 || !hooks) return res;
  const fresh = await hooks.refresh();
  if (fresh) {
    const again = await send(path, opts, fresh);
    if (again.status !== 401) return again;
    hooks.unauthorized();
    return again;
  }
  hooks.unauthorized();
  return res;
}

async function send(path: string, opts: RequestOptions, token: string | null): Promise<Response> {
  const { method = "GET", body, signal, timeoutMs = 30_000 } = opts;
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(new DOMException("timeout", "TimeoutError")), timeoutMs);
  const onAbort = () => ctrl.abort(signal?.reason);
  signal?.addEventListener("abort", onAbort, { once: true });
  const headers: Record<string, string> = { Accept: "application/json" };
  if (token) headers["Authorization"] = `Bearer ${token}`;
  const init: RequestInit = { method, signal: ctrl.signal, headers, credentials: "same-origin" };
  if (opts.keepalive) init.keepalive = true;
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    headers["Content-Type"] = "application/json";
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

export interface UploadOptions {
  /** Bytes sent so far and the total, as the browser reports them (XHR upload progress). */
  onProgress?: (loaded: number, total: number) => void;
  signal?: AbortSignal;
  /** Whole request, body included (a large file on a slow link takes minutes). */
  timeoutMs?: number;
}

interface XhrAnswer {
  status: number;
  text: string;
  headers: Headers;
}

/**
 * POSTs a multipart form with XMLHttpRequest: fetch cannot report upload progress, XHR can.
 * Same auth as `request` (bearer token, one refresh-and-retry on 401) and the same errors
 * (ApiError from the envelope, NetworkError when the server was not reached or timed out).
 */
export async function uploadForm<T>(path: string, form: FormData, opts: UploadOptions = {}): Promise<T> {
  const hooks = auth;
  let res = await sendXhr(path, form, opts, hooks?.token() ?? null);
  if (res.status === 401 && hooks) {
    const fresh = await hooks.refresh();
    if (fresh) res = await sendXhr(path, form, opts, fresh);
    if (res.status === 401) hooks.unauthorized();
  }
  if (res.status < 200 || res.status >= 300) {
    throw await errorFromResponse(new Response(res.text, { status: res.status, headers: res.headers }));
  }
  return (res.text ? JSON.parse(res.text) : undefined) as T;
}

function abortReason(signal: AbortSignal | undefined): Error {
  const r: unknown = signal?.reason;
  return r instanceof Error ? r : new DOMException("aborted", "AbortError");
}

function sendXhr(path: string, form: FormData, opts: UploadOptions, token: string | null): Promise<XhrAnswer> {
  const { onProgress, signal, timeoutMs = 600_000 } = opts;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortReason(signal));
      return;
    }
    const xhr = new XMLHttpRequest();
    xhr.open("POST", path);
    xhr.timeout = timeoutMs;
    xhr.withCredentials = true;
    xhr.setRequestHeader("Accept", "application/json");
    if (token) xhr.setRequestHeader("Authorization", `Bearer ${token}`);
    if (onProgress) xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : 0);
    const onAbort = () => xhr.abort();
    signal?.addEventListener("abort", onAbort, { once: true });
    const done = () => signal?.removeEventListener("abort", onAbort);
    xhr.onload = () => {
      done();
      const headers = new Headers();
      for (const line of xhr.getAllResponseHeaders().trim().split(/[\r\n]+/)) {
        const i = line.indexOf(":");
        if (i > 0) headers.append(line.slice(0, i).trim(), line.slice(i + 1).trim());
      }
      resolve({ status: xhr.status, text: xhr.responseText, headers });
    };
    const fail = (message: string) => () => {
      done();
      if (typeof window !== "undefined") window.dispatchEvent(new Event(NETWORK_ERROR_EVENT));
      reject(new NetworkError(message));
    };
    xhr.onerror = fail("Cannot reach the server (the upload broke off)");
    xhr.ontimeout = fail("The upload timed out");
    xhr.onabort = () => {
      done();
      reject(abortReason(signal));
    };
    xhr.send(form);
  });
}
