/**
 * Batch jobs. The server owns job state; this store caches it and remembers, per job, the
 * prompts that were submitted (the contract's JobResponse does not echo them back).
 */
import { create } from "zustand";
import { persist } from "zustand/middleware";
import { api } from "@/api/endpoints";
import type { JobResponse, JobView } from "@/api/types";
import { requestedFor, stillFor } from "./session-user";
import { toast, toastError } from "./toasts";

export const JOBS_KEY = "sable-jobs";

export const isActive = (j: JobResponse) => j.status === "pending" || j.status === "running";

interface JobsState {
  jobs: JobView[];
  /** Submitted prompts per job id (persisted). */
  prompts: Record<string, string[]>;
  /** Job ids submitted from this browser, used when the server has no list endpoint. */
  knownIds: string[];
  /**
   * The user whose prompts and job ids these are (null: nobody signed in, or accounts off).
   * Stored with them, so that a sign-in by someone else forgets them even when the previous
   * user never signed out (an expired session).
   */
  owner: string | null;
  status: "idle" | "loading" | "ready" | "error";
  /** Cursor for the next (older) page of the server's job list; null when there is none. */
  nextBefore: string | null;
  load: () => Promise<void>;
  loadMore: () => Promise<void>;
  submit: (prompts: string[], model?: string, maxTokens?: number, name?: string) => Promise<JobResponse | null>;
  refresh: (id: string) => Promise<void>;
  refreshActive: () => Promise<void>;
  cancel: (id: string) => Promise<void>;
  /** Runs one failed prompt (index from 0) of a finished job again. */
  retryPrompt: (id: string, index: number) => Promise<void>;
  /** Deletes a finished job. */
  remove: (id: string) => Promise<boolean>;
  /** Keeps the prompts and job ids for `userId`, or forgets them when they were someone else's. */
  forUser: (userId: string | null) => void;
}

function upsert(list: JobView[], job: JobView): JobView[] {
  const rest = list.filter((j) => j.job_id !== job.job_id);
  return [job, ...rest].sort((a, b) => (a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : 0));
}

/** Splits textarea or file contents into prompts: one per non-blank line; CSV takes column 1. */
export function parsePrompts(text: string, csv = false): string[] {
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  const out: string[] = [];
  for (const line of lines) {
    if (!line) continue;
    out.push(csv ? firstCsvField(line) : line);
  }
  const cleaned = out.filter((p) => p.length > 0);
  if (csv && cleaned.length > 1 && /^prompts?$/i.test(cleaned[0] ?? "")) cleaned.shift();
  return cleaned;
}

function firstCsvField(line: string): string {
  if (!line.startsWith('"')) return (line.split(",")[0] ?? "").trim();
  let out = "";
  for (let i = 1; i < line.length; i++) {
    const c = line[i];
    if (c === '"') {
      if (line[i + 1] === '"') {
        out += '"';
        i++;
      } else break;
    } else out += c;
  }
  return out.trim();
}

export const useJobs = create<JobsState>()(
  persist(
    (set, get) => {
      const notifyTransition = (prev: JobResponse | undefined, next: JobResponse) => {
        if (!prev || !isActive(prev) || isActive(next)) return;
        if (next.status === "completed") toast.success(next.name ? `Job “${next.name}” completed` : "Job completed", progressText(next));
        else if (next.status === "failed") toast.error("Job failed", next.error ?? "Unknown error");
      };
      return {
        jobs: [],
        prompts: {},
        knownIds: [],
        owner: null,
        status: "idle",
        nextBefore: null,

        // Each answer is kept only while the user it was asked for is still signed in: after a
        // sign-out or another user's sign-in (the stores are reset) it belongs to nobody on screen,
        // and neither does its toast (success or failure).
        load: async () => {
          set({ status: "loading" });
          const user = requestedFor();
          try {
            const page = await api.listJobs(50);
            if (!stillFor(user)) return;
            if (page) {
              set({ jobs: page.jobs.reduce(upsert, [] as JobView[]), status: "ready", nextBefore: page.nextBefore });
              return;
            }
            // No list endpoint: fetch the jobs this browser submitted.
            const fetched = await Promise.all(get().knownIds.map((id) => api.getJob(id).catch(() => null)));
            if (!stillFor(user)) return;
            set({ jobs: fetched.filter((j): j is JobResponse => j !== null).reduce(upsert, []), status: "ready" });
          } catch (e) {
            if (!stillFor(user)) return;
            set({ status: "error" });
            toastError("Could not load jobs", e);
          }
        },

        loadMore: async () => {
          const before = get().nextBefore;
          if (!before) return;
          const user = requestedFor();
          try {
            const page = await api.listJobs(50, before);
            if (!page || !stillFor(user)) return;
            set((s) => ({ jobs: page.jobs.reduce(upsert, s.jobs), nextBefore: page.nextBefore }));
          } catch (e) {
            if (stillFor(user)) toastError("Could not load more jobs", e);
          }
        },

        submit: async (prompts, model, maxTokens, name) => {
          const user = requestedFor();
          try {
            const job = await api.submitJob({ prompts, model: model || undefined, max_tokens: maxTokens, name: name?.trim() || undefined });
            if (!stillFor(user)) return null;
            set((s) => ({
              jobs: upsert(s.jobs, job),
              prompts: { ...s.prompts, [job.job_id]: prompts },
              knownIds: [job.job_id, ...s.knownIds].slice(0, 200),
            }));
            return job;
          } catch (e) {
            if (stillFor(user)) toastError("Job submission failed", e);
            return null;
          }
        },

        refresh: async (id) => {
          const user = requestedFor();
          try {
            const job = await api.getJob(id);
            if (!stillFor(user)) return;
            const prev = get().jobs.find((j) => j.job_id === id);
            set((s) => ({ jobs: upsert(s.jobs, job) }));
            notifyTransition(prev, job);
          } catch {
            /* transient: the next poll retries */
          }
        },

        refreshActive: async () => {
          await Promise.all(get().jobs.filter(isActive).map((j) => get().refresh(j.job_id)));
        },

        cancel: async (id) => {
          const user = requestedFor();
          try {
            const job = await api.cancelJob(id);
            if (!stillFor(user)) return;
            set((s) => ({ jobs: upsert(s.jobs, job) }));
            toast.info("Job cancelled");
          } catch (e) {
            if (stillFor(user)) toastError("Cancel failed", e);
          }
        },
        retryPrompt: async (id, index) => {
          const user = requestedFor();
          try {
            const job = await api.retryJobPrompt(id, index);
            if (!stillFor(user)) return;
            set((s) => ({ jobs: upsert(s.jobs, job) }));
            toast.info(`Prompt #${index + 1} queued again`);
          } catch (e) {
            if (stillFor(user)) toastError("Retry failed", e);
          }
        },
        remove: async (id) => {
          const user = requestedFor();
          try {
            await api.deleteJob(id);
            if (!stillFor(user)) return false;
            set((s) => ({ jobs: s.jobs.filter((j) => j.job_id !== id), knownIds: s.knownIds.filter((k) => k !== id) }));
            toast.success("Job deleted");
            return true;
          } catch (e) {
            if (stillFor(user)) toastError("Delete failed", e);
            return false;
          }
        },
        forUser: (userId) => {
          if (get().owner !== userId) set({ prompts: {}, knownIds: [], owner: userId });
        },
      };
    },
    {
      name: JOBS_KEY,
      version: 1,
      partialize: ({ prompts, knownIds, owner }) => ({ prompts, knownIds, owner }),
    },
  ),
);

export function jobPrompts(job: JobResponse, remembered: Record<string, string[]>): string[] {
  return job.prompts && job.prompts.length > 0 ? job.prompts : (remembered[job.job_id] ?? []);
}

/** Results laid out by prompt index (servers may answer prompts out of order or skip failed ones). */
export function resultsByPrompt(job: JobResponse): (string | undefined)[] {
  const out: (string | undefined)[] = new Array<string | undefined>(job.total_prompts).fill(undefined);
  const idx = job.result_indexes;
  job.results.forEach((r, k) => {
    const i = idx && idx.length === job.results.length ? (idx[k] ?? k) : k;
    out[i] = r;
  });
  return out;
}

export function errorsByPrompt(job: JobResponse): Map<number, string> {
  return new Map((job.prompt_errors ?? []).map((e) => [e.index, e.message]));
}

/** Share of prompts that reached a final state (answered or failed), 0..100. */
export function jobPercent(job: JobResponse): number {
  if (job.total_prompts <= 0) return job.status === "completed" ? 100 : 0;
  const done = job.completed_prompts + (job.failed_prompts ?? 0);
  return Math.min(100, Math.round((done / job.total_prompts) * 100));
}

/** "3 of 4 done, 1 failed": answered prompts of all, and the failed ones when there are any. */
export function progressText(job: JobResponse): string {
  const failed = job.failed_prompts ?? 0;
  return `${job.completed_prompts} of ${job.total_prompts} done${failed > 0 ? `, ${failed} failed` : ""}`;
}

export function jobToJson(job: JobResponse, prompts: string[]): string {
  const results = resultsByPrompt(job);
  const errors = errorsByPrompt(job);
  const n = Math.max(prompts.length, results.length);
  const rows = Array.from({ length: n }, (_, i) => ({
    index: i + 1,
    prompt: prompts[i] ?? null,
    result: results[i] ?? null,
    ...(errors.has(i) ? { error: errors.get(i) } : {}),
  }));
  return JSON.stringify({ ...job, items: rows }, null, 2);
}

const csvCell = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

export function jobToCsv(job: JobResponse, prompts: string[]): string {
  const results = resultsByPrompt(job);
  const errors = errorsByPrompt(job);
  const n = Math.max(prompts.length, results.length);
  const lines = ["index,prompt,result,error"];
  for (let i = 0; i < n; i++) {
    lines.push([String(i + 1), csvCell(prompts[i] ?? ""), csvCell(results[i] ?? ""), csvCell(errors.get(i) ?? "")].join(","));
  }
  return lines.join("\r\n") + "\r\n";
}
