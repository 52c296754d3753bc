/**
 * Errors as people read them: a short sentence from the error's code, and the technical
 * details (code, HTTP status, request id, the server's own words) for a "Details" disclosure.
 */
import { ApiError, NetworkError } from "@/api/client";
import { StreamError } from "@/api/sse";

export interface HumanError {
  message: string;
  /** Code, status, request id and the original message; shown behind "Details". */
  details?: string;
}

const BY_CODE: Record<string, string> = {
  UNAUTHORIZED: "Your session has ended. Sign in again.",
  INVALID_CREDENTIALS: "Wrong email or password.",
  FORBIDDEN: "You do not have access to this.",
  NOT_FOUND: "It no longer exists.",
  SESSION_NOT_FOUND: "This conversation no longer exists.",
  JOB_NOT_FOUND: "This job no longer exists.",
  PAYLOAD_TOO_LARGE: "That is too large to send.",
  RATE_LIMITED: "Too many requests right now. Wait a moment and try again.",
  CONTEXT_TOO_LONG: "The conversation is too long for the model. Start a new chat or shorten your message.",
  CONTENT_POLICY: "The model provider declined this request under its content policy.",
  UNKNOWN_MODEL: "That model is not available. Choose another one in Settings.",
  INVALID_REQUEST: "The model provider rejected this request.",
  PROVIDER_OVERLOADED: "The model is busy. Try again in a moment.",
  PROVIDER_TIMEOUT: "The model took too long to answer. Try again.",
  PROVIDER_AUTH: "The server cannot sign in to its model provider. Tell the administrator.",
  PROVIDER_UNREACHABLE: "The model provider cannot be reached right now. Try again shortly.",
  SERVICE_UNAVAILABLE: "A service is unavailable right now. Try again shortly.",
  INTERNAL_ERROR: "Something went wrong on the server.",
  INFERENCE_ERROR: "The model could not answer. Try again.",
  STREAM_INTERRUPTED: "The answer broke off. Try again.",
  DATABASE_UNAVAILABLE: "The database is unavailable right now. Try again shortly.",
  // Sable's own quotas (tokens or cost per day, file storage); the server's sentence, which
  // names the quota, what is used and allowed (and when it resets), is shown when there is one.
  QUOTA_EXCEEDED: "Your quota on this server is used up.",
  MODEL_NOT_FOUND: "That model is not available. Choose another one in Settings.",
  REGISTRATION_CLOSED: "Registration is closed on this server.",
  AUTH_DISABLED: "Accounts are turned off on this server.",
  METHOD_NOT_ALLOWED: "The server does not support this action.",
};

/** Codes whose server message says more than a fixed sentence could (which quota, used, allowed). */
const SERVER_WORDS = new Set(["QUOTA_EXCEEDED"]);

const BY_STATUS: Record<number, string> = {
  401: BY_CODE["UNAUTHORIZED"] ?? "",
  403: BY_CODE["FORBIDDEN"] ?? "",
  404: BY_CODE["NOT_FOUND"] ?? "",
  413: BY_CODE["PAYLOAD_TOO_LARGE"] ?? "",
  429: BY_CODE["RATE_LIMITED"] ?? "",
  502: "The model service cannot be reached right now. Try again shortly.",
  503: BY_CODE["SERVICE_UNAVAILABLE"] ?? "",
  504: "The server took too long to answer. Try again.",
};

function sentence(text: string): string {
  const t = text.trim().replace(/^Invalid request:\s*/, "");
  if (!t) return t;
  const s = t.charAt(0).toUpperCase() + t.slice(1);
  return /[.!?]$/.test(s) ? s : `${s}.`;
}

function join(parts: (string | null | undefined | false)[]): string {
  return parts.filter(Boolean).join(" · ");
}

/** `[ERROR] <CODE>: <message>` from a stream, split into its code and message. */
export function splitStreamError(text: string): { code: string | null; message: string } {
  const m = /^([A-Z][A-Z0-9_]+):\s*(.*)$/s.exec(text.trim());
  return m ? { code: m[1] ?? null, message: m[2] ?? "" } : { code: null, message: text };
}

export function humanError(e: unknown): HumanError {
  if (e instanceof ApiError) {
    let message = BY_CODE[e.code] ?? BY_STATUS[e.status];
    if (SERVER_WORDS.has(e.code)) {
      // Also on 429: its Retry-After is the quota's reset (hours away), not a rate limit's wait.
      message = sentence(e.message) || message;
    } else if (e.status === 429 && e.retryAfterMs !== undefined) {
      message = `Too many requests right now. Try again in ${Math.max(1, Math.ceil(e.retryAfterMs / 1000))} s.`;
    }
    // Validation and conflicts: the server's own sentence says what is wrong.
    if (e.status === 422 || e.status === 409 || e.status === 400 || !message) message = sentence(e.message) || "The request failed.";
    return {
      message,
      details: join([`${e.code} (HTTP ${e.status})`, e.requestId && `request ${e.requestId}`, e.message !== message && e.message]),
    };
  }
  if (e instanceof StreamError) {
    const { code, message: raw } = splitStreamError(e.message);
    const own = code && SERVER_WORDS.has(code) ? sentence(raw) : "";
    const message = own || ((code && BY_CODE[code]) ?? (sentence(raw) || "The answer could not be completed."));
    return { message, details: join([code, raw !== message && raw]) || undefined };
  }
  if (e instanceof NetworkError) {
    return { message: "Cannot reach the server. Check your connection and try again.", details: e.message };
  }
  if (e instanceof Error) return { message: sentence(e.message) || "Something went wrong." };
  return { message: String(e) };
}
