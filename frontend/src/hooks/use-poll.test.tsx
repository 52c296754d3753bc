import { act, createElement } from "react";
import { createRoot, type Root } from "react-dom/client";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type PollControl, type PollOptions, usePoll } from "./use-poll";

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

let root: Root | null = null;
function mount(tick: (ctl: PollControl) => Promise<number | void> | number | void, ms: number, opts?: PollOptions) {
  function Probe() {
    usePoll(tick, ms, opts);
    return null;
  }
  root = createRoot(document.createElement("div"));
  act(() => root?.render(createElement(Probe)));
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => {
  act(() => root?.unmount());
  root = null;
  vi.useRealTimers();
});

describe("usePoll", () => {
  it("ticks at once, then every interval, and stops on unmount", async () => {
    const tick = vi.fn();
    mount(tick, 1000);
    await act(() => vi.advanceTimersByTimeAsync(0));
    expect(tick).toHaveBeenCalledTimes(1);
    await act(() => vi.advanceTimersByTimeAsync(3000));
    expect(tick).toHaveBeenCalledTimes(4);
    act(() => root?.unmount());
    root = null;
    await vi.advanceTimersByTimeAsync(5000);
    expect(tick).toHaveBeenCalledTimes(4);
  });

  it("a tick may set the next delay or stop the loop; a failing tick does not end it", async () => {
    let n = 0;
    const tick = vi.fn(async ({ stop }: PollControl) => {
      await Promise.resolve();
      n += 1;
      if (n === 2) throw new Error("transient");
      if (n === 4) stop();
      return 5000;
    });
    mount(tick, 1000, { immediate: false });
    await act(() => vi.advanceTimersByTimeAsync(999));
    expect(tick).toHaveBeenCalledTimes(0);
    await act(() => vi.advanceTimersByTimeAsync(1)); // 1st, asks for 5 s
    await act(() => vi.advanceTimersByTimeAsync(5000)); // 2nd throws: back to the interval
    await act(() => vi.advanceTimersByTimeAsync(1000)); // 3rd
    await act(() => vi.advanceTimersByTimeAsync(5000)); // 4th stops
    await act(() => vi.advanceTimersByTimeAsync(60_000));
    expect(tick).toHaveBeenCalledTimes(4);
  });

  it("does not run while disabled, and kick events tick at once (throttled, filtered)", async () => {
    const tick = vi.fn();
    mount(tick, 10_000, { enabled: false });
    await act(() => vi.advanceTimersByTimeAsync(30_000));
    expect(tick).not.toHaveBeenCalled();
    act(() => root?.unmount());

    let allow = true;
    mount(tick, 10_000, { kickOn: ["sable:test-kick"], kickThrottleMs: 1000, kickIf: () => allow });
    await act(() => vi.advanceTimersByTimeAsync(0));
    expect(tick).toHaveBeenCalledTimes(1);
    window.dispatchEvent(new Event("sable:test-kick"));
    await act(() => vi.advanceTimersByTimeAsync(0));
    expect(tick).toHaveBeenCalledTimes(2);
    window.dispatchEvent(new Event("sable:test-kick")); // throttled
    await act(() => vi.advanceTimersByTimeAsync(0));
    expect(tick).toHaveBeenCalledTimes(2);
    allow = false;
    await act(() => vi.advanceTimersByTimeAsync(1500));
    window.dispatchEvent(new Event("sable:test-kick")); // filtered out
    await act(() => vi.advanceTimersByTimeAsync(0));
    expect(tick).toHaveBeenCalledTimes(2);
  });
});
