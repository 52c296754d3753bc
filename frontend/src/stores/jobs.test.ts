import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { JobResponse } from "@/api/types";
import { json, mockFetch } from "@/test/fetch-mock";
import { jobPercent, jobToCsv, jobToJson, parsePrompts, progressText, resultsByPrompt, useJobs } from "./jobs";
import { useToasts } from "./toasts";

const job = (over: Partial<JobResponse> = {}): JobResponse => ({
  job_id: "j1",
  status: "pending",
  created_at: "2026-01-01T00:00:00Z",
  completed_at: null,
  total_prompts: 2,
  completed_prompts: 0,
  results: [],
  error: null,
  ...over,
});

beforeEach(() => {
  useJobs.setState({ jobs: [], prompts: {}, knownIds: [], status: "idle", nextBefore: null });
  useToasts.setState({ toasts: [] });
});
afterEach(() => vi.unstubAllGlobals());

describe("prompt parsing", () => {
  it("takes one prompt per non-blank line", () => {
    expect(parsePrompts("a\n\n  b  \r\nc\n")).toEqual(["a", "b", "c"]);
  });
  it("reads the first CSV column, quotes included, and skips a 'prompt' header", () => {
    expect(parsePrompts('prompt,notes\n"Hello, world",x\n"say ""hi""",y\nplain,z', true)).toEqual([
      "Hello, world",
      'say "hi"',
      "plain",
    ]);
  });
});

describe("jobs store", () => {
  it("a listed summary (no results) is fetched in full on refresh", async () => {
    const { results: _r, ...summary } = job({ status: "completed", completed_prompts: 2 });
    mockFetch((c) => {
      if (c.url === "/openapi.json") return json({}, 404);
      if (c.url.startsWith("/api/v1/jobs?")) return json({ jobs: [{ ...summary, preview: "p1" }], next_before: null });
      if (c.url === "/api/v1/jobs/j1") return json(job({ status: "completed", completed_prompts: 2, results: ["r1", "r2"] }));
      return json({}, 404);
    });
    await useJobs.getState().load();
    expect(useJobs.getState().jobs[0]).toMatchObject({ results: [], summary: true, preview: "p1" });
    await useJobs.getState().refresh("j1");
    expect(useJobs.getState().jobs[0]?.results).toEqual(["r1", "r2"]);
    expect(useJobs.getState().jobs[0]?.summary).toBeUndefined();
  });

  it("submits, remembers the prompts and lists the job", async () => {
    const calls = mockFetch(() => json(job(), 202));
    const j = await useJobs.getState().submit(["p1", "p2"], "", 256);
    expect(j?.job_id).toBe("j1");
    expect(calls[0]?.body).toEqual({ prompts: ["p1", "p2"], max_tokens: 256 });
    expect(useJobs.getState().prompts["j1"]).toEqual(["p1", "p2"]);
    expect(useJobs.getState().jobs).toHaveLength(1);
  });

  it("refresh updates progress and toasts once on completion", async () => {
    useJobs.setState({ jobs: [job({ status: "running" })] });
    mockFetch(() => json(job({ status: "completed", completed_prompts: 2, results: ["r1", "r2"] })));
    await useJobs.getState().refresh("j1");
    await useJobs.getState().refresh("j1");
    expect(useJobs.getState().jobs[0]?.status).toBe("completed");
    expect(useToasts.getState().toasts.map((t) => [t.title, t.description])).toEqual([["Job completed", "2 of 2 done"]]);
  });

  it("the completion toast names the job and counts failed prompts like the list", async () => {
    useJobs.setState({ jobs: [job({ status: "running" })] });
    mockFetch(() => json(job({ status: "completed", name: "Release notes", completed_prompts: 1, failed_prompts: 1 })));
    await useJobs.getState().refresh("j1");
    expect(useToasts.getState().toasts.map((t) => [t.title, t.description])).toEqual([
      ["Job “Release notes” completed", "1 of 2 done, 1 failed"],
    ]);
  });

  it("loads from the list endpoint, or from known ids when the server has none", async () => {
    mockFetch((c) =>
      c.url === "/openapi.json"
        ? json({ paths: {} }, 404)
        : c.url.includes("before=b")
          ? json({ jobs: [job({ job_id: "c", created_at: "2025-12-31T00:00:00Z" })], next_before: null })
          : json({
              jobs: [job({ job_id: "a", created_at: "2026-01-01T00:00:00Z" }), job({ job_id: "b", created_at: "2026-01-02T00:00:00Z" })],
              next_before: "b",
            }),
    );
    await useJobs.getState().load();
    expect(useJobs.getState().jobs.map((j) => j.job_id)).toEqual(["b", "a"]);
    expect(useJobs.getState().nextBefore).toBe("b");
    await useJobs.getState().loadMore();
    expect(useJobs.getState().jobs.map((j) => j.job_id)).toEqual(["b", "a", "c"]);
    expect(useJobs.getState().nextBefore).toBeNull();

    useJobs.setState({ jobs: [], knownIds: ["k"] });
    mockFetch((c) =>
      c.url.startsWith("/api/v1/jobs?") || c.url === "/openapi.json" ? json({ detail: "Not Found" }, 404) : json(job({ job_id: "k" })),
    );
    await useJobs.getState().load();
    expect(useJobs.getState().jobs.map((j) => j.job_id)).toEqual(["k"]);
  });

  it("cancel stores the cancelled job", async () => {
    useJobs.setState({ jobs: [job({ status: "running" })] });
    const calls = mockFetch(() => json(job({ status: "cancelled" })));
    await useJobs.getState().cancel("j1");
    expect(calls[0]).toMatchObject({ method: "POST", url: "/api/v1/jobs/j1/cancel" });
    expect(useJobs.getState().jobs[0]?.status).toBe("cancelled");
  });
});

describe("result layout", () => {
  it("places results by result_indexes and reports per-prompt errors", () => {
    const j = job({
      total_prompts: 3,
      completed_prompts: 2,
      failed_prompts: 1,
      results: ["r0", "r2"],
      result_indexes: [0, 2],
      prompt_errors: [{ index: 1, message: "rejected" }],
    });
    expect(resultsByPrompt(j)).toEqual(["r0", undefined, "r2"]);
    expect(jobPercent(j)).toBe(100);
    expect(jobToCsv(j, ["a", "b", "c"])).toBe("index,prompt,result,error\r\n1,a,r0,\r\n2,b,,rejected\r\n3,c,r2,\r\n");
    expect(jobPercent(job({ total_prompts: 3, completed_prompts: 1 }))).toBe(33);
    expect(progressText(job({ total_prompts: 4, completed_prompts: 3, failed_prompts: 1 }))).toBe("3 of 4 done, 1 failed");
    expect(progressText(job({ total_prompts: 4, completed_prompts: 2 }))).toBe("2 of 4 done");
  });
});

describe("result downloads", () => {
  const done = job({ status: "completed", completed_prompts: 2, results: ['say "x"', "a,b\nc"] });
  it("CSV quotes cells with commas, quotes and newlines", () => {
    expect(jobToCsv(done, ["p1", "p2"])).toBe('index,prompt,result,error\r\n1,p1,"say ""x""",\r\n2,p2,"a,b\nc",\r\n');
  });
  it("JSON pairs prompts with results", () => {
    const parsed = JSON.parse(jobToJson(done, ["p1", "p2"])) as { items: unknown[]; job_id: string };
    expect(parsed.job_id).toBe("j1");
    expect(parsed.items).toEqual([
      { index: 1, prompt: "p1", result: 'say "x"' },
      { index: 2, prompt: "p2", result: "a,b\nc" },
    ]);
  });
});
