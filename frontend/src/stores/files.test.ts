import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { FileOut } from "@/api/types";
import { json, mockFetch } from "@/test/fetch-mock";
import { installXhr } from "@/test/xhr-mock";
import { useFiles } from "./files";
import { useToasts } from "./toasts";

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

beforeEach(() => {
  useFiles.setState({ files: [], collections: [], uploads: [], status: "idle", nextBefore: null, usedBytes: null });
  useToasts.setState({ toasts: [] });
});
afterEach(() => vi.unstubAllGlobals());

describe("files store", () => {
  it("uploads each file on its own request, tracking progress, and lists the stored ones", async () => {
    const sent = installXhr((form) => {
      const f = form.get("file") as File;
      return f.name === "bad.exe"
        ? { status: 415, body: { error: { code: "UNSUPPORTED_FILE_TYPE", message: "Supported types: PDF, text", request_id: "r" } } }
        : { status: 201, body: file({ id: f.name, filename: f.name }) };
    });
    const progress: number[] = [];
    const unsub = useFiles.subscribe((s) => {
      const u = s.uploads.find((x) => x.name === "a.md");
      if (u && !progress.includes(u.loaded)) progress.push(u.loaded);
    });
    const stored = await useFiles.getState().upload([new File(["0123456789"], "a.md"), new File(["x"], "bad.exe")]);
    unsub();
    expect(sent).toHaveLength(2);
    expect(stored.map((f) => f.id)).toEqual(["a.md"]);
    expect(progress).toEqual([0, 5, 10]);
    const { files, uploads } = useFiles.getState();
    expect(files.map((f) => f.id)).toEqual(["a.md"]);
    // The refused one stays with its reason in words; the stored one's bar is gone.
    expect(uploads).toEqual([expect.objectContaining({ name: "bad.exe", state: "failed", error: "Supported types: PDF, text" })]);
  });

  it("an upload over the file quota keeps the server's sentence (what is used and allowed)", async () => {
    const words = "File storage quota exceeded: 1.0 MB used of 1.0 MB allowed; this file needs 10 B";
    installXhr(() => ({ status: 429, body: { error: { code: "QUOTA_EXCEEDED", message: words, request_id: "r" } } }));
    expect(await useFiles.getState().upload([new File(["0123456789"], "big.md")])).toEqual([]);
    expect(useFiles.getState().uploads).toEqual([expect.objectContaining({ name: "big.md", state: "failed", error: words })]);
  });

  it("deleting a file drops it from the list and from its collections", async () => {
    useFiles.setState({
      files: [file({ id: "a" }), file({ id: "b" })],
      collections: [{ id: "c", name: "C", description: "", file_ids: ["a", "b"], created_at: "", updated_at: "" }],
    });
    const calls = mockFetch(() => new Response(null, { status: 204 }));
    expect(await useFiles.getState().remove("a")).toBe(true);
    expect(calls[0]).toMatchObject({ method: "DELETE", url: "/api/v1/files/a" });
    expect(useFiles.getState().files.map((f) => f.id)).toEqual(["b"]);
    expect(useFiles.getState().collections[0]?.file_ids).toEqual(["b"]);
  });

  it("polling refreshes only files still being ingested and says when one failed", async () => {
    useFiles.setState({ files: [file({ id: "a", status: "processing" }), file({ id: "b", status: "ready" })] });
    const calls = mockFetch((c) => json(file({ id: c.url.split("/").pop() ?? "", status: "failed", error: "No text found" })));
    await useFiles.getState().refreshIngesting();
    expect(calls.map((c) => c.url)).toEqual(["/api/v1/files/a"]);
    expect(useFiles.getState().files.find((f) => f.id === "a")?.status).toBe("failed");
    expect(useToasts.getState().toasts.some((t) => t.kind === "error")).toBe(true);
  });

  it("membership changes keep the server's answer", async () => {
    const col = { id: "c", name: "C", description: "", file_ids: [] as string[], created_at: "", updated_at: "" };
    useFiles.setState({ collections: [col] });
    const calls = mockFetch(() => json({ ...col, file_ids: ["a"] }));
    expect(await useFiles.getState().setMembership("c", "a", true)).toBe(true);
    expect(calls[0]).toMatchObject({ method: "PUT", url: "/api/v1/collections/c/files/a" });
    expect(useFiles.getState().collections[0]?.file_ids).toEqual(["a"]);
  });
});
