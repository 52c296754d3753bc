/**
 * Wire shapes. Everything the gateway's OpenAPI document describes is derived from the
 * generated `schema.gen.ts` (`make api-types` regenerates it; scripts/test_frontend.sh fails
 * when it is stale). Hand-written here only: what the document does not describe precisely
 * (free-form JSON `meta`, request fields the server defaults) and what the UI tolerates from
 * other servers (a readiness answer without `service`/`version`).
 */
import type { components } from "./schema.gen";

type S = components["schemas"];
/** Makes the listed keys optional (the server fills a default when they are absent). */
type Optional<T, K extends keyof T> = Omit<T, K> & Partial<Pick<T, K>>;

export type JsonObject = { [key: string]: JsonValue };
export type JsonValue = string | number | boolean | null | JsonValue[] | JsonObject;

export type Role = S["Role"];
export type HealthResponse = S["HealthResponse"];
export type ErrorEnvelope = S["ErrorEnvelope"];

export type DependencyCheck = Optional<S["CheckResult"], "latency_ms">;
/** `status` is "ready" or "degraded"; other servers may omit service/version. */
export type ReadyResponse = Optional<S["ReadinessResponse"], "service" | "version" | "checks"> & {
  checks: Record<string, DependencyCheck | undefined>;
};

/** `max_tokens` and `temperature` have server defaults (the document lists them as required). */
export type GenerateRequest = Optional<S["GenerateRequest"], "max_tokens" | "temperature">;
export type GenerateResponse = S["GenerateResponse"];

export type ModelInfo = Optional<S["ModelInfo"], "role">;
export type ModelsResponse = Omit<Optional<S["ModelsResponse"], "provider">, "models"> & { models: ModelInfo[] };

/** `meta` is free-form JSON; the document describes it only as an object. */
export type ChatMessageOut = Omit<S["ChatMessageOut"], "meta"> & { meta?: JsonObject | null };
/** Knowledge II: the files and collections a chat answers from (both empty or absent: none). */
export interface KnowledgeSettings {
  collection_ids?: string[];
  file_ids?: string[];
}
/**
 * `knowledge` is optional here whatever the document says, so that the UI (and its test
 * fixtures) work with gateways without it.
 */
export type ChatSessionOut = Omit<S["ChatSessionOut"], "knowledge"> & { knowledge?: KnowledgeSettings };
export type ChatSessionDetail = Omit<S["ChatSessionDetail"], "messages"> & { messages: ChatMessageOut[] };
export type ChatSessionCreate = Omit<S["ChatSessionCreate"], "knowledge"> & { knowledge?: KnowledgeSettings | null };
export type ChatSessionUpdate = Omit<S["ChatSessionUpdate"], "knowledge"> & { knowledge?: KnowledgeSettings | null };
/** The ids of every version of a message, oldest first. */
export type MessageVersions = S["MessageVersions"];
/** Sable's JSON export read back (`meta` free-form, as in `ChatMessageOut`). */
export type ChatSessionImport = Omit<S["ChatSessionImport"], "messages"> & {
  messages: (Omit<S["ChatMessageImport"], "meta"> & { meta?: JsonObject | null })[];
};
/** The answer of an import: the chat, and whether the same content was imported before. */
export type ImportedSession = Omit<S["ImportedSession"], "knowledge"> & { knowledge?: KnowledgeSettings };
export type FeedbackIn = S["FeedbackIn"];
export type MessageFeedback = S["MessageFeedback"];
export type FeedbackPerModel = S["FeedbackPerModel"];
export type ChatMessageCreate = Omit<S["ChatMessageCreate"], "meta"> & { meta?: JsonObject | null };

/** `snippet`: matched words wrapped in <mark>…</mark>, everything else HTML-escaped. */
export type SearchResult = S["ChatSearchHit"];
export type SearchResponse = S["ChatSearchResponse"];

export type JobStatus = S["JobStatus"];
export type JobResponse = S["JobResponse"];
export type JobSubmission = Optional<S["JobSubmission"], "max_tokens">;
/**
 * One job in `GET /jobs`. A gateway may list summaries without `results`/`prompts` (with a
 * `preview` of the first prompt); the card then fetches the full job when it is opened.
 */
export type JobListItem = Omit<JobResponse, "results"> & { results?: string[]; preview?: string; name?: string | null };
export interface JobsListResponse {
  jobs: JobListItem[];
  next_before?: string | null;
}
/** A job as the UI keeps it: `summary` is true while only the list's summary is known. */
export type JobView = JobResponse & { summary?: boolean; preview?: string; name?: string | null };

export type WorkshopContent = S["ContentResponse"];
export type DocIndex = S["DocIndex"];
export type WorkshopCurriculum = S["Curriculum"];
export type WorkshopPart = S["Part"];
export type WorkshopTask = S["Task"];
export type WorkshopProgress = S["Progress"];
export type WorkshopTaskProgress = S["TaskProgress"];
export type WorkshopProgressUpdate = S["ProgressUpdate"];

export type MetricsSummary = Optional<S["MetricsSummary"], "window_secs">;

export type FileStatus = S["FileStatus"];
export type FileOut = S["FileOut"];
export type FilePage = S["FileList"];
export type FileUploadList = S["FileUploadList"];
export type CollectionOut = S["CollectionOut"];
export type CollectionList = S["CollectionList"];
export type CollectionCreate = S["CollectionCreate"];
export type CollectionUpdate = S["CollectionUpdate"];

/** Today's usage and cost of one model, all users (admins: `GET /api/v1/admin/usage/models`). */
export type ModelUsage = S["ModelUsage"];

/**
 * One provider of the model service as the admin Providers page shows it
 * (`GET /api/v1/admin/providers`; the document describes it as a free-form object).
 */
export interface ProviderState {
  name: string;
  /** `openai` or `mock`. */
  kind: string;
  /** `up` or `cooling_down`. */
  status: string;
  cooldown_remaining_secs: number | null;
  consecutive_failures: number;
  in_flight: number;
  latency_p50_ms: number | null;
  latency_p99_ms: number | null;
  /** Recent calls counted (the last few hundred) and how many failed. */
  requests: number;
  errors: number;
  error_rate: number;
  /** As `provider/model`. */
  models: string[];
}

export interface ProvidersState {
  /** Whether a providers file is in use (else the single provider of the settings). */
  from_file: boolean;
  providers: ProviderState[];
}
