import { X } from "lucide-react";
import { useEffect } from "react";
import { useToasts, type ToastKind, type ToastPlacement } from "@/stores/toasts";

const STYLES: Record<ToastKind, string> = {
  success: "border-emerald-300 dark:border-emerald-800",
  info: "border-sky-300 dark:border-sky-800",
  warning: "border-amber-300 dark:border-amber-800",
  error: "border-red-400 dark:border-red-800",
};
const DOT: Record<ToastKind, string> = {
  success: "bg-emerald-500",
  info: "bg-sky-500",
  warning: "bg-amber-500",
  error: "bg-red-500",
};

const PLACEMENT: Record<ToastPlacement, string> = {
  top: "top-[5.75rem]",
  bottom: "bottom-4",
};

/**
 * Puts the notifications at the bottom while the calling page is shown: for a page whose form
 * is at the top, where a notification at the top would cover the text being typed.
 */
export function useToastsAtBottom() {
  const setPlacement = useToasts((s) => s.setPlacement);
  useEffect(() => {
    setPlacement("bottom");
    return () => setPlacement("top");
  }, [setPlacement]);
}

export function Toasts() {
  const toasts = useToasts((s) => s.toasts);
  const dismiss = useToasts((s) => s.dismiss);
  const placement = useToasts((s) => s.placement);
  return (
    // Top right by default, below the header *and* the chat's own header row (its settings and
    // export buttons), never over the message box at the bottom; bottom right on a page that
    // asks for it (useToastsAtBottom). One live region that is always in the page, so screen
    // readers announce each notification (errors assertively, as alerts).
    <div
      className={`pointer-events-none fixed right-4 ${PLACEMENT[placement]} z-[60] flex w-80 max-w-[calc(100vw-2rem)] flex-col gap-2`}
      role="region"
      aria-label="Notifications"
      aria-live="polite"
      data-testid="toasts"
      data-placement={placement}
    >
      {toasts.map((t) => (
        <div
          key={t.id}
          role={t.kind === "error" ? "alert" : "status"}
          className={`pointer-events-auto flex items-start gap-2 rounded-lg border bg-white p-3 text-sm shadow-lg dark:bg-zinc-900 ${STYLES[t.kind]}`}
        >
          <span className={`mt-1.5 h-2 w-2 shrink-0 rounded-full ${DOT[t.kind]}`} aria-hidden />
          <div className="min-w-0 flex-1">
            <p className="font-medium">{t.title}</p>
            {t.description && <p className="mt-0.5 break-words text-zinc-600 dark:text-zinc-400">{t.description}</p>}
            {t.details && (
              <details className="mt-1 text-xs text-zinc-500">
                <summary className="cursor-pointer select-none">Details</summary>
                <p className="mt-1 select-all break-all font-mono" data-testid="toast-details">
                  {t.details}
                </p>
              </details>
            )}
          </div>
          <button type="button" className="btn-icon h-6 w-6" onClick={() => dismiss(t.id)} aria-label="Dismiss notification">
            <X size={14} />
          </button>
        </div>
      ))}
    </div>
  );
}
