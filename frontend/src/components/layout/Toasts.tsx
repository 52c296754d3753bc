import { X } from "lucide-react";
import { useEffect } from "react";
import { useToasts, type ToastKind } from "@/stores/toasts";

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

/**
 * Moves the notifications into the calling dialog while it is open (see ToastState.dialogs): the
 * dialog renders <Toasts inDialog /> at its top.
 */
export function useToastsInDialog(open: boolean) {
  useEffect(() => {
    if (!open) return;
    useToasts.setState((s) => ({ dialogs: s.dialogs + 1 }));
    return () => useToasts.setState((s) => ({ dialogs: s.dialogs - 1 }));
  }, [open]);
}

/**
 * The notifications, in the page's flow where they stand (the app shell puts them between its
 * header and the page; a dialog at its top): the page moves down while one shows, and none
 * ever covers a control. The shell's live region stays in the page, so screen readers announce
 * each notification (errors assertively, as alerts); while a dialog is open it shows nothing
 * and the dialog's own region (inside the modal, where screen readers are) shows them.
 */
export function Toasts({ inDialog = false }: { inDialog?: boolean }) {
  const all = useToasts((s) => s.toasts);
  const dismiss = useToasts((s) => s.dismiss);
  const dialogOpen = useToasts((s) => s.dialogs > 0);
  const toasts = inDialog || !dialogOpen ? all : [];
  return (
    <div
      className={`flex flex-col items-end gap-2 ${inDialog ? "px-4" : "px-3"} ${toasts.length > 0 ? "pt-2" : ""}`}
      role="region"
      aria-label="Notifications"
      aria-live="polite"
      data-testid="toasts"
    >
      {toasts.map((t) => (
        <div
          key={t.id}
          role={t.kind === "error" ? "alert" : "status"}
          className={`flex w-80 max-w-full items-start gap-2 rounded-lg border bg-white p-3 text-sm shadow-sm dark:bg-zinc-900 ${STYLES[t.kind]}`}
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
