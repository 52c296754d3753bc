import { create } from "zustand";
import { humanError } from "@/lib/errors";

export type ToastKind = "success" | "info" | "warning" | "error";

export interface Toast {
  id: number;
  kind: ToastKind;
  title: string;
  description?: string;
  /** Technical details (code, request id) behind a "Details" disclosure. */
  details?: string;
}

interface ToastState {
  toasts: Toast[];
  /**
   * How many modal dialogs are open. The notifications stand in the page's flow (they cover
   * nothing); while a dialog is open, everything outside it is behind its backdrop, so they
   * stand at the top of the dialog instead (components/layout/Toasts).
   */
  dialogs: number;
  push: (kind: ToastKind, title: string, description?: string, details?: string) => number;
  dismiss: (id: number) => void;
}

const MAX_TOASTS = 3;
let nextId = 1;

export const useToasts = create<ToastState>()((set, get) => ({
  toasts: [],
  dialogs: 0,
  push: (kind, title, description, details) => {
    const id = nextId++;
    // The same message twice stays one toast (its timer restarts).
    const rest = get().toasts.filter((t) => !(t.kind === kind && t.title === title && t.description === description));
    set({ toasts: [...rest, { id, kind, title, description, details }].slice(-MAX_TOASTS) });
    const ttl = kind === "error" ? (details ? 10_000 : 6000) : 4000;
    setTimeout(() => get().dismiss(id), ttl);
    return id;
  },
  dismiss: (id) => set({ toasts: get().toasts.filter((t) => t.id !== id) }),
}));

export const toast = {
  success: (t: string, d?: string) => useToasts.getState().push("success", t, d),
  info: (t: string, d?: string) => useToasts.getState().push("info", t, d),
  warning: (t: string, d?: string) => useToasts.getState().push("warning", t, d),
  error: (t: string, d?: string, details?: string) => useToasts.getState().push("error", t, d, details),
};

/** An error toast: a title saying what failed, the error as a short sentence, details behind a disclosure. */
export function toastError(title: string, e: unknown): number {
  const h = humanError(e);
  return toast.error(title, h.message, h.details);
}
