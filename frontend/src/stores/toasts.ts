import { create } from "zustand";

export type ToastKind = "success" | "info" | "warning" | "error";

export interface Toast {
  id: number;
  kind: ToastKind;
  title: string;
  description?: string;
}

interface ToastState {
  toasts: Toast[];
  push: (kind: ToastKind, title: string, description?: string) => number;
  dismiss: (id: number) => void;
}

const MAX_TOASTS = 3;
let nextId = 1;

export const useToasts = create<ToastState>()((set, get) => ({
  toasts: [],
  push: (kind, title, description) => {
    const id = nextId++;
    set({ toasts: [...get().toasts, { id, kind, title, description }].slice(-MAX_TOASTS) });
    const ttl = kind === "error" ? 6000 : 4000;
    setTimeout(() => get().dismiss(id), ttl);
    return id;
  },
  dismiss: (id) => set({ toasts: get().toasts.filter((t) => t.id !== id) }),
}));

export const toast = {
  success: (t: string, d?: string) => useToasts.getState().push("success", t, d),
  info: (t: string, d?: string) => useToasts.getState().push("info", t, d),
  warning: (t: string, d?: string) => useToasts.getState().push("warning", t, d),
  error: (t: string, d?: string) => useToasts.getState().push("error", t, d),
};
