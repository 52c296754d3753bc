import { describe, expect, it } from "vitest";
import { ApiError, NetworkError } from "@/api/client";
import type { FileOut } from "@/api/types";
import { fileDetails, fileStatusText, formatBytes, isIngesting, uploadErrorText, uploadPercent, upsertFile } from "./files";

const file = (over: Partial<FileOut> = {}): FileOut => ({
  id: "f1",
  filename: "a.md",
  content_type: "text/markdown",
  kind: "markdown",
  size_bytes: 10,
  sha256: "00",
  status: "pending",
  chunk_count: 0,
  created_at: "2026-01-01T00:00:00Z",
  updated_at: "2026-01-01T00:00:00Z",
  ...over,
});

describe("file helpers", () => {
  it("formats sizes in decimal units", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(999)).toBe("999 B");
    expect(formatBytes(1500)).toBe("1.5 KB");
    expect(formatBytes(25_000_000)).toBe("25 MB");
    expect(formatBytes(-1)).toBe("–");
  });

  it("says the stage while processing, and only then", () => {
    expect(fileStatusText(file({ status: "processing", stage: "embedding" }))).toBe("Processing · embedding");
    expect(fileStatusText(file({ status: "pending" }))).toBe("Queued");
    expect(fileStatusText(file({ status: "ready", stage: "embedding" }))).toBe("Ready");
    expect(isIngesting(file({ status: "processing" }))).toBe(true);
    expect(isIngesting(file({ status: "failed" }))).toBe(false);
  });

  it("lists pages and passages once known", () => {
    expect(fileDetails(file())).toBe("");
    expect(fileDetails(file({ status: "ready", pages: 1, chunk_count: 1 }))).toBe("1 page · 1 passage");
    expect(fileDetails(file({ status: "ready", chunk_count: 12 }))).toBe("12 passages");
  });

  it("computes upload percent, null when the total is unknown", () => {
    expect(uploadPercent(50, 200)).toBe(25);
    expect(uploadPercent(300, 200)).toBe(100);
    expect(uploadPercent(5, 0)).toBeNull();
  });

  it("keeps the server's sentence for upload refusals and words others like any API error", () => {
    const types = "Supported types: PDF, DOCX, HTML, Markdown, CSV and plain text";
    expect(uploadErrorText(new ApiError(415, "UNSUPPORTED_FILE_TYPE", types, null))).toBe(types);
    expect(uploadErrorText(new ApiError(429, "QUOTA_EXCEEDED", "You store 499 MB of 500 MB", null))).toBe("You store 499 MB of 500 MB");
    expect(uploadErrorText(new NetworkError("x"))).toMatch(/Cannot reach the server/);
  });

  it("upserts newest first without duplicates", () => {
    const a = file({ id: "a", created_at: "2026-01-01T00:00:00Z" });
    const b = file({ id: "b", created_at: "2026-01-02T00:00:00Z" });
    const list = upsertFile(upsertFile([], a), b);
    expect(list.map((f) => f.id)).toEqual(["b", "a"]);
    expect(upsertFile(list, { ...a, status: "ready" }).map((f) => [f.id, f.status])).toEqual([
      ["b", "pending"],
      ["a", "ready"],
    ]);
  });
});
