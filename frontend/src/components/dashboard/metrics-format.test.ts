import { describe, expect, it } from "vitest";
import { clockTick, fmtAxis, fmtFigure, headlineFigures, livePoints } from "./metrics-format";

describe("dashboard figures", () => {
  it("a quiet window with points in the chart reports the latest point, never 'no streams'", () => {
    const data = [
      { t: 1, a: 5, b: 9 },
      { t: 2, a: null, b: null },
    ];
    expect(headlineFigures([3, 4], data, ["a", "b"])).toEqual({ values: [3, 4], latest: false });
    expect(headlineFigures([null, null], data, ["a", "b"])).toEqual({ values: [5, 9], latest: true });
    expect(headlineFigures([null, undefined], [{ t: 1, a: null, b: null }], ["a", "b"])).toBeNull();
  });

  it("time ticks are clock times", () => {
    const t = new Date(2026, 11, 6, 14, 5, 30).getTime();
    expect(clockTick(t)).toMatch(/^14.05.30$/);
  });

  it("say — instead of null and keep few decimals", () => {
    expect(fmtFigure(null)).toBe("—");
    expect(fmtFigure(undefined)).toBe("—");
    expect(fmtFigure(81.99)).toBe("82");
    expect(fmtFigure(3.2)).toBe("3.2");
    expect(fmtFigure(0.225)).toBe("0.23");
    expect(fmtFigure(1234.5)).toBe("1235");
    expect(fmtFigure(0)).toBe("0");
  });

  it("axis ticks are short and neighbouring ticks stay distinct", () => {
    expect(fmtAxis(0.225)).toBe("0.23");
    expect(fmtAxis(0.0325)).toBe("0.033");
    expect(fmtAxis(0.03)).toBe("0.03");
    expect(fmtAxis(2560)).toBe("2.6k");
    expect(fmtAxis(25500)).toBe("26k");
    expect(fmtAxis(2_400_000)).toBe("2.4M");
    expect(fmtAxis(12.5)).toBe("12.5");
    expect(fmtAxis(75)).toBe("75");
    for (const t of [0.0325, 2550, 25_500, 0.225, 12.5]) expect(fmtAxis(t).length).toBeLessThanOrEqual(5);
  });

  it("series points get their end time in ms", () => {
    const m = {
      requests_per_sec: 0,
      tokens_per_sec: 0,
      queue_depth: 0,
      jobs_per_sec: 0,
      series_interval_secs: 5,
      series: [{ end_unix: 100, requests_per_sec: 1, tokens_per_sec: 2 }],
    };
    expect(livePoints(m)[0]).toMatchObject({ t: 100_000, requests_per_sec: 1 });
    expect(livePoints({ ...m, series: undefined as never })).toEqual([]);
  });
});
