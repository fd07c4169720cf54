/**
 * The best-hour counterfactual (`carbon.co2e.grams_at_best_hour`): the lowest intensity among
 * cached rows starting within ±12 h of a job's window. One implementation, src/processor/best-hour.ts.
 */
import { describe, expect, it } from "vitest";
import type { IntensityRow } from "../../src/intensity/types.ts";
import { BEST_HOUR_SPAN_MS, bestHourFromRows } from "../../src/processor/best-hour.ts";

const HOUR_MS = 3_600_000;
const T0 = Date.UTC(2026, 10, 23, 0, 0, 0);
const hourly = (values: number[], start = T0): IntensityRow[] =>
  values.map((gramsPerKwh, i) => ({ startMs: start + i * HOUR_MS, gramsPerKwh }));
const jobHour = { startMs: T0, endMs: T0 + HOUR_MS };

describe("bestHourFromRows", () => {
  it("spans 12 h either side of the window", () => {
    expect(BEST_HOUR_SPAN_MS).toBe(12 * HOUR_MS);
  });

  it("is the lowest row within ±12 h of the window", () => {
    // Rows at −14 h (300) and −13 h (250) are too early; 10 at +15 h is too late.
    const rows = [
      ...hourly([300, 250, 90, 400, 500, 60, 200], T0 - 14 * HOUR_MS),
      ...hourly([10], T0 + 15 * HOUR_MS),
    ];
    expect(bestHourFromRows(rows, jobHour)).toBe(60);
  });

  it("counts rows starting exactly 12 h before the start or after the end, not a ms further", () => {
    const before = hourly([70], T0 - 12 * HOUR_MS);
    expect(bestHourFromRows(before, jobHour)).toBe(70);
    expect(bestHourFromRows(before, { startMs: T0 + 1, endMs: T0 + HOUR_MS })).toBeUndefined();
    const after = hourly([80], T0 + 13 * HOUR_MS);
    expect(bestHourFromRows(after, jobHour)).toBe(80);
    expect(bestHourFromRows(after, { startMs: T0, endMs: T0 + HOUR_MS - 1 })).toBeUndefined();
  });

  it("is undefined without rows, or with none nearby; skips non-finite values", () => {
    expect(bestHourFromRows(undefined, jobHour)).toBeUndefined();
    expect(bestHourFromRows([], jobHour)).toBeUndefined();
    expect(bestHourFromRows(hourly([5], T0 - 48 * HOUR_MS), jobHour)).toBeUndefined();
    const rows: IntensityRow[] = [
      { startMs: T0, gramsPerKwh: Number.NaN },
      { startMs: T0 + HOUR_MS, gramsPerKwh: 150 },
    ];
    expect(bestHourFromRows(rows, jobHour)).toBe(150);
  });

  it("does not depend on row order", () => {
    const rows = hourly([220, 180, 95, 300], T0 - 2 * HOUR_MS);
    expect(bestHourFromRows([...rows].reverse(), jobHour)).toBe(95);
  });
});
