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
  it("explains network failures", () => {
    expect(humanError(new NetworkError("Cannot reach the server (Failed to fetch)"))).toEqual({
      message: "Cannot reach the server. Check your connection and try again.",
      details: "Cannot reach the server (Failed to fetch)",
    });
  });
});
