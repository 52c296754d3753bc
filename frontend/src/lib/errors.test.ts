import { describe, expect, it } from "vitest";
import { ApiError, NetworkError } from "@/api/client";
import { StreamError } from "@/api/sse";
import { humanError, splitStreamError } from "./errors";

describe("humanError", () => {
  it("maps codes to short sentences and keeps code, status and request id as details", () => {
    const h = humanError(new ApiError(503, "PROVIDER_OVERLOADED", "upstream 503 from groq", "req-1"));
    expect(h.message).toBe("The model is busy. Try again in a moment.");
    expect(h.details).toBe("PROVIDER_OVERLOADED (HTTP 503) · request req-1 · upstream 503 from groq");
  });
  it("uses the server's sentence for validation errors", () => {
    expect(humanError(new ApiError(422, "VALIDATION_ERROR", "Invalid request: prompt: too long", null)).message).toBe(
      "Prompt: too long.",
    );
  });
  it("reads the code of a stream's [ERROR] line", () => {
    expect(splitStreamError("UNKNOWN_MODEL: no such model")).toEqual({ code: "UNKNOWN_MODEL", message: "no such model" });
    expect(humanError(new StreamError("UNKNOWN_MODEL: no such model")).message).toMatch(/not available/);
    expect(humanError(new StreamError("something odd")).message).toBe("Something odd.");
  });
  it("says which quota is used up in the server's words (file storage, tokens), not the provider's", () => {
    const files = "File storage quota exceeded: 1.0 MB used of 1.0 MB allowed; this file needs 2.0 KB";
    const onUpload = humanError(new ApiError(429, "QUOTA_EXCEEDED", files, "req-2"));
    expect(onUpload.message).toBe(`${files}.`);
    expect(onUpload.details).toBe(`QUOTA_EXCEEDED (HTTP 429) · request req-2 · ${files}`);
    // The token quota's Retry-After is the reset at midnight: not "too many requests, wait N s".
    const tokens = new ApiError(429, "QUOTA_EXCEEDED", "Today's token quota (1000 tokens) is used up; it resets at 2026-12-07 00:00 UTC", null);
    tokens.retryAfterMs = 36_000_000;
    expect(humanError(tokens).message).toBe("Today's token quota (1000 tokens) is used up; it resets at 2026-12-07 00:00 UTC.");
    expect(humanError(new StreamError("QUOTA_EXCEEDED: Today's cost quota ($1.00) is used up")).message).toBe("Today's cost quota ($1.00) is used up.");
    // Without the server's sentence: a neutral one, never the model provider's quota.
    const bare = humanError(new ApiError(429, "QUOTA_EXCEEDED", "", null)).message;
    expect(bare).toBe("Your quota on this server is used up.");
    expect(bare).not.toMatch(/provider/);
  });
  it("explains network failures", () => {
    expect(humanError(new NetworkError("Cannot reach the server (Failed to fetch)"))).toEqual({
      message: "Cannot reach the server. Check your connection and try again.",
      details: "Cannot reach the server (Failed to fetch)",
    });
  });
});
