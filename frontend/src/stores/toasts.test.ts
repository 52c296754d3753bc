import { afterEach, describe, expect, it, vi } from "vitest";
import { toast, useToasts } from "./toasts";

afterEach(() => vi.useRealTimers());

describe("toasts store", () => {
  it("keeps at most three and expires them", () => {
    vi.useFakeTimers();
    useToasts.setState({ toasts: [] });
    for (const t of ["a", "b", "c", "d"]) toast.info(t);
    expect(useToasts.getState().toasts.map((t) => t.title)).toEqual(["b", "c", "d"]);
    toast.error("e");
    vi.advanceTimersByTime(4001);
    expect(useToasts.getState().toasts.map((t) => t.title)).toEqual(["e"]);
    vi.advanceTimersByTime(2000);
    expect(useToasts.getState().toasts).toEqual([]);
  });
});
