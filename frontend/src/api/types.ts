/** Wire shapes from the API contract (§8) plus Sable's additive endpoints. */

export type Role = "user" | "assistant" | "system";

export interface HealthResponse {
  status: string;
  service: string;
  version: string;
  environment: string;
}

export type DependencyStatus = "up" | "down";

export interface DependencyCheck {
  status: DependencyStatus;
  latency_ms?: number;
  error?: string;
}

export interface ReadyResponse {
  /** "ready" or "degraded" (other values from other servers are shown as they are). */
  status: string;
  checks: Record<string, DependencyCheck | undefined>;
}

export interface GenerateRequest {
  prompt: string;
  model?: string | null;
  max_tokens?: number;
  temperature?: number;
  system_prompt?: string | null;
  /** Additive: the server stores the user and assistant turns itself. */
  session_id?: string;
  /** Additive (with session_id): this stored message and every later one are replaced. */
  replace_from_message_id?: string;
}

export interface ModelInfo {
  id: string;
  provider: string;
  description?: string;
}

export interface ModelsResponse {
  models: ModelInfo[];
  default: string;
  fallback?: string;
}

export type JsonObject = { [key: string]: JsonValue };
export type JsonValue = string | number | boolean | null | JsonValue[] | JsonObject;

export interface ChatSessionOut {
  id: string;
  user_id: string;
  title: string;
  system_prompt: string | null;
  created_at: string;
  updated_at: string;
  message_count: number;
}

export interface ChatMessageOut {
  id: string;
  session_id: string;
  role: Role;
  content: string;
  meta: JsonObject | null;
  created_at: string;
}

export interface ChatSessionDetail extends ChatSessionOut {
  messages: ChatMessageOut[];
}

export interface SearchResult {
  session_id: string;
  session_title: string;
  message_id: string;
  role: Role;
  /** Matched words wrapped in <mark>…</mark>, everything else HTML-escaped. */
  snippet: string;
  created_at: string;
  rank: number;
}

export interface SearchResponse {
  results: SearchResult[];
}

export type JobStatus = "pending" | "running" | "completed" | "failed" | "cancelled";

export interface JobResponse {
  job_id: string;
  status: JobStatus;
  created_at: string;
  completed_at: string | null;
  total_prompts: number;
  completed_prompts: number;
  results: string[];
  error: string | null;
  /** Additive fields a server may send. */
  prompts?: string[];
  model?: string | null;
  max_tokens?: number | null;
  failed_prompts?: number;
  /** `result_indexes[k]` is the 0-based prompt index that `results[k]` answers. */
  result_indexes?: number[];
  prompt_errors?: { index: number; message: string }[];
  attempts?: number;
  max_attempts?: number;
  cancel_requested?: boolean;
  last_error?: string | null;
  started_at?: string | null;
  updated_at?: string | null;
}

export interface JobSubmission {
  prompts: string[];
  model?: string | null;
  max_tokens?: number;
}

export interface JobsListResponse {
  jobs: JobResponse[];
  next_before?: string | null;
}

export interface WorkshopContent {
  content: string;
  path: string;
}

export interface MetricsSummary {
  requests_per_sec: number;
  p50_ms: number;
  p99_ms: number;
  tokens_per_sec: number;
  queue_depth: number;
  jobs_per_sec: number;
  window_secs?: number;
}
