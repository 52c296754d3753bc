import type { MetricsSummary } from "@/api/types";

/** One point of the server's series, with its end time in ms for the chart's x axis. */
export type LivePoint = NonNullable<MetricsSummary["series"]>[number] & { t: number };
/** Queue figures as the page polled them. */
export interface QueuePoint {
  t: number;
  queue_depth: number;
  jobs_per_sec: number;
}

/** The summary's series as chart points (absent from older gateways: no points). */
export function livePoints(m: MetricsSummary): LivePoint[] {
  return (m.series ?? []).map((p) => ({ ...p, t: p.end_unix * 1000 }));
}

/** An x-axis tick or tooltip time: the clock time, "14:05:30" (24-hour, so it is never ambiguous). */
export function clockTick(t: number): string {
  return new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
}

/**
 * The figures a chart's headline shows: the summary window's (`window`, one per series), or,
 * when all of those are empty, the latest point of the chart's data that has any (`latest`),
 * or null when the chart has nothing either.
 */
export function headlineFigures<P>(
  window: (number | null | undefined)[],
  data: P[],
  keys: (keyof P)[],
): { values: (number | null | undefined)[]; latest: boolean } | null {
  const empty = (v: unknown) => v === null || v === undefined;
  if (!window.every(empty)) return { values: window, latest: false };
  for (let i = data.length - 1; i >= 0; i--) {
    const p = data[i] as P;
    const values = keys.map((k) => {
      const v = p[k];
      return typeof v === "number" ? v : null;
    });
    if (!values.every(empty)) return { values, latest: true };
  }
  return null;
}

const trimZeros = (s: string) => (s.includes(".") ? s.replace(/\.?0+$/, "") : s);

/**
 * A figure beside a chart's title or in its tooltip: "—" when there is none (a null percentile
 * means no traffic); whole numbers from 100 up, one decimal from 10, two below.
 */
export function fmtFigure(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "—";
  const a = Math.abs(v);
  if (a >= 100) return v.toFixed(0);
  return trimZeros(v.toFixed(a >= 10 ? 1 : 2));
}

/**
 * A y-axis tick, short enough for the axis' width ("0.23", "0.033", "12.5", "1.2k", "35k",
 * "2.4M") and with two significant digits below 10, so neighbouring ticks stay distinct.
 */
export function fmtAxis(v: number): string {
  if (!Number.isFinite(v)) return "";
  const a = Math.abs(v);
  if (a >= 1e6) return `${trimZeros((v / 1e6).toFixed(a >= 1e7 ? 0 : 1))}M`;
  if (a >= 1e3) return `${trimZeros((v / 1e3).toFixed(a >= 1e4 ? 0 : 1))}k`;
  if (a >= 100 || Number.isInteger(v)) return v.toFixed(0);
  if (a >= 10) return trimZeros(v.toFixed(1));
  return trimZeros(v.toPrecision(2));
}
