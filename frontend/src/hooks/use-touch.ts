import { useSyncExternalStore } from "react";

/** Devices without hover and with a coarse pointer (phones, tablets): no keyboard shortcuts. */
export const TOUCH_QUERY = "(hover: none) and (pointer: coarse)";

function subscribe(onChange: () => void): () => void {
  const mq = typeof window !== "undefined" ? window.matchMedia?.(TOUCH_QUERY) : undefined;
  mq?.addEventListener("change", onChange);
  return () => mq?.removeEventListener("change", onChange);
}

export function isTouchDevice(): boolean {
  return typeof window !== "undefined" && window.matchMedia?.(TOUCH_QUERY).matches === true;
}

/** Whether this is a touch device, kept up to date (a tablet may get a mouse). */
export function useIsTouch(): boolean {
  return useSyncExternalStore(subscribe, isTouchDevice, () => false);
}
