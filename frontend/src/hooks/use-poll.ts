import { useEffect, useRef } from "react";

export interface PollControl {
  /** Stops polling for good (until the hook's inputs change). */
  stop: () => void;
}

export interface PollOptions {
  /** When false the loop does not run (and stops when it was running). Default true. */
  enabled?: boolean;
  /** Run the first tick at once (default) or after one interval. */
  immediate?: boolean;
  /**
   * Window events that trigger an immediate tick (unless one is in flight), at most one
   * per `kickThrottleMs`.
   */
  kickOn?: string[];
  kickThrottleMs?: number;
  /** Filters kicks (read when the event fires). */
  kickIf?: (event: Event) => boolean;
}

/**
 * One polling loop: runs `tick`, waits, runs it again. The delay is `intervalMs`, or what the
 * tick returns (a number) when it wants another pace (e.g. faster while something is down).
 * Ticks never overlap; the loop stops on unmount or when `enabled` turns false. The latest
 * `tick` is always called, so it may close over fresh props without restarting the loop.
 */
export function usePoll(
  tick: (ctl: PollControl) => Promise<number | void> | number | void,
  intervalMs: number,
  { enabled = true, immediate = true, kickOn = [], kickThrottleMs = 0, kickIf }: PollOptions = {},
): void {
  const tickRef = useRef(tick);
  const kickIfRef = useRef(kickIf);
  useEffect(() => {
    tickRef.current = tick;
    kickIfRef.current = kickIf;
  }, [tick, kickIf]);
  const kickKey = kickOn.join(" ");

  useEffect(() => {
    if (!enabled) return;
    let stopped = false;
    let inFlight = false;
    let lastKick = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const ctl: PollControl = {
      stop: () => {
        stopped = true;
        clearTimeout(timer);
      },
    };
    const run = async () => {
      inFlight = true;
      let next: number | void = undefined;
      try {
        next = await tickRef.current(ctl);
      } catch {
        /* a failed tick is retried at the next interval */
      }
      inFlight = false;
      if (stopped) return;
      clearTimeout(timer);
      timer = setTimeout(() => void run(), typeof next === "number" ? next : intervalMs);
    };
    const kick = (ev: Event) => {
      if (stopped || inFlight || Date.now() - lastKick < kickThrottleMs) return;
      if (kickIfRef.current && !kickIfRef.current(ev)) return;
      lastKick = Date.now();
      clearTimeout(timer);
      void run();
    };
    const events = kickKey ? kickKey.split(" ") : [];
    for (const ev of events) window.addEventListener(ev, kick);
    if (immediate) void run();
    else timer = setTimeout(() => void run(), intervalMs);
    return () => {
      stopped = true;
      clearTimeout(timer);
      for (const ev of events) window.removeEventListener(ev, kick);
    };
  }, [enabled, immediate, intervalMs, kickKey, kickThrottleMs]);
}
