/**
 * Admin "Providers" page (issue 22): each provider of the model service with its health,
 * cool-down, latency p50/p99, error rate and models, refreshed every few seconds, and a
 * Reload button that reads the providers file again (as SIGHUP does). Administrators only:
 * others get a sentence here (and 403 from the API).
 */
import { RefreshCw } from "lucide-react";
import { useCallback, useState } from "react";
import { ApiError, describeError } from "@/api/client";
import { api } from "@/api/endpoints";
import type { ProviderState, ProvidersState } from "@/api/types";
import { useIsAdmin } from "@/hooks/use-is-admin";
import { type PollControl, usePoll } from "@/hooks/use-poll";
import { formatMs } from "@/lib/format";
import { toast } from "@/stores/toasts";

const POLL_MS = 5000;

function percent(rate: number): string {
  return `${(rate * 100).toFixed(rate > 0 && rate < 0.1 ? 1 : 0)}%`;
}

function ms(value: number | null): string {
  return value === null ? "–" : formatMs(value);
}

function ProviderCard({ p }: { p: ProviderState }) {
  const cooling = p.status === "cooling_down";
  return (
    <li className="card" data-testid="provider-card" data-provider={p.name} data-status={p.status}>
      <div className="flex flex-wrap items-center justify-between gap-2">
        <h3 className="text-sm font-semibold">
          {p.name} <span className="font-normal text-zinc-500">· {p.kind}</span>
        </h3>
        <span className="flex items-center gap-1.5 text-xs" data-testid="provider-status">
          <span className={`h-2.5 w-2.5 rounded-full ${cooling ? "bg-amber-500" : "bg-emerald-500"}`} aria-hidden />
          {cooling
            ? `Cooling down${p.cooldown_remaining_secs !== null ? ` (${Math.ceil(p.cooldown_remaining_secs)} s left)` : ""}`
            : "Up"}
        </span>
      </div>
      <dl className="mt-3 grid grid-cols-2 gap-x-4 gap-y-2 text-sm sm:grid-cols-4">
        <div>
          <dt className="text-xs text-zinc-500">Latency p50</dt>
          <dd className="tabular-nums" data-testid="provider-p50">{ms(p.latency_p50_ms)}</dd>
        </div>
        <div>
          <dt className="text-xs text-zinc-500">Latency p99</dt>
          <dd className="tabular-nums" data-testid="provider-p99">{ms(p.latency_p99_ms)}</dd>
        </div>
        <div>
          <dt className="text-xs text-zinc-500">Error rate</dt>
          <dd className="tabular-nums" data-testid="provider-error-rate">
            {percent(p.error_rate)} <span className="text-xs text-zinc-500">of {p.requests}</span>
          </dd>
        </div>
        <div>
          <dt className="text-xs text-zinc-500">In flight · failures in a row</dt>
          <dd className="tabular-nums">
            {p.in_flight} · {p.consecutive_failures}
          </dd>
        </div>
      </dl>
      <h4 className="mt-3 text-xs text-zinc-500">Models</h4>
      {p.models.length ? (
        <ul className="mt-1 flex flex-wrap gap-1.5" aria-label={`Models of ${p.name}`}>
          {p.models.map((m) => (
            <li key={m} className="rounded-md bg-zinc-100 px-2 py-0.5 font-mono text-xs dark:bg-zinc-800" data-testid="provider-model">
              {m}
            </li>
          ))}
        </ul>
      ) : (
        <p className="mt-1 text-xs text-zinc-500">None listed (any model id is passed on).</p>
      )}
    </li>
  );
}

export function ProvidersPage() {
  const isAdmin = useIsAdmin();
  const [state, setState] = useState<ProvidersState | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [forbidden, setForbidden] = useState(false);
  const [reloading, setReloading] = useState(false);

  const poll = useCallback(async ({ stop }: PollControl) => {
    try {
      setState(await api.adminProviders());
      setError(null);
    } catch (e) {
      if (e instanceof ApiError && e.status === 403) {
        setForbidden(true);
        stop();
        return;
      }
      setError(describeError(e));
    }
  }, []);
  usePoll(poll, POLL_MS, { enabled: isAdmin });

  const reload = async () => {
    setReloading(true);
    try {
      const next = await api.reloadProviders();
      setState(next);
      setError(null);
      toast.success("Providers reloaded", `${next.providers.length} provider${next.providers.length === 1 ? "" : "s"} in use.`);
    } catch (e) {
      // A wrong file names its line; the providers in use stay.
      setError(describeError(e));
    } finally {
      setReloading(false);
    }
  };

  if (!isAdmin || forbidden) {
    return (
      <div className="p-6">
        <p className="text-sm text-zinc-500" data-testid="providers-admin-only">
          Providers are managed by administrators.
        </p>
      </div>
    );
  }
  return (
    <div className="h-full overflow-y-auto">
      <div className="mx-auto max-w-5xl space-y-4 p-4 sm:p-6">
        <div className="flex flex-wrap items-center justify-between gap-3">
          <div>
            <h2 className="text-base font-semibold">Providers</h2>
            {state && (
              <p className="text-xs text-zinc-500" data-testid="providers-source">
                {state.from_file ? "From the providers file" : "One provider from the service settings (no providers file)"}
              </p>
            )}
          </div>
          <button type="button" className="btn-secondary" onClick={() => void reload()} disabled={reloading} data-testid="providers-reload">
            <RefreshCw size={14} aria-hidden className={reloading ? "animate-spin" : undefined} />
            {reloading ? "Reloading…" : "Reload"}
          </button>
        </div>
        {error && (
          <p role="alert" className="rounded-lg bg-red-50 px-3 py-2 text-sm text-red-700 dark:bg-red-950/50 dark:text-red-300">
            {error}
          </p>
        )}
        {state === null && !error && (
          <p role="status" className="text-sm text-zinc-500">
            Loading…
          </p>
        )}
        {state && (
          <ul className="space-y-3" aria-label="Providers">
            {state.providers.map((p) => (
              <ProviderCard key={p.name} p={p} />
            ))}
          </ul>
        )}
      </div>
    </div>
  );
}
