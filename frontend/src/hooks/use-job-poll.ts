import { useEffect } from "react";
import { isActive, useJobs } from "@/stores/jobs";

const POLL_MS = 1000;

/** Polls every pending/running job until it reaches a final state. */
export function useJobPoll(): void {
  const anyActive = useJobs((s) => s.jobs.some(isActive));
  useEffect(() => {
    if (!anyActive) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = async () => {
      await useJobs.getState().refreshActive();
      if (!stopped) timer = setTimeout(tick, POLL_MS);
    };
    timer = setTimeout(tick, POLL_MS);
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [anyActive]);
}
