import { useEffect } from "react";
import { NETWORK_ERROR_EVENT } from "@/api/client";
import { api } from "@/api/endpoints";
import { useUi } from "@/stores/ui";
import { usePoll } from "./use-poll";

const OK_INTERVAL = 10_000;
const DOWN_INTERVAL = 3_000;
export const RECONNECTED_EVENT = "sable:reconnected";

async function checkHealth(): Promise<number> {
  let ok: boolean;
  try {
    await api.health();
    ok = true;
  } catch {
    ok = false;
  }
  const wasOnline = useUi.getState().online;
  useUi.getState().setOnline(ok);
  if (ok && !wasOnline) window.dispatchEvent(new Event(RECONNECTED_EVENT));
  return ok ? OK_INTERVAL : DOWN_INTERVAL;
}

/**
 * Polls GET /health; drives the offline banner, polling faster while the gateway is down.
 * Coming back online, or a failed request elsewhere (at most one per second), checks at once.
 */
export function useHealthPoll(): void {
  usePoll(checkHealth, OK_INTERVAL, {
    kickOn: ["online", NETWORK_ERROR_EVENT],
    kickThrottleMs: 1000,
    // While offline the loop already polls fast; failed requests then add nothing.
    kickIf: (ev) => ev.type === "online" || useUi.getState().online,
  });
  useEffect(() => {
    const onOffline = () => useUi.getState().setOnline(false);
    window.addEventListener("offline", onOffline);
    return () => window.removeEventListener("offline", onOffline);
  }, []);
}
