import { lazy, Suspense, useCallback, useRef, useState } from "react";
import { ApiError } from "@/api/client";
import { api } from "@/api/endpoints";
import type { HealthResponse, MetricsSummary, ReadyResponse } from "@/api/types";
import { type PollControl, usePoll } from "@/hooks/use-poll";
import { formatMs } from "@/lib/format";
import { useAuth } from "@/stores/auth";
import { CostByModel } from "./CostByModel";
import { FeedbackPanel } from "./FeedbackPanel";
import { livePoints, type LivePoint, type QueuePoint } from "./metrics-format";

const Charts = lazy(() => import("./Charts"));

const HEALTH_MS = 5000;
/** The summary is cheap (the gateway's in-memory window): every 3 s keeps the charts live. */
const METRICS_MS = 3000;
/** Queue points kept (five minutes at METRICS_MS). */
const QUEUE_HISTORY = 100;

/** Whether live metrics are shown: "admin-only" when a signed-in user is not an admin. */
type MetricsState = "unknown" | "on" | "absent" | "admin-only";

type CardState = "up" | "down" | "unknown";

interface CardProps {
  name: string;
  state: CardState;
  latencyMs?: number;
  detail?: string;
  checkedAt: number | null;
}

function HealthCard({ name, state, latencyMs, detail, checkedAt }: CardProps) {
  const dot = state === "up" ? "bg-emerald-500" : state === "down" ? "bg-red-500" : "bg-zinc-400";
  const label = state === "up" ? "Healthy" : state === "down" ? "Down" : "Unknown";
  return (
    <div className="card" data-testid="health-card" data-service={name} data-status={state}>
      <div className="flex items-center justify-between">
        <h3 className="text-sm font-medium">{name}</h3>
        <span className="flex items-center gap-1.5 text-xs">
          <span className={`h-2.5 w-2.5 rounded-full ${dot} ${state === "up" ? "animate-pulse" : ""}`} aria-hidden />
          <span>{label}</span>
        </span>
      </div>
      <p className="mt-3 text-2xl font-semibold tabular-nums">{latencyMs !== undefined ? formatMs(latencyMs) : "–"}</p>
      <p className="mt-1 truncate text-xs text-zinc-500" title={detail}>
        {detail ?? "\u00a0"}
      </p>
      <p className="text-xs text-zinc-400">{checkedAt ? `checked ${new Date(checkedAt).toLocaleTimeString()}` : "checking…"}</p>
    </div>
  );
}

const DEPENDENCIES: { key: string; name: string }[] = [
  { key: "database", name: "Database" },
  { key: "model_service", name: "Model Service" },
  { key: "worker_service", name: "Worker Service" },
];

export function DashboardPage() {
  const [gateway, setGateway] = useState<{ health: HealthResponse | null; latency?: number; ok: boolean | null }>({
    health: null,
    ok: null,
  });
  const [ready, setReady] = useState<ReadyResponse | null>(null);
  const [readyFailed, setReadyFailed] = useState(false);
  const [checkedAt, setCheckedAt] = useState<number | null>(null);
  const [metricsState, setMetricsState] = useState<MetricsState>("unknown");
  const [latest, setLatest] = useState<MetricsSummary | undefined>(undefined);
  const [live, setLive] = useState<LivePoint[]>([]);
  const [queue, setQueue] = useState<QueuePoint[]>([]);
  // The summary is for administrators when accounts are on (the figures are system-wide); other
  // users are not sent to a 403 at all.
  const mayReadMetrics = useAuth((s) => s.config?.auth_mode !== "jwt" || s.user?.role === "admin");

  const pollHealth = useCallback(async () => {
    const t0 = performance.now();
    const [h, r] = await Promise.allSettled([api.health(), api.ready()]);
    if (h.status === "fulfilled") setGateway({ health: h.value, ok: true, latency: performance.now() - t0 });
    else setGateway({ health: null, ok: false });
    if (r.status === "fulfilled") {
      setReady(r.value);
      setReadyFailed(false);
    } else {
      setReady(null);
      setReadyFailed(true);
    }
    setCheckedAt(Date.now());
  }, []);
  usePoll(pollHealth, HEALTH_MS);

  const metricsKnown = useRef(false);
  const pollMetrics = useCallback(async ({ stop }: PollControl) => {
    try {
      if (!metricsKnown.current) {
        metricsKnown.current = await api.hasMetricsSummary();
        if (!metricsKnown.current) {
          setMetricsState("absent"); // health cards only; no more probing
          stop();
          return;
        }
      }
      const m = await api.metricsSummary();
      if (m === null) {
        setMetricsState("absent"); // endpoint absent: health cards only, no more probing
        stop();
        return;
      }
      setMetricsState("on");
      setLatest(m);
      setLive(livePoints(m));
      setQueue((q) => [...q, { t: Date.now(), queue_depth: m.queue_depth, jobs_per_sec: m.jobs_per_sec }].slice(-QUEUE_HISTORY));
    } catch (e) {
      if (e instanceof ApiError && e.status === 403) {
        setMetricsState("admin-only");
        stop();
      }
      /* otherwise transient; keep the last values */
    }
  }, []);
  usePoll(pollMetrics, METRICS_MS, { enabled: mayReadMetrics });
  const shown: MetricsState = mayReadMetrics ? metricsState : "admin-only";

  const g = gateway.health;
  return (
    <div className="h-full overflow-y-auto">
      <div className="mx-auto max-w-5xl space-y-6 p-4 sm:p-6">
        <section aria-labelledby="svc-health">
          <div className="mb-3 flex items-baseline justify-between">
            <h2 id="svc-health" className="text-base font-semibold">
              Service health
            </h2>
            {ready && (
              <span className="text-xs text-zinc-500" data-testid="ready-status">
                overall: {ready.status}
              </span>
            )}
          </div>
          <div className="grid grid-cols-1 gap-3 sm:grid-cols-2 lg:grid-cols-4">
            <HealthCard
              name="API Gateway"
              state={gateway.ok === null ? "unknown" : gateway.ok ? "up" : "down"}
              latencyMs={gateway.latency}
              detail={g ? `v${g.version} · ${g.environment}` : undefined}
              checkedAt={checkedAt}
            />
            {DEPENDENCIES.map(({ key, name }) => {
              const c = ready?.checks[key];
              const state: CardState = c ? (c.status === "up" ? "up" : "down") : readyFailed || gateway.ok === false ? "down" : "unknown";
              return (
                <HealthCard key={key} name={name} state={state} latencyMs={c?.latency_ms} detail={c?.error ?? undefined} checkedAt={checkedAt} />
              );
            })}
          </div>
        </section>
        {shown === "on" && (
          <section aria-labelledby="live-metrics">
            <h2 id="live-metrics" className="mb-3 text-base font-semibold">
              Live metrics
              {latest?.window_secs ? (
                <span className="ml-2 text-xs font-normal text-zinc-500">(figures: last {latest.window_secs}s · charts: last minutes)</span>
              ) : null}
            </h2>
            <Suspense fallback={<div className="h-64 animate-pulse rounded-xl bg-zinc-100 dark:bg-zinc-900" />}>
              <Charts live={live} queue={queue} latest={latest} />
            </Suspense>
          </section>
        )}
        {mayReadMetrics && <CostByModel />}
        {mayReadMetrics && <FeedbackPanel />}
        {shown === "absent" && <p className="text-sm text-zinc-500">Live metrics are not available from this gateway yet.</p>}
        {shown === "admin-only" && (
          <p className="text-sm text-zinc-500" data-testid="metrics-admin-only">
            Live metrics cover everyone&apos;s traffic, so they are shown to administrators only.
          </p>
        )}
      </div>
    </div>
  );
}
