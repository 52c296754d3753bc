import { describe, expect, it } from "vitest";
import { formatUsd } from "./CostByModel";

describe("cost figures", () => {
  it("shows dollars with enough digits for cheap models", () => {
    expect(formatUsd(0)).toBe("$0");
    expect(formatUsd(12.345)).toBe("$12.35");
    expect(formatUsd(0.004213)).toBe("$0.0042");
    expect(formatUsd(0.0000087)).toBe("$0.000009");
    expect(formatUsd(0.5)).toBe("$0.5");
    expect(formatUsd(7.9e-7)).toBe("<$0.000001");
  });
});
