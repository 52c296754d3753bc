import { useEffect } from "react";
import { NETWORK_ERROR_EVENT } from "@/api/client";
import { api } from "@/api/endpoints";
import { useUi } from "@/stores/ui";

const OK_INTERVAL = 10_000;
const DOWN_INTERVAL = 3_000;

/** Polls GET /health; drives the offline banner, polling faster while the gateway is down. */
export function useHealthPoll(): void {
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    let inFlight = false;
    const tick = async () => {
      inFlight = true;
      let ok = false;
      try {
        await api.health();
        ok = true;
      } catch {
        ok = false;
      }
      inFlight = false;
      if (stopped) return;
      const wasOnline = useUi.getState().online;
      useUi.getState().setOnline(ok);
      if (ok && !wasOnline) window.dispatchEvent(new Event("sable:reconnected"));
      clearTimeout(timer);
      timer = setTimeout(tick, ok ? OK_INTERVAL : DOWN_INTERVAL);
    };
    const kick = () => {
      if (inFlight || stopped) return;
      clearTimeout(timer);
      void tick();
    };
    const onOffline = () => useUi.getState().setOnline(false);
    // A failed request elsewhere triggers an immediate check (at most one per second).
    let lastKick = 0;
    const onNetworkError = () => {
      if (!useUi.getState().online || Date.now() - lastKick < 1000) return;
      lastKick = Date.now();
      kick();
    };
    void tick();
    window.addEventListener("online", kick);
    window.addEventListener("offline", onOffline);
    window.addEventListener(NETWORK_ERROR_EVENT, onNetworkError);
    return () => {
      stopped = true;
      clearTimeout(timer);
      window.removeEventListener("online", kick);
      window.removeEventListener("offline", onOffline);
      window.removeEventListener(NETWORK_ERROR_EVENT, onNetworkError);
    };
  }, []);
}
