import { describe, expect, it } from "vitest";
import { randomHex } from "../../../../cni/lib/random.js";

describe("randomHex()", () => {
  it("returns two lowercase hex characters per byte", () => {
    expect(randomHex(4)).toMatch(/^[0-9a-f]{8}$/);
    expect(randomHex(8)).toMatch(/^[0-9a-f]{16}$/);
  });

  it("returns different values on successive calls", () => {
    const seen = new Set(Array.from({ length: 50 }, () => randomHex(8)));
    expect(seen.size).toBe(50);
  });
});
