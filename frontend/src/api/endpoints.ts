/** Typed wrappers for every gateway route the UI uses. */
import { errorFromResponse, rawRequest, request, uploadForm, type UploadOptions } from "./client";
import { consumeSse, type StreamEnd } from "./sse";
import type {
  ChatMessageCreate,
  ChatMessageOut,
  ChatSessionDetail,
  ChatSessionCreate,
  ChatSessionImport,
  ChatSessionOut,
  ChatSessionUpdate,
  CollectionCreate,
  FeedbackIn,
  FeedbackPerModel,
  ImportedSession,
  CollectionList,
  CollectionOut,
  CollectionUpdate,
  DocIndex,
  FilePage,
  FileOut,
  FileUploadList,
  GenerateRequest,
  HealthResponse,
  JsonObject,
  JobResponse,
  JobsListResponse,
  JobView,
  JobSubmission,
  MessageVersions,
  MetricsSummary,
  ModelsResponse,
  ModelUsage,
  ProvidersState,
  ReadyResponse,
  SearchResponse,
  WorkshopContent,
  WorkshopCurriculum,
  WorkshopProgress,
  WorkshopProgressUpdate,
  WorkshopTaskProgress,
} from "./types";

const V1 = "/api/v1";
const isJson = (res: Response) => (res.headers.get("content-type") ?? "").includes("json");
const enc = encodeURIComponent;

function qs(params: Record<string, string | number | boolean | undefined>): string {
  const parts = Object.entries(params)
    .filter((e): e is [string, string | number | boolean] => e[1] !== undefined && e[1] !== "")
    .map(([k, v]) => `${enc(k)}=${enc(String(v))}`);
  return parts.length ? `?${parts.join("&")}` : "";
}

interface OpenApiFacts {
  paths: Set<string>;
  /** Whether a chat session takes `knowledge` (Knowledge II). */
  knowledge: boolean;
}
let openApi: Promise<OpenApiFacts | null> | null = null;

/** What the UI asks of the gateway's OpenAPI document, fetched once (null: no document). */
function openApiFacts(): Promise<OpenApiFacts | null> {
  openApi ??= rawRequest("/openapi.json", { timeoutMs: 5000, anonymous: true })
    .then(async (res) => {
      if (!res.ok || !isJson(res)) return null;
      const doc = (await res.json()) as {
        paths?: Record<string, unknown>;
        components?: { schemas?: Record<string, { properties?: Record<string, unknown> } | undefined> };
      };
      if (!doc.paths) return null;
      const update = doc.components?.schemas?.["ChatSessionUpdate"]?.properties ?? {};
      return { paths: new Set(Object.keys(doc.paths)), knowledge: "knowledge" in update };
    })
    .catch(() => {
      openApi = null; // retry on the next call
      return null;
    });
  return openApi;
}

/**
 * Whether the gateway's OpenAPI document lists `path` (true/false), or null when there is no
 * document. Lets optional, additive routes be discovered without provoking 404s.
 */
export async function documentedRoute(path: string): Promise<boolean | null> {
  const facts = await openApiFacts();
  return facts ? facts.paths.has(path) : null;
}

/** Whether chats can be given files to answer from (a gateway with Knowledge II). */
export async function supportsKnowledge(): Promise<boolean> {
  return (await openApiFacts())?.knowledge ?? false;
}

export const api = {
  health: (signal?: AbortSignal) => request<HealthResponse>("/health", { signal, timeoutMs: 5000, anonymous: true }),

  /** /health/ready answers 503 with the same body when degraded, so read it either way. */
  async ready(signal?: AbortSignal): Promise<ReadyResponse> {
    const res = await rawRequest("/health/ready", { signal, timeoutMs: 5000, anonymous: true });
    const text = await res.text();
    try {
      const body = JSON.parse(text) as ReadyResponse;
      if (body && typeof body === "object" && "checks" in body) return body;
    } catch {
      /* not JSON */
    }
    if (!res.ok) throw await errorFromResponse(new Response(text, { status: res.status, headers: res.headers }));
    return { status: "unknown", checks: {} };
  },

  models: () => request<ModelsResponse>(`${V1}/models`),

  /** Admins: each provider's health, cool-down, latency, error rate and models. */
  adminProviders: (signal?: AbortSignal) => request<ProvidersState>(`${V1}/admin/providers`, { signal }),
  /** Admins: reads the providers file again (a wrong file is 400 `PROVIDERS_FILE_INVALID`). */
  reloadProviders: () => request<ProvidersState>(`${V1}/admin/providers/reload`, { method: "POST", body: {} }),
  /** Admins: today's usage and cost by model, most expensive first. */
  usageByModel: (signal?: AbortSignal) => request<ModelUsage[]>(`${V1}/admin/usage/models`, { signal }),

  /**
   * Whether the gateway serves the metrics summary. Asked of the OpenAPI document rather than
   * by calling the route, because Chromium logs every 404 response as a console error. Only
   * when the document itself is unavailable is the route probed directly.
   */
  async hasMetricsSummary(): Promise<boolean> {
    const known = await documentedRoute(`${V1}/metrics/summary`);
    if (known !== null) return known;
    return (await api.metricsSummary()) !== null;
  },

  /** Returns null when the endpoint does not exist (404, or the SPA fallback page). */
  async metricsSummary(signal?: AbortSignal): Promise<MetricsSummary | null> {
    const res = await rawRequest(`${V1}/metrics/summary`, { signal, timeoutMs: 5000 });
    if (res.status === 404 || res.status === 405) return null;
    if (!res.ok) throw await errorFromResponse(res);
    if (!isJson(res)) return null;
    return (await res.json()) as MetricsSummary;
  },

  /** POST /generate/stream; tokens go to onToken as they arrive. Abort via signal. */
  async generateStream(
    body: GenerateRequest,
    onToken: (t: string) => void,
    signal: AbortSignal,
    onUserMessageId?: (id: string) => void,
    onAccepted?: () => void,
    onMeta?: (meta: JsonObject) => void,
  ): Promise<StreamEnd> {
    // ?meta=1: a grounded answer's sources come first as `event: meta` (Sable's addition;
    // without it the stream is the contract's bytes).
    const res = await rawRequest(`${V1}/generate/stream?meta=1`, { method: "POST", body, signal, timeoutMs: 600_000 });
    if (!res.ok) throw await errorFromResponse(res);
    onAccepted?.();
    // With session_id, Sable names the stored user turn so it can be regenerated/edited later.
    const userMessageId = res.headers.get("x-user-message-id");
    if (userMessageId && onUserMessageId) onUserMessageId(userMessageId);
    if (!res.body) return "eof";
    return consumeSse(res.body, onToken, onMeta);
  },

  /**
   * Ends the session's server-side generation (the partial answer is stored as stopped and the
   * stream ends with [DONE]). False when the gateway has no such route: then only closing the
   * stream stops it.
   */
  async stopGeneration(sessionId: string): Promise<boolean> {
    if ((await documentedRoute(`${V1}/chat/sessions/{id}/stop`)) !== true) return false;
    await request<unknown>(`${V1}/chat/sessions/${enc(sessionId)}/stop`, { method: "POST", timeoutMs: 10_000 });
    return true;
  },

  /**
   * Attaches to the session's running server-side generation: every token from the start,
   * then [DONE]. Null when nothing runs there (204) or the gateway has no such route.
   */
  async resumeStream(
    sessionId: string,
    onToken: (t: string) => void,
    signal: AbortSignal,
    onUserMessageId?: (id: string) => void,
    onAccepted?: () => void,
    onMeta?: (meta: JsonObject) => void,
  ): Promise<StreamEnd | null> {
    if ((await documentedRoute(`${V1}/chat/sessions/{id}/stream`)) !== true) return null;
    const res = await rawRequest(`${V1}/chat/sessions/${enc(sessionId)}/stream?meta=1`, { signal, timeoutMs: 600_000 });
    if (res.status === 204 || res.status === 404) return null;
    if (!res.ok) throw await errorFromResponse(res);
    const userMessageId = res.headers.get("x-user-message-id");
    if (userMessageId && onUserMessageId) onUserMessageId(userMessageId);
    onAccepted?.();
    if (!res.body) return "eof";
    return consumeSse(res.body, onToken, onMeta);
  },

  /** `filter`: Sable's additive list filters (only pinned / only archived, or their opposites). */
  /**
   * Continues a stopped or length-cut answer: the continuation's tokens are appended to the same
   * stored message. Runs as the session's server-side generation (stop and resume work on it).
   */
  async continueStream(
    sessionId: string,
    messageId: string,
    onToken: (t: string) => void,
    signal: AbortSignal,
    onAccepted?: () => void,
  ): Promise<StreamEnd> {
    const res = await rawRequest(`${V1}/chat/sessions/${enc(sessionId)}/messages/${enc(messageId)}/continue`, {
      method: "POST",
      signal,
      timeoutMs: 600_000,
    });
    if (!res.ok) throw await errorFromResponse(res);
    onAccepted?.();
    if (!res.body) return "eof";
    return consumeSse(res.body, onToken);
  },

  listSessions: (limit?: number, before?: string, filter: { pinned?: boolean; archived?: boolean; folderId?: string } = {}) =>
    request<ChatSessionOut[]>(
      `${V1}/chat/sessions${qs({ limit, before, pinned: filter.pinned, archived: filter.archived, folder_id: filter.folderId })}`,
    ),
  /** With `limit`, only the newest `limit` messages of the active path (Sable's paging). */
  getSession: (id: string, limit?: number) => request<ChatSessionDetail>(`${V1}/chat/sessions/${enc(id)}${qs({ limit })}`),
  createSession: (body: ChatSessionCreate) =>
    request<ChatSessionOut>(`${V1}/chat/sessions`, { method: "POST", body }),
  updateSession: (id: string, body: ChatSessionUpdate) =>
    request<ChatSessionOut>(`${V1}/chat/sessions/${enc(id)}`, { method: "PATCH", body }),
  deleteSession: (id: string) => request<void>(`${V1}/chat/sessions/${enc(id)}`, { method: "DELETE" }),
  addMessage: (id: string, body: ChatMessageCreate) =>
    request<ChatMessageOut>(`${V1}/chat/sessions/${enc(id)}/messages`, { method: "POST", body }),
  /** Makes the branch through `messageId` the active path; returns the session with that path. */
  activateMessage: (id: string, messageId: string) =>
    request<ChatSessionDetail>(`${V1}/chat/sessions/${enc(id)}/messages/${enc(messageId)}/activate`, {
      method: "POST",
      body: {},
    }),
  /** Every version of a message (itself included), oldest first: the ids behind "‹ 2 / 3 ›". */
  messageVersions: (id: string, messageId: string) =>
    request<MessageVersions>(`${V1}/chat/sessions/${enc(id)}/messages/${enc(messageId)}/versions`),
  /**
   * Imports Sable's JSON export of a chat as a new chat; `already_imported` when the same
   * content was imported before (the answer is then that chat, no copy is made).
   */
  importSession: (body: ChatSessionImport) =>
    request<ImportedSession>(`${V1}/chat/import`, { method: "POST", body, timeoutMs: 60_000 }),
  /** Rates an answer (1 thumbs up, -1 thumbs down) with an optional comment. */
  putFeedback: (id: string, messageId: string, body: FeedbackIn) =>
    request<ChatMessageOut>(`${V1}/chat/sessions/${enc(id)}/messages/${enc(messageId)}/feedback`, { method: "PUT", body }),
  deleteFeedback: (id: string, messageId: string) =>
    request<void>(`${V1}/chat/sessions/${enc(id)}/messages/${enc(messageId)}/feedback`, { method: "DELETE" }),
  /** Thumbs up and down per model (administrators). */
  feedbackPerModel: () => request<FeedbackPerModel>(`${V1}/metrics/feedback`),
  search: (q: string, limit = 20, signal?: AbortSignal) =>
    request<SearchResponse>(`${V1}/chat/search${qs({ q, limit })}`, { signal }),
  exportUrl: (id: string, format: "markdown" | "json") =>
    `${V1}/chat/sessions/${enc(id)}/export${qs({ format })}`,

  submitJob: (body: JobSubmission) => request<JobResponse>(`${V1}/jobs`, { method: "POST", body }),
  getJob: (id: string) => request<JobResponse>(`${V1}/jobs/${enc(id)}`),
  cancelJob: (id: string) => request<JobResponse>(`${V1}/jobs/${enc(id)}/cancel`, { method: "POST", body: {} }),
  /** Runs one failed prompt (its index, from 0) of a finished job again. */
  retryJobPrompt: (id: string, index: number) =>
    request<JobResponse>(`${V1}/jobs/${enc(id)}/prompts/${index}/retry`, { method: "POST", body: {} }),
  /** Deletes a finished job (a pending or running one is refused: cancel it first). */
  deleteJob: (id: string) => request<void>(`${V1}/jobs/${enc(id)}`, { method: "DELETE" }),
  /** Returns null when the server has no list endpoint (reference servers). */
  async listJobs(limit = 50, before?: string): Promise<{ jobs: JobView[]; nextBefore: string | null } | null> {
    if ((await documentedRoute(`${V1}/jobs`)) === false) return null;
    const res = await rawRequest(`${V1}/jobs${qs({ limit, before })}`);
    if (res.status === 404 || res.status === 405) return null;
    if (!res.ok) throw await errorFromResponse(res);
    const body = (await res.json()) as JobsListResponse;
    const jobs = body.jobs.map((j): JobView => (j.results ? { ...j, results: j.results } : { ...j, results: [], summary: true }));
    return { jobs, nextBefore: body.next_before ?? null };
  },

  /**
   * Uploads one file (multipart field `file`). One request per file, so each has its own
   * progress bar and its own answer (one unsupported file does not fail the others).
   */
  async uploadFile(file: File, opts: UploadOptions = {}): Promise<FileOut> {
    const form = new FormData();
    form.append("file", file, file.name);
    const body = await uploadForm<FileOut | FileUploadList>(`${V1}/files`, form, opts);
    const one = "files" in body ? body.files[0] : body;
    if (!one) throw new Error("The server stored no file");
    return one;
  },
  listFiles: (limit = 50, before?: string) => request<FilePage>(`${V1}/files${qs({ limit, before })}`),
  getFile: (id: string) => request<FileOut>(`${V1}/files/${enc(id)}`),
  deleteFile: (id: string) => request<void>(`${V1}/files/${enc(id)}`, { method: "DELETE" }),
  /** The original bytes (`Content-Disposition: attachment`); fetch with auth, see downloadFromUrl. */
  fileContentUrl: (id: string) => `${V1}/files/${enc(id)}/content`,
  listCollections: (limit = 200, before?: string) =>
    request<CollectionList>(`${V1}/collections${qs({ limit, before })}`),
  createCollection: (body: CollectionCreate) =>
    request<CollectionOut>(`${V1}/collections`, { method: "POST", body }),
  updateCollection: (id: string, body: CollectionUpdate) =>
    request<CollectionOut>(`${V1}/collections/${enc(id)}`, { method: "PATCH", body }),
  deleteCollection: (id: string) => request<void>(`${V1}/collections/${enc(id)}`, { method: "DELETE" }),
  addToCollection: (id: string, fileId: string) =>
    request<CollectionOut>(`${V1}/collections/${enc(id)}/files/${enc(fileId)}`, { method: "PUT" }),
  removeFromCollection: (id: string, fileId: string) =>
    request<CollectionOut>(`${V1}/collections/${enc(id)}/files/${enc(fileId)}`, { method: "DELETE" }),

  workshopCurriculum: () => request<WorkshopCurriculum>(`${V1}/workshop/curriculum`),
  workshopProgress: () => request<WorkshopProgress>(`${V1}/workshop/progress`),
  saveWorkshopProgress: (body: WorkshopProgressUpdate) =>
    request<WorkshopTaskProgress>(`${V1}/workshop/progress`, { method: "PUT", body }),
  workshopContent: (path: string) => request<WorkshopContent>(`${V1}/workshop/content${qs({ path })}`),
  /** Sable's additive docs index; null on servers without it. */
  async workshopIndex(): Promise<{ path: string; title: string }[] | null> {
    if ((await documentedRoute(`${V1}/workshop/index`)) === false) return null;
    const res = await rawRequest(`${V1}/workshop/index`);
    if (!res.ok || !isJson(res)) return null;
    const body = (await res.json()) as Partial<DocIndex>;
    return Array.isArray(body.documents) ? body.documents : null;
  },
};

/** Fetches a URL and saves it as a file, taking the name from Content-Disposition when present. */
export async function downloadFromUrl(url: string, fallbackName: string): Promise<void> {
  const res = await rawRequest(url, { timeoutMs: 60_000 });
  if (!res.ok) throw await errorFromResponse(res);
  const blob = await res.blob();
  const cd = res.headers.get("content-disposition") ?? "";
  const m = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(cd);
  saveBlob(blob, m?.[1] ? decodeURIComponent(m[1]) : fallbackName);
}

export function saveBlob(blob: Blob, name: string): void {
  const href = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = href;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 1000);
}
