import { useCallback, useEffect, useRef, useState } from "react";

const THRESHOLD = 80;

/**
 * Keeps a scroll container pinned to the bottom while content grows, until the user scrolls
 * up; scrolling back to the bottom (or calling scrollToBottom) re-enables it.
 */
export function useAutoScroll<C extends HTMLElement, I extends HTMLElement>() {
  const container = useRef<C>(null);
  const content = useRef<I>(null);
  const stick = useRef(true);
  // A smooth "Jump to latest" is under way: its own scroll events pass through positions far
  // from the end, which must not read as the user scrolling away (an answer growing during the
  // animation would otherwise leave the view unpinned, short of the end). Cleared once the end
  // is reached or the user takes over (wheel, touch, key).
  const jumping = useRef(false);
  const [atBottom, setAtBottom] = useState(true);

  const measure = useCallback(() => {
    const el = container.current;
    if (!el) return;
    const near = el.scrollHeight - el.scrollTop - el.clientHeight < THRESHOLD;
    if (jumping.current) {
      if (!near) return;
      jumping.current = false;
    }
    stick.current = near;
    setAtBottom(near);
  }, []);

  const scrollToBottom = useCallback((smooth = false) => {
    const el = container.current;
    if (!el) return;
    stick.current = true;
    jumping.current = smooth;
    setAtBottom(true);
    el.scrollTo({ top: el.scrollHeight, behavior: smooth ? "smooth" : "auto" });
  }, []);

  useEffect(() => {
    const el = container.current;
    const inner = content.current;
    if (!el || !inner) return;
    const onWheel = (e: WheelEvent) => {
      // Only a view that can scroll can be scrolled away from its end (a wheel turn over a
      // short chat must not stop it following the answer once it grows).
      if (e.deltaY < 0 && el.scrollHeight > el.clientHeight + 1) {
        jumping.current = false;
        stick.current = false;
        setAtBottom(false);
      }
    };
    const takeOver = () => {
      jumping.current = false;
    };
    el.addEventListener("scroll", measure, { passive: true });
    el.addEventListener("wheel", onWheel, { passive: true });
    el.addEventListener("touchstart", takeOver, { passive: true });
    el.addEventListener("keydown", takeOver);
    const ro = new ResizeObserver(() => {
      if (stick.current) el.scrollTop = el.scrollHeight;
      else measure();
    });
    ro.observe(inner);
    // The view itself shrinks too (a notification above the page, the phone's keyboard): a view
    // that follows the end stays at it.
    ro.observe(el);
    return () => {
      el.removeEventListener("scroll", measure);
      el.removeEventListener("wheel", onWheel);
      el.removeEventListener("touchstart", takeOver);
      el.removeEventListener("keydown", takeOver);
      ro.disconnect();
    };
  }, [measure]);

  return { container, content, atBottom, scrollToBottom, stickRef: stick };
}
