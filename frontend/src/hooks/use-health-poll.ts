import { useEffect } from "react";
import { api } from "@/api/endpoints";
import { useUi } from "@/stores/ui";

const OK_INTERVAL = 10_000;
const DOWN_INTERVAL = 3_000;

/** Polls GET /health; drives the offline banner, polling faster while the gateway is down. */
export function useHealthPoll(): void {
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    const tick = async () => {
      let ok = false;
      try {
        await api.health();
        ok = true;
      } catch {
        ok = false;
      }
      if (stopped) return;
      const wasOnline = useUi.getState().online;
      useUi.getState().setOnline(ok);
      if (ok && !wasOnline) window.dispatchEvent(new Event("sable:reconnected"));
      timer = setTimeout(tick, ok ? OK_INTERVAL : DOWN_INTERVAL);
    };
    const kick = () => {
      clearTimeout(timer);
      void tick();
    };
    void tick();
    window.addEventListener("online", kick);
    window.addEventListener("offline", () => useUi.getState().setOnline(false));
    return () => {
      stopped = true;
      clearTimeout(timer);
      window.removeEventListener("online", kick);
    };
  }, []);
}
