import { describe, expect, it } from "vitest";
import { CircuitBreaker } from "../../src/intensity/breaker.ts";
import { redact } from "../../src/intensity/electricitymaps.ts";
import type { IntensityRow } from "../../src/intensity/types.ts";
import {
  HOUR_MS,
  normaliseRows,
  rowEndMs,
  rowGranularityMs,
  timeWeightedMean,
} from "../../src/intensity/window.ts";
import { parseRetryAfterMs } from "../../src/util/retry-after.ts";

const T0 = Date.parse("2026-11-23T10:00:00.000Z");
const rows = (values: number[], stepMs = HOUR_MS): IntensityRow[] =>
  values.map((gramsPerKwh, i) => ({ startMs: T0 + i * stepMs, gramsPerKwh }));

describe("timeWeightedMean", () => {
  it("a 3-hour job gets the mean of the three hourly rows", () => {
    const mean = timeWeightedMean(rows([100, 200, 600]), { startMs: T0, endMs: T0 + 3 * HOUR_MS });
    expect(mean?.gramsPerKwh).toBeCloseTo(300, 9);
    expect(mean?.rowCount).toBe(3);
    expect(mean?.coveredMs).toBe(3 * HOUR_MS);
  });

  it("weights partial hours by their overlap (10:30–12:30 → ½·100 + 200 + ½·600 over 2 h)", () => {
    const mean = timeWeightedMean(rows([100, 200, 600]), {
      startMs: T0 + HOUR_MS / 2,
      endMs: T0 + 2.5 * HOUR_MS,
    });
    expect(mean?.gramsPerKwh).toBeCloseTo((50 + 200 + 300) / 2, 9);
  });

  it("uneven overlap: 10:45–11:15 is ¼ h of 100 and ¼ h of 200", () => {
    const mean = timeWeightedMean(rows([100, 200]), {
      startMs: T0 + 0.75 * HOUR_MS,
      endMs: T0 + 1.25 * HOUR_MS,
    });
    expect(mean?.gramsPerKwh).toBeCloseTo(150, 9);
    const skewed = timeWeightedMean(rows([100, 200]), {
      startMs: T0 + 0.5 * HOUR_MS,
      endMs: T0 + 1.25 * HOUR_MS,
    });
    expect(skewed?.gramsPerKwh).toBeCloseTo((0.5 * 100 + 0.25 * 200) / 0.75, 9);
  });

  it("uses finer granularity when rows are 15 minutes apart", () => {
    const quarter = HOUR_MS / 4;
    const r = rows([100, 300, 500, 700], quarter);
    expect(rowGranularityMs(r)).toBe(quarter);
    expect(timeWeightedMean(r, { startMs: T0, endMs: T0 + HOUR_MS })?.gramsPerKwh).toBeCloseTo(400, 9);
    // Beyond the last row's quarter the data does not stretch.
    expect(timeWeightedMean(r, { startMs: T0 + HOUR_MS, endMs: T0 + 2 * HOUR_MS })).toBeUndefined();
  });

  it("a gap in the data stays a gap: a missing hour is not filled by the row before it", () => {
    const r = [
      ...rows([100]),
      { startMs: T0 + 2 * HOUR_MS, gramsPerKwh: 300 },
      { startMs: T0 + 3 * HOUR_MS, gramsPerKwh: 300 },
    ];
    const mean = timeWeightedMean(r, { startMs: T0, endMs: T0 + 3 * HOUR_MS });
    expect(mean?.coveredMs).toBe(2 * HOUR_MS);
    expect(mean?.gramsPerKwh).toBeCloseTo(200, 9);
  });

  it("an instant takes the row containing it; a window outside the rows gives undefined", () => {
    const r = rows([100, 200, 600]);
    expect(timeWeightedMean(r, { startMs: T0 + 1.5 * HOUR_MS, endMs: T0 + 1.5 * HOUR_MS })?.gramsPerKwh).toBe(
      200,
    );
    expect(timeWeightedMean(r, { startMs: T0 - 5 * HOUR_MS, endMs: T0 - HOUR_MS })).toBeUndefined();
    expect(timeWeightedMean([], { startMs: T0, endMs: T0 + 1 })).toBeUndefined();
  });

  it("flags estimated rows and normalises unsorted, duplicate and non-finite rows", () => {
    const r = normaliseRows([
      { startMs: T0 + HOUR_MS, gramsPerKwh: 999 },
      { startMs: T0, gramsPerKwh: 100, isEstimated: true },
      { startMs: T0 + HOUR_MS, gramsPerKwh: 200 },
      { startMs: T0 + 2 * HOUR_MS, gramsPerKwh: Number.NaN },
    ]);
    expect(r.map((x) => x.gramsPerKwh)).toEqual([100, 200]);
    const mean = timeWeightedMean(r, { startMs: T0, endMs: T0 + 2 * HOUR_MS });
    expect(mean?.gramsPerKwh).toBeCloseTo(150, 9);
    expect(mean?.isEstimated).toBe(true);
  });
});

describe("CircuitBreaker", () => {
  it("opens after N failures, lets one probe through after reset, closes on its success", () => {
    let now = 0;
    const b = new CircuitBreaker({ failureThreshold: 3, resetMs: 1000, now: () => now });
    for (let i = 0; i < 3; i++) {
      expect(b.tryAcquire()).toBe(true);
      b.failure();
    }
    expect(b.state).toBe("open");
    expect(b.tryAcquire()).toBe(false);
    now = 1000;
    expect(b.state).toBe("half-open");
    expect(b.tryAcquire()).toBe(true);
    expect(b.tryAcquire()).toBe(false); // single probe
    b.failure();
    expect(b.state).toBe("open");
    now = 2000;
    expect(b.tryAcquire()).toBe(true);
    b.success();
    expect(b.state).toBe("closed");
    expect(b.tryAcquire()).toBe(true);
  });

  it("a success resets the consecutive-failure count", () => {
    const b = new CircuitBreaker({ failureThreshold: 2, resetMs: 1000, now: () => 0 });
    b.failure();
    b.success();
    b.failure();
    expect(b.state).toBe("closed");
  });
});

describe("client helpers", () => {
  it("parses Retry-After as seconds or HTTP date", () => {
    expect(parseRetryAfterMs("2", 0)).toBe(2000);
    expect(parseRetryAfterMs(new Date(5000).toUTCString(), 1000)).toBe(4000);
    expect(parseRetryAfterMs("soon", 0)).toBeUndefined();
    expect(parseRetryAfterMs(undefined, 0)).toBeUndefined();
  });

  it("redacts the secret everywhere in a message", () => {
    expect(redact("a s3cret-tok b s3cret-tok", "s3cret-tok")).toBe("a [redacted] b [redacted]");
  });
});

describe("rowEndMs: the one row-end rule", () => {
  it("a row ends at the next row's start, at most one granularity after its own", () => {
    const sorted = normaliseRows([...rows([100, 200]), { startMs: T0 + 5 * HOUR_MS, gramsPerKwh: 300 }]);
    const g = rowGranularityMs(sorted);
    expect(g).toBe(HOUR_MS);
    expect(rowEndMs(sorted, 0, g)).toBe(T0 + HOUR_MS);
    // A gap stays a gap: the row before it does not stretch to the next start.
    expect(rowEndMs(sorted, 1, g)).toBe(T0 + 2 * HOUR_MS);
    expect(rowEndMs(sorted, 2, g)).toBe(T0 + 6 * HOUR_MS);
  });
});
