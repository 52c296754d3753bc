import { isActive, useJobs } from "@/stores/jobs";
import { usePoll } from "./use-poll";

const POLL_MS = 1000;

const refresh = () => useJobs.getState().refreshActive();

/** Polls every pending/running job until it reaches a final state. */
export function useJobPoll(): void {
  const anyActive = useJobs((s) => s.jobs.some(isActive));
  usePoll(refresh, POLL_MS, { enabled: anyActive, immediate: false });
}
