import { ChevronDown, ChevronRight, FileUp, RefreshCw, Trash2, X } from "lucide-react";
import { useEffect, useRef, useState } from "react";
import { saveBlob } from "@/api/endpoints";
import type { JobStatus, JobView } from "@/api/types";
import { useJobPoll } from "@/hooks/use-job-poll";
import { relativeTime, shortId } from "@/lib/format";
import {
  errorsByPrompt,
  isActive,
  jobPercent,
  jobPrompts,
  jobToCsv,
  jobToJson,
  parsePrompts,
  progressText,
  resultsByPrompt,
  useJobs,
} from "@/stores/jobs";
import { useLimits } from "@/stores/limits";
import { useSettings } from "@/stores/settings";
import { toast } from "@/stores/toasts";

const BADGE: Record<JobStatus, string> = {
  pending: "bg-zinc-100 text-zinc-700 dark:bg-zinc-800 dark:text-zinc-300",
  running: "bg-sky-100 text-sky-800 dark:bg-sky-950 dark:text-sky-300",
  completed: "bg-emerald-100 text-emerald-800 dark:bg-emerald-950 dark:text-emerald-300",
  failed: "bg-red-100 text-red-800 dark:bg-red-950 dark:text-red-300",
  cancelled: "bg-amber-100 text-amber-800 dark:bg-amber-950 dark:text-amber-300",
};
/** A completed job some of whose prompts failed. */
const PARTIAL_BADGE = "bg-amber-100 text-amber-800 dark:bg-amber-950 dark:text-amber-300";
const BAR: Record<JobStatus, string> = {
  pending: "bg-zinc-400",
  running: "bg-sky-500",
  completed: "bg-emerald-500",
  failed: "bg-red-500",
  cancelled: "bg-amber-500",
};

/** Characters of a prompt's error shown before "Show more". */
const ERROR_PREVIEW = 60;

/** One prompt's error: clipped to a line's worth, the rest behind an expand control. */
function PromptError({ message }: { message: string }) {
  const [full, setFull] = useState(false);
  const long = message.length > ERROR_PREVIEW;
  const shown = long && !full ? `${message.slice(0, ERROR_PREVIEW).trimEnd()}…` : message;
  return (
    <span className="text-red-600 dark:text-red-400" data-testid="prompt-error">
      Failed: <span data-testid="prompt-error-text">{shown}</span>
      {long && (
        <button
          type="button"
          className="ml-1 text-xs font-medium text-accent-600 underline dark:text-violet-300"
          aria-expanded={full}
          onClick={() => setFull((f) => !f)}
        >
          {full ? "Show less" : "Show more"}
        </button>
      )}
    </span>
  );
}

/** Up to this many prompts, the card shows one mark per prompt under the progress bar. */
const MAX_PROMPT_DOTS = 60;
const PROMPT_DOT: Record<"answered" | "failed" | "pending", string> = {
  answered: "bg-emerald-500",
  failed: "bg-red-500",
  pending: "bg-zinc-200 dark:bg-zinc-700",
};

/** The status badge's words: a completed job with failed prompts says how many. */
export function statusText(job: Pick<JobView, "status" | "failed_prompts">): string {
  const failed = job.failed_prompts ?? 0;
  if (job.status === "completed" && failed > 0) return `Completed with ${failed} error${failed === 1 ? "" : "s"}`;
  return job.status.charAt(0).toUpperCase() + job.status.slice(1);
}

function JobCard({ job }: { job: JobView }) {
  const remembered = useJobs((s) => s.prompts);
  const cancel = useJobs((s) => s.cancel);
  const retryPrompt = useJobs((s) => s.retryPrompt);
  const remove = useJobs((s) => s.remove);
  const [open, setOpen] = useState(false);
  const [confirmDelete, setConfirmDelete] = useState(false);
  // Only a completed or failed job's failed prompts can run again.
  const retryable = job.status === "completed" || job.status === "failed";
  const prompts = jobPrompts(job, remembered);
  const pct = jobPercent(job);
  const results = resultsByPrompt(job);
  const errors = errorsByPrompt(job);
  const base = `job-${shortId(job.job_id)}`;
  // Jobs may carry a name; listed summaries carry a preview of the first prompt.
  const label = job.name?.trim() || job.preview || prompts[0];
  const withErrors = job.status === "completed" && (job.failed_prompts ?? 0) > 0;

  return (
    <li className="card" data-testid="job-card" data-status={job.status} data-job-id={job.job_id}>
      {/* What the job is (its name, or its first prompt's words) leads; the id is a detail. */}
      <div className="flex flex-wrap items-center gap-2">
        <span className="min-w-0 flex-1 truncate text-sm font-medium" title={label || job.job_id} data-testid="job-label">
          {label || `Job ${shortId(job.job_id)}`}
        </span>
        <div className="ml-auto flex gap-1">
          {isActive(job) && !job.cancel_requested && (
            <button type="button" className="btn-secondary px-2 py-1 text-xs" onClick={() => void cancel(job.job_id)} aria-label={`Cancel job ${shortId(job.job_id)}`}>
              <X size={12} aria-hidden /> Cancel
            </button>
          )}
          {!isActive(job) &&
            (confirmDelete ? (
              <>
                <button
                  type="button"
                  className="btn-secondary px-2 py-1 text-xs text-red-600 dark:text-red-400"
                  onClick={() => void remove(job.job_id)}
                  aria-label={`Confirm: delete job ${shortId(job.job_id)}`}
                >
                  <Trash2 size={12} aria-hidden /> Delete for good
                </button>
                <button type="button" className="btn-secondary px-2 py-1 text-xs" onClick={() => setConfirmDelete(false)}>
                  Keep
                </button>
              </>
            ) : (
              <button
                type="button"
                className="btn-secondary px-2 py-1 text-xs"
                onClick={() => setConfirmDelete(true)}
                aria-label={`Delete job ${shortId(job.job_id)}`}
              >
                <Trash2 size={12} aria-hidden /> Delete
              </button>
            ))}
          {job.results.length > 0 && (
            <>
              <button
                type="button"
                className="btn-secondary px-2 py-1 text-xs"
                onClick={() => saveBlob(new Blob([jobToJson(job, prompts)], { type: "application/json" }), `${base}.json`)}
                aria-label={`Download results of job ${shortId(job.job_id)} as JSON`}
              >
                JSON
              </button>
              <button
                type="button"
                className="btn-secondary px-2 py-1 text-xs"
                onClick={() => saveBlob(new Blob([jobToCsv(job, prompts)], { type: "text/csv" }), `${base}.csv`)}
                aria-label={`Download results of job ${shortId(job.job_id)} as CSV`}
              >
                CSV
              </button>
            </>
          )}
        </div>
      </div>
      <div className="mt-1 flex flex-wrap items-center gap-2 text-xs text-zinc-500">
        <span className={`rounded-full px-2 py-0.5 font-medium ${withErrors ? PARTIAL_BADGE : (BADGE[job.status] ?? BADGE.pending)}`} data-testid="job-status">
          {statusText(job)}
        </span>
        <time dateTime={job.created_at} title={new Date(job.created_at).toLocaleString()}>
          {relativeTime(job.created_at)}
        </time>
        <code title={job.job_id}>{shortId(job.job_id)}</code>
        {job.cancel_requested && isActive(job) && <span className="text-amber-600">cancelling…</span>}
      </div>
      <div className="mt-3 flex items-center gap-3">
        <div
          className="h-2 flex-1 overflow-hidden rounded-full bg-zinc-200 dark:bg-zinc-800"
          role="progressbar"
          aria-valuemin={0}
          aria-valuemax={100}
          aria-valuenow={pct}
          aria-label={`Progress of job ${shortId(job.job_id)}`}
        >
          <div className={`h-full rounded-full transition-[width] duration-300 ${BAR[job.status] ?? BAR.pending}`} style={{ width: `${pct}%` }} />
        </div>
        <span className="shrink-0 text-right text-xs tabular-nums text-zinc-600 dark:text-zinc-400" data-testid="job-progress">
          {progressText(job)}
        </span>
      </div>
      {!job.summary && job.total_prompts > 1 && job.total_prompts <= MAX_PROMPT_DOTS && (
        // One mark per prompt: which are answered, which failed, which are still to come.
        <ol className="mt-2 flex flex-wrap gap-1" aria-label="Progress per prompt" data-testid="prompt-progress">
          {Array.from({ length: job.total_prompts }, (_, i) => {
            const state = results[i] !== undefined ? "answered" : errors.has(i) ? "failed" : "pending";
            return (
              <li
                key={i}
                className={`h-2 w-4 rounded-sm ${PROMPT_DOT[state]}`}
                title={`Prompt #${i + 1}: ${state}`}
                aria-label={`Prompt #${i + 1}: ${state}`}
                data-state={state}
              />
            );
          })}
        </ol>
      )}
      {job.error && <p className="mt-2 text-sm text-red-600 dark:text-red-400">{job.error}</p>}
      {!job.error && job.last_error && isActive(job) && (
        <p className="mt-2 text-xs text-amber-700 dark:text-amber-400">
          Retrying (attempt {job.attempts ?? "?"}/{job.max_attempts ?? "?"}): {job.last_error}
        </p>
      )}
      {(job.results.length > 0 || prompts.length > 0 || (job.summary && job.completed_prompts > 0)) && (
        <div className="mt-2">
          <button
            type="button"
            className="inline-flex items-center gap-1 text-sm text-accent-600 hover:underline dark:text-violet-300"
            aria-expanded={open}
            onClick={() => {
              // A listed summary has no results: fetch the full job on first open.
              if (!open && job.summary) void useJobs.getState().refresh(job.job_id);
              setOpen((o) => !o);
            }}
          >
            {open ? <ChevronDown size={14} /> : <ChevronRight size={14} />} {open ? "Hide results" : "Show results"}
          </button>
          {open && (
            <ol className="mt-2 space-y-2" data-testid="job-results">
              {Array.from({ length: Math.max(job.total_prompts, prompts.length) }, (_, i) => (
                <li key={i} className="rounded-lg bg-zinc-50 p-2 text-sm dark:bg-zinc-950">
                  <p className="text-xs font-medium text-zinc-500">
                    Prompt #{i + 1}
                    {prompts[i] ? `: ${prompts[i]}` : ""}
                  </p>
                  <p className="mt-1 whitespace-pre-wrap break-words">
                    {results[i] ??
                      (errors.has(i) ? (
                        <>
                          <PromptError message={errors.get(i) ?? ""} />
                          {retryable && (
                            <button
                              type="button"
                              className="btn-secondary ml-2 h-7 px-2 py-0 text-xs"
                              onClick={() => void retryPrompt(job.job_id, i)}
                              aria-label={`Retry prompt #${i + 1}`}
                            >
                              <RefreshCw size={12} aria-hidden /> Retry
                            </button>
                          )}
                        </>
                      ) : (
                        <span className="italic text-zinc-400">{isActive(job) ? "waiting…" : "no result"}</span>
                      ))}
                  </p>
                </li>
              ))}
            </ol>
          )}
        </div>
      )}
    </li>
  );
}

export function JobsPage() {
  const { jobs, status, load, loadMore, nextBefore, submit } = useJobs();
  const { model, maxTokens } = useSettings();
  const [text, setText] = useState("");
  const [busy, setBusy] = useState(false);
  const fileRef = useRef<HTMLInputElement>(null);
  useJobPoll();

  useEffect(() => {
    void load();
  }, [load]);

  const prompts = parsePrompts(text);
  // The server's limits (GET /api/v1/auth/config); unknown: the server alone checks.
  const limits = useLimits((s) => s.limits);
  const maxPrompts = limits?.job_prompts_max;
  const tooMany = maxPrompts !== undefined && prompts.length > maxPrompts;
  const [name, setName] = useState("");

  const onFile = async (file: File) => {
    const body = await file.text();
    const list = parsePrompts(body, /\.csv$/i.test(file.name));
    setText(list.join("\n"));
    toast.info(`Loaded ${list.length} ${list.length === 1 ? "prompt" : "prompts"} from ${file.name}`);
  };

  return (
    <div className="h-full overflow-y-auto">
      <div className="mx-auto max-w-3xl space-y-6 p-4 sm:p-6">
        <section className="card" aria-labelledby="new-job">
          <h2 id="new-job" className="text-base font-semibold">
            New batch job
          </h2>
          <form
            className="mt-3 space-y-3"
            onSubmit={async (e) => {
              e.preventDefault();
              if (prompts.length === 0 || tooMany) return;
              setBusy(true);
              const job = await submit(prompts, model, maxTokens, name);
              setBusy(false);
              if (job) {
                setText("");
                setName("");
              }
            }}
          >
            <div>
              <label htmlFor="job-name" className="block text-sm text-zinc-600 dark:text-zinc-400">
                Name <span className="text-zinc-400">(optional)</span>
              </label>
              <input
                id="job-name"
                className="input mt-1"
                value={name}
                maxLength={limits?.job_name_max_chars}
                onChange={(e) => setName(e.target.value)}
                placeholder="e.g. Release notes, week 49"
              />
            </div>
            <label htmlFor="job-prompts" className="block text-sm text-zinc-600 dark:text-zinc-400">
              Prompts, one per line (or upload a .txt / .csv file)
            </label>
            <textarea
              id="job-prompts"
              rows={6}
              value={text}
              onChange={(e) => setText(e.target.value)}
              placeholder={"Summarise the plot of Hamlet\nTranslate 'good morning' to French\nWrite a haiku about Rust"}
              className="input resize-y font-mono"
            />
            <div className="flex flex-wrap items-center gap-2">
              <input
                ref={fileRef}
                type="file"
                accept=".txt,.csv,text/plain,text/csv"
                className="sr-only"
                id="job-file"
                onChange={(e) => {
                  const f = e.target.files?.[0];
                  if (f) void onFile(f);
                  e.target.value = "";
                }}
              />
              <button type="button" className="btn-secondary" onClick={() => fileRef.current?.click()}>
                <FileUp size={14} aria-hidden /> Upload file
              </button>
              <span className={`text-sm ${tooMany ? "text-red-600" : "text-zinc-500"}`} aria-live="polite">
                {prompts.length} prompt{prompts.length === 1 ? "" : "s"} detected{tooMany ? ` (max ${maxPrompts})` : ""}
              </span>
              <button type="submit" className="btn-primary ml-auto" disabled={busy || prompts.length === 0 || tooMany}>
                {busy ? "Submitting…" : `Process ${prompts.length} prompt${prompts.length === 1 ? "" : "s"}`}
              </button>
            </div>
          </form>
        </section>
        <section aria-labelledby="job-list">
          <h2 id="job-list" className="mb-2 text-base font-semibold">
            Jobs
          </h2>
          {status === "loading" && jobs.length === 0 && <p className="text-sm text-zinc-500">Loading jobs…</p>}
          {status !== "loading" && jobs.length === 0 && <p className="text-sm text-zinc-500">No jobs yet.</p>}
          <ul className="space-y-3">
            {jobs.map((j) => (
              <JobCard key={j.job_id} job={j} />
            ))}
          </ul>
          {nextBefore && (
            <button type="button" className="btn-secondary mt-3 w-full" onClick={() => void loadMore()}>
              Load older jobs
            </button>
          )}
        </section>
      </div>
    </div>
  );
}
