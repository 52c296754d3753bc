import { CartesianGrid, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import type { MetricsSummary } from "@/api/types";
import { clockTick, fmtAxis, fmtFigure, headlineFigures, type LivePoint, type QueuePoint } from "./metrics-format";

interface Series<P> {
  key: keyof P & string;
  label: string;
  color: string;
  /**
   * Percentiles are null for an interval without traffic: the line joins the points that exist
   * and each point has a dot, so a lone stream still shows.
   */
  sparse?: boolean;
}

interface ChartDef<P> {
  title: string;
  unit: string;
  series: Series<P>[];
  /** The headline figures beside the title (the summary's window, not the last point). */
  headline: (m: MetricsSummary) => (number | null | undefined)[];
  /** What the headline says when every figure is null (no traffic in the window). */
  idle: string;
}

/** Charts of the gateway's own series (server-side 5-second points over five minutes). */
const LIVE_CHARTS: ChartDef<LivePoint>[] = [
  {
    title: "Requests / s",
    unit: "req/s",
    series: [{ key: "requests_per_sec", label: "requests/s", color: "#8b5cf6" }],
    headline: (m) => [m.requests_per_sec],
    idle: "no traffic yet",
  },
  {
    title: "Time to first token",
    unit: "ms",
    series: [
      { key: "ttft_p50_ms", label: "p50", color: "#0ea5e9", sparse: true },
      { key: "ttft_p99_ms", label: "p99", color: "#f43f5e", sparse: true },
    ],
    headline: (m) => [m.ttft_p50_ms, m.ttft_p99_ms],
    idle: "no streams yet",
  },
  {
    title: "Tokens / s",
    unit: "tok/s",
    series: [{ key: "tokens_per_sec", label: "tokens/s", color: "#10b981" }],
    headline: (m) => [m.tokens_per_sec],
    idle: "no streams yet",
  },
  {
    title: "API latency",
    unit: "ms",
    series: [
      { key: "p50_ms", label: "p50", color: "#0ea5e9", sparse: true },
      { key: "p99_ms", label: "p99", color: "#f43f5e", sparse: true },
    ],
    headline: (m) => [m.p50_ms, m.p99_ms],
    idle: "no traffic yet",
  },
  {
    title: "Knowledge retrieval",
    unit: "ms",
    series: [
      { key: "retrieval_p50_ms", label: "p50", color: "#0ea5e9", sparse: true },
      { key: "retrieval_p99_ms", label: "p99", color: "#f43f5e", sparse: true },
    ],
    headline: (m) => [m.retrieval_p50_ms, m.retrieval_p99_ms],
    idle: "no retrievals yet",
  },
  {
    title: "Passages per grounded answer",
    unit: "passages",
    series: [{ key: "passages_per_answer", label: "passages", color: "#14b8a6", sparse: true }],
    headline: (m) => [m.passages_per_answer],
    idle: "no grounded answers yet",
  },
];

/** Queue figures have no server-side series: the page keeps what it polled. */
const QUEUE_CHARTS: ChartDef<QueuePoint>[] = [
  {
    title: "Queue depth",
    unit: "jobs",
    series: [{ key: "queue_depth", label: "queued", color: "#f59e0b" }],
    headline: (m) => [m.queue_depth],
    idle: "—",
  },
  {
    title: "Jobs / s",
    unit: "jobs/s",
    series: [{ key: "jobs_per_sec", label: "jobs/s", color: "#6366f1" }],
    headline: (m) => [m.jobs_per_sec],
    idle: "—",
  },
];

/**
 * "p50 12 · p99 40 ms" for the summary's window; when that window is quiet but the chart has
 * points, the latest point's figures ("last p50 12 · p99 40 ms"), so the headline never says
 * "no streams yet" beside a chart that shows some. The idle sentence only when neither has any.
 */
function headlineText<P extends { t: number }>(c: ChartDef<P>, m: MetricsSummary | undefined, data: P[]): string {
  if (!m) return "–";
  const figures = headlineFigures(
    c.headline(m),
    data,
    c.series.map((s) => s.key),
  );
  if (!figures) return c.idle;
  const parts = c.series.map((s, i) => {
    const text = fmtFigure(figures.values[i]);
    return c.series.length > 1 ? `${s.label} ${text}` : text;
  });
  return `${figures.latest ? "last " : ""}${parts.join(" · ")} ${c.unit}`;
}

function Chart<P extends { t: number }>({ c, data, latest }: { c: ChartDef<P>; data: P[]; latest?: MetricsSummary }) {
  return (
    <figure className="card min-w-0" data-testid="metrics-chart" data-chart={c.title}>
      <figcaption className="mb-2 flex flex-wrap items-baseline justify-between gap-x-2 text-sm font-medium">
        <span>{c.title}</span>
        <span className="text-xs tabular-nums text-zinc-500" data-testid="metrics-headline">
          {headlineText(c, latest, data)}
        </span>
      </figcaption>
      <div className="h-44" role="img" aria-label={`${c.title} chart`}>
        <ResponsiveContainer width="100%" height="100%">
          <LineChart data={data} margin={{ top: 4, right: 12, bottom: 0, left: 0 }}>
            <CartesianGrid strokeDasharray="3 3" stroke="currentColor" strokeOpacity={0.1} />
            <XAxis
              dataKey="t"
              type="number"
              scale="time"
              domain={["dataMin", "dataMax"]}
              tickFormatter={clockTick}
              fontSize={11}
              stroke="currentColor"
              strokeOpacity={0.5}
              minTickGap={56}
            />
            {/* Compact labels ("0.23", "1.2k"), and the axis as wide as its longest one: never clipped. */}
            <YAxis fontSize={11} stroke="currentColor" strokeOpacity={0.5} width="auto" tickFormatter={fmtAxis} allowDecimals />
            <Tooltip labelFormatter={(t) => clockTick(Number(t))} formatter={(v) => fmtFigure(typeof v === "number" ? v : null)} />
            {c.series.map((s) => (
              <Line
                key={s.key}
                type="monotone"
                dataKey={s.key}
                name={s.label}
                stroke={s.color}
                dot={s.sparse ? { r: 2.5, strokeWidth: 0, fill: s.color } : false}
                connectNulls={s.sparse ?? false}
                strokeWidth={2}
                isAnimationActive={false}
              />
            ))}
          </LineChart>
        </ResponsiveContainer>
      </div>
      {/* The legend is HTML under the plot: every series is named, none is clipped by the SVG. */}
      <ul className="mt-1 flex flex-wrap gap-x-3 gap-y-0.5 text-[11px] text-zinc-500" aria-label={`${c.title} legend`} data-testid="chart-legend">
        {c.series.map((s) => (
          <li key={s.key} className="inline-flex items-center gap-1" data-testid="chart-legend-item">
            <span className="inline-block h-0.5 w-3 rounded" style={{ background: s.color }} aria-hidden />
            {s.label}
          </li>
        ))}
      </ul>
    </figure>
  );
}

interface Props {
  /** The server's series, oldest first. */
  live: LivePoint[];
  /** Queue figures as polled by the page. */
  queue: QueuePoint[];
  latest?: MetricsSummary;
}

/** Live metric charts (recharts), loaded lazily with the dashboard's metrics section. */
export default function Charts({ live, queue, latest }: Props) {
  return (
    <div className="grid grid-cols-1 gap-3 lg:grid-cols-2" data-testid="metrics-charts">
      {LIVE_CHARTS.map((c) => (
        <Chart key={c.title} c={c} data={live} latest={latest} />
      ))}
      {QUEUE_CHARTS.map((c) => (
        <Chart key={c.title} c={c} data={queue} latest={latest} />
      ))}
    </div>
  );
}
