import { describe, expect, it } from "vitest";
import { Co2eError, ERROR_CODES } from "../../src/errors.ts";
import { findGreenestWindow, greenestWindow, HOUR_MS } from "../../src/intensity/greenest.ts";
import type { IntensityRow } from "../../src/intensity/types.ts";

const T0 = Date.UTC(2026, 10, 23, 0, 0, 0);
const hourly = (values: number[], start = T0): IntensityRow[] =>
  values.map((gramsPerKwh, i) => ({ startMs: start + i * HOUR_MS, gramsPerKwh }));

/** Brute force on a 1-minute grid: the reference the exact search must match or beat. */
function bruteForce(rows: IntensityRow[], nowMs: number, durationMs: number, withinMs: number): number {
  let best = Number.POSITIVE_INFINITY;
  const end = rows.at(-1)!.startMs + HOUR_MS;
  for (let s = nowMs; s <= nowMs + withinMs && s + durationMs <= end; s += 60_000) {
    let w = 0;
    for (const r of rows) {
      const o = Math.min(s + durationMs, r.startMs + HOUR_MS) - Math.max(s, r.startMs);
      if (o > 0) w += o * r.gramsPerKwh;
    }
    best = Math.min(best, w / durationMs);
  }
  return best;
}

describe("findGreenestWindow", () => {
  it("picks the hour of the minimum for a one-hour job", () => {
    const rows = hourly([400, 380, 300, 120, 250, 390]);
    const r = findGreenestWindow(rows, { nowMs: T0, durationMs: HOUR_MS, withinMs: 24 * HOUR_MS })!;
    expect(r.startMs).toBe(T0 + 3 * HOUR_MS);
    expect(r.gramsPerKwh).toBe(120);
    expect(r.now!.gramsPerKwh).toBe(400);
    expect(r.savingPercent).toBeCloseTo(70, 9);
  });

  it("a job longer than the dip straddles it: 3 h over [300, 120, 250] beats [380, 300, 120]", () => {
    const rows = hourly([400, 380, 300, 120, 250, 390, 400]);
    const r = findGreenestWindow(rows, { nowMs: T0, durationMs: 3 * HOUR_MS, withinMs: 24 * HOUR_MS })!;
    expect(r.startMs).toBe(T0 + 2 * HOUR_MS);
    expect(r.gramsPerKwh).toBeCloseTo((300 + 120 + 250) / 3, 9);
  });

  it("partial hours: a 90-min job is centred on a single low hour between two others", () => {
    // 100 flanked by 200 (left) and 150 (right): best = 60 min at 100 + 30 min at 150,
    // starting on the hour of the minimum.
    const rows = hourly([500, 200, 100, 150, 500]);
    const r = findGreenestWindow(rows, { nowMs: T0, durationMs: 90 * 60_000, withinMs: 24 * HOUR_MS })!;
    expect(r.startMs).toBe(T0 + 2 * HOUR_MS);
    expect(r.gramsPerKwh).toBeCloseTo((100 * 60 + 150 * 30) / 90, 9);
  });

  it("starts mid-hour when now is mid-hour, and weights the partial first hour", () => {
    const rows = hourly([100, 300, 300]);
    const now = T0 + 30 * 60_000;
    const r = findGreenestWindow(rows, { nowMs: now, durationMs: HOUR_MS, withinMs: 24 * HOUR_MS })!;
    expect(r.startMs).toBe(now);
    expect(r.gramsPerKwh).toBeCloseTo(200, 9);
    expect(r.savingPercent).toBeCloseTo(0, 9);
  });

  it("respects --within: the minimum beyond the horizon is not chosen", () => {
    const rows = hourly([300, 200, 250, 280, 50, 300]);
    const r = findGreenestWindow(rows, { nowMs: T0, durationMs: HOUR_MS, withinMs: 2 * HOUR_MS })!;
    expect(r.startMs).toBe(T0 + HOUR_MS);
    expect(r.gramsPerKwh).toBe(200);
  });

  it("ties go to the earliest start", () => {
    const r = findGreenestWindow(hourly([200, 100, 300, 100]), {
      nowMs: T0,
      durationMs: HOUR_MS,
      withinMs: 10 * HOUR_MS,
    })!;
    expect(r.startMs).toBe(T0 + HOUR_MS);
  });

  it("never spans a gap in the forecast and says when nothing fits", () => {
    const rows = [
      ...hourly([300, 300]),
      ...hourly([50], T0 + 3 * HOUR_MS),
      ...hourly([60], T0 + 4 * HOUR_MS),
    ];
    const r = findGreenestWindow(rows, { nowMs: T0, durationMs: 2 * HOUR_MS, withinMs: 24 * HOUR_MS })!;
    expect(r.startMs).toBe(T0 + 3 * HOUR_MS);
    expect(r.gramsPerKwh).toBeCloseTo(55, 9);
    expect(
      findGreenestWindow(hourly([1, 2]), { nowMs: T0, durationMs: 3 * HOUR_MS, withinMs: HOUR_MS }),
    ).toBeUndefined();
    expect(findGreenestWindow([], { nowMs: T0, durationMs: HOUR_MS, withinMs: HOUR_MS })).toBeUndefined();
  });

  it("no `now` figure when the forecast begins later than now", () => {
    const r = findGreenestWindow(hourly([100, 200], T0 + HOUR_MS), {
      nowMs: T0,
      durationMs: HOUR_MS,
      withinMs: 5 * HOUR_MS,
    })!;
    expect(r.startMs).toBe(T0 + HOUR_MS);
    expect(r.now).toBeUndefined();
    expect(r.savingPercent).toBeUndefined();
  });

  it("stepMs restricts starts to a grid from now", () => {
    const rows = hourly([400, 380, 300, 120, 250, 390]);
    const now = T0 + 10 * 60_000;
    const r = findGreenestWindow(rows, {
      nowMs: now,
      durationMs: HOUR_MS,
      withinMs: 24 * HOUR_MS,
      stepMs: 30 * 60_000,
    })!;
    expect((r.startMs - now) % (30 * 60_000)).toBe(0);
    // 03:10: 50 min at 120 + 10 min at 250 beats 02:40 (20 min at 300 + 40 min at 120).
    expect(r.startMs).toBe(now + 6 * 30 * 60_000);
    expect(r.gramsPerKwh).toBeCloseTo((50 * 120 + 10 * 250) / 60, 9);
  });

  it("matches a 1-minute brute force on irregular data and odd durations", () => {
    const values = [420, 390, 310, 205, 180, 260, 140, 150, 300, 330, 90, 400, 410, 120, 125, 500];
    const rows = hourly(values);
    for (const minutes of [20, 45, 60, 95, 150, 241]) {
      for (const nowOffset of [0, 17, 45]) {
        const now = T0 + nowOffset * 60_000;
        const within = 12 * HOUR_MS;
        const r = findGreenestWindow(rows, { nowMs: now, durationMs: minutes * 60_000, withinMs: within })!;
        const ref = bruteForce(rows, now, minutes * 60_000, within);
        expect(r.gramsPerKwh).toBeLessThanOrEqual(ref + 1e-9);
        expect(r.gramsPerKwh).toBeGreaterThan(ref - 5); // the grid can only be slightly worse
      }
    }
  });
});

describe("greenestWindow takes its forecast client", () => {
  it("asks the given client for the zone's forecast and searches it", async () => {
    const asked: string[] = [];
    const client = {
      async forecast(location: { zone: string }) {
        asked.push(location.zone);
        return hourly([500, 100, 400]);
      },
    };
    const r = await greenestWindow({
      zone: "DE",
      durationMs: HOUR_MS,
      withinMs: 2 * HOUR_MS,
      client,
      nowMs: T0,
    });
    expect(asked).toEqual(["DE"]);
    expect(r.startMs).toBe(T0 + HOUR_MS);
    expect(r.gramsPerKwh).toBe(100);
  });

  it("a forecast too short for the job is CO2E_ERR_NO_FORECAST; the client's own errors pass through", async () => {
    const short = { forecast: async () => hourly([300]) };
    await expect(
      greenestWindow({ zone: "DE", durationMs: 2 * HOUR_MS, client: short, nowMs: T0 }),
    ).rejects.toMatchObject({ code: "CO2E_ERR_NO_FORECAST" });
    const refused = {
      forecast: async () => {
        throw new Co2eError(ERROR_CODES.auth, "refused");
      },
    };
    await expect(greenestWindow({ zone: "DE", durationMs: HOUR_MS, client: refused })).rejects.toMatchObject({
      code: "CO2E_ERR_AUTH",
    });
  });
});
