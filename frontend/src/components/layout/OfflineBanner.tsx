import { useUi } from "@/stores/ui";

export function OfflineBanner() {
  const online = useUi((s) => s.online);
  if (online) return null;
  return (
    <div role="alert" className="flex items-center justify-center gap-2 bg-red-600 px-3 py-1.5 text-sm text-white" data-testid="offline-banner">
      <span className="h-3 w-3 animate-spin rounded-full border-2 border-white/40 border-t-white" aria-hidden />
      Unable to reach the server. Retrying…
    </div>
  );
}
