import { act } from "react";
import { createRoot, type Root } from "react-dom/client";
import { MemoryRouter, Route, Routes } from "react-router";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "@/api/client";
import { shareApi } from "@/api/organise";
import { useAuth } from "@/stores/auth";
import { useToasts } from "@/stores/toasts";
import { SharedPage } from "./SharedPage";

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

let root: Root | null = null;
afterEach(() => {
  act(() => root?.unmount());
  root = null;
  document.body.innerHTML = "";
  vi.restoreAllMocks();
  useToasts.setState({ toasts: [] });
});

describe("a shared chat", () => {
  it("shows why continuing it failed (the page is outside the app shell and has its own notifications)", async () => {
    vi.spyOn(shareApi, "read").mockResolvedValue({
      title: "Zebras",
      shared_at: "2026-01-01T00:00:00Z",
      messages: [{ role: "user", content: "Why stripes?", created_at: "2026-01-01T00:00:00Z", meta: null }],
    } as unknown as Awaited<ReturnType<typeof shareApi.read>>);
    vi.spyOn(shareApi, "copy").mockRejectedValue(new ApiError(429, "RATE_LIMITED", "Too many requests", null));
    useAuth.setState({ status: "off" });
    const el = document.createElement("div");
    document.body.appendChild(el);
    root = createRoot(el);
    await act(() => {
      root?.render(
        <MemoryRouter initialEntries={["/shared/t0k"]}>
          <Routes>
            <Route path="/shared/:token" element={<SharedPage />} />
          </Routes>
        </MemoryRouter>,
      );
      return Promise.resolve();
    });
    const button = [...el.querySelectorAll("button")].find((b) => b.textContent?.includes("Continue this chat"));
    expect(button).toBeDefined();
    await act(() => {
      button?.click();
      return Promise.resolve();
    });
    const alert = el.querySelector('[data-testid="toasts"] [role="alert"]');
    expect(alert?.textContent).toContain("Could not continue this chat");
    expect(button?.disabled).toBe(false);
  });
});
