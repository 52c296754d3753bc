import { isIngesting } from "@/lib/files";
import { useFiles } from "@/stores/files";
import { usePoll } from "./use-poll";

const POLL_MS = 1000;

const refresh = () => useFiles.getState().refreshIngesting();

/** Re-reads every pending/processing file each second until it is ready or failed. */
export function useFilePoll(): void {
  const anyIngesting = useFiles((s) => s.files.some(isIngesting));
  usePoll(refresh, POLL_MS, { enabled: anyIngesting, immediate: false });
}
