import { describe, expect, it } from "vitest";
import { invalidTimingReason, MAX_JOB_DURATION_MS } from "../../src/gateway/span-timing.ts";

describe("invalidTimingReason", () => {
  const now = Date.UTC(2025, 0, 15);

  it("accepts a normal window, a zero-length one and exactly the 30-day cap", () => {
    expect(MAX_JOB_DURATION_MS).toBe(30 * 86_400_000);
    expect(invalidTimingReason(now - 2_000, now)).toBeUndefined();
    expect(invalidTimingReason(now, now)).toBeUndefined();
    expect(invalidTimingReason(now - MAX_JOB_DURATION_MS, now)).toBeUndefined();
  });

  it.each([
    ["unset start", 0, now, /start_time_unix_nano is unset/],
    ["unset end", now, 0, /end_time_unix_nano is unset or before/],
    ["end before start", now, now - 1, /before start_time_unix_nano/],
    ["one ms past the cap", now - MAX_JOB_DURATION_MS - 1, now, /exceeds the limit of 30 days/],
    ["not a number", Number.NaN, now, /start_time_unix_nano is unset/],
  ])("refuses %s", (_name, startMs, endMs, why) => {
    const reason = invalidTimingReason(startMs, endMs);
    expect(reason).toMatch(/^invalid span timestamps: /);
    expect(reason).toMatch(why);
  });
});
