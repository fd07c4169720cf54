import { describe, expect, it } from "vitest";
import { retryDelayMs } from "../../src/util/retry.ts";

describe("retryDelayMs (full jitter, Retry-After wins)", () => {
  const backoff = { baseMs: 100, maxMs: 5000 };

  it("spreads the wait over [0, base × 2^retry), capped at maxMs", () => {
    expect(retryDelayMs(0, backoff, undefined, () => 0)).toBe(0);
    expect(retryDelayMs(0, backoff, undefined, () => 0.5)).toBe(50);
    expect(retryDelayMs(3, backoff, undefined, () => 0.5)).toBe(400);
    expect(retryDelayMs(20, backoff, undefined, () => 0.999)).toBeCloseTo(4995, 6);
    for (let i = 0; i < 200; i++) {
      const ms = retryDelayMs(2, backoff);
      expect(ms).toBeGreaterThanOrEqual(0);
      expect(ms).toBeLessThan(400);
    }
  });

  it("uses a server's Retry-After as given, even 0", () => {
    expect(retryDelayMs(5, backoff, 1234, () => 0.5)).toBe(1234);
    expect(retryDelayMs(5, backoff, 0, () => 0.5)).toBe(0);
  });
});
