import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import type { MetricsPoint } from "./DashboardPage";

interface Series {
  key: keyof MetricsPoint;
  label: string;
  color: string;
}

interface ChartDef {
  title: string;
  unit: string;
  series: Series[];
}

const CHARTS: ChartDef[] = [
  { title: "Requests / s", unit: "req/s", series: [{ key: "requests_per_sec", label: "requests/s", color: "#8b5cf6" }] },
  {
    title: "Latency",
    unit: "ms",
    series: [
      { key: "p50_ms", label: "p50", color: "#0ea5e9" },
      { key: "p99_ms", label: "p99", color: "#f43f5e" },
    ],
  },
  { title: "Tokens / s", unit: "tok/s", series: [{ key: "tokens_per_sec", label: "tokens/s", color: "#10b981" }] },
  { title: "Queue depth", unit: "jobs", series: [{ key: "queue_depth", label: "queued", color: "#f59e0b" }] },
  { title: "Jobs / s", unit: "jobs/s", series: [{ key: "jobs_per_sec", label: "jobs/s", color: "#6366f1" }] },
];

const fmtTime = (t: number) => new Date(t).toLocaleTimeString([], { minute: "2-digit", second: "2-digit" });
const fmtNum = (v: unknown) => (typeof v === "number" ? (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2)) : String(v));

/** Live metric charts (recharts), loaded lazily with the dashboard's metrics section. */
export default function Charts({ history }: { history: MetricsPoint[] }) {
  const latest = history.at(-1);
  return (
    <div className="grid grid-cols-1 gap-3 lg:grid-cols-2" data-testid="metrics-charts">
      {CHARTS.map((c) => (
        <figure key={c.title} className="card">
          <figcaption className="mb-2 flex items-baseline justify-between text-sm font-medium">
            <span>{c.title}</span>
            <span className="text-xs tabular-nums text-zinc-500">
              {latest ? c.series.map((s) => `${s.label} ${fmtNum(latest[s.key])}`).join(" · ") : "–"} {c.unit}
            </span>
          </figcaption>
          <div className="h-44" role="img" aria-label={`${c.title} chart`}>
            <ResponsiveContainer width="100%" height="100%">
              <LineChart data={history} margin={{ top: 4, right: 8, bottom: 0, left: -16 }}>
                <CartesianGrid strokeDasharray="3 3" stroke="currentColor" strokeOpacity={0.1} />
                <XAxis dataKey="t" tickFormatter={fmtTime} fontSize={11} stroke="currentColor" strokeOpacity={0.5} minTickGap={40} />
                <YAxis fontSize={11} stroke="currentColor" strokeOpacity={0.5} width={48} />
                <Tooltip labelFormatter={(t) => fmtTime(Number(t))} formatter={(v) => fmtNum(v)} />
                {c.series.length > 1 && <Legend wrapperStyle={{ fontSize: 11 }} />}
                {c.series.map((s) => (
                  <Line
                    key={String(s.key)}
                    type="monotone"
                    dataKey={String(s.key)}
                    name={s.label}
                    stroke={s.color}
                    dot={false}
                    strokeWidth={2}
                    isAnimationActive={false}
                  />
                ))}
              </LineChart>
            </ResponsiveContainer>
          </div>
        </figure>
      ))}
    </div>
  );
}
