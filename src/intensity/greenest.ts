/**
 * Carbon-aware scheduling: the start time, within the next hours, that minimises the mean
 * forecast intensity over a job of a given length.
 *
 * Rows are piecewise constant (a row covers [start, next start), at most one granularity long —
 * the rule of window.ts, so a gap stays a gap). The mean over [s, s + D] is then piecewise
 * linear in s, with kinks only where s or s + D crosses a row boundary; its minimum over an
 * interval of starts is therefore at such a crossing or at an end of the interval. Evaluating
 * exactly those candidates is exact (no step-size error) and cheap: about 2 × rows candidates
 * of O(rows) each.
 */
import { Co2eError, ERROR_CODES } from "../errors.ts";
import type { IntensityRow } from "./types.ts";
import { HOUR_MS, normaliseRows, rowEndMs, rowGranularityMs } from "./window.ts";

export { HOUR_MS };

export interface GreenestSearch {
  nowMs: number;
  /** Length of the job, ms (> 0). */
  durationMs: number;
  /** Latest start considered, ms after now. The job must also end within the forecast. */
  withinMs: number;
  /** Only consider starts at now + k × stepMs (e.g. 15 min); default: exact search. */
  stepMs?: number;
}

export interface GreenestWindowResult {
  startMs: number;
  endMs: number;
  /** Time-weighted mean forecast intensity over the best window, gCO₂e/kWh. */
  gramsPerKwh: number;
  /** The same job started now; absent when the forecast does not cover [now, now + D]. */
  now?: { startMs: number; gramsPerKwh: number };
  /** (now − best) ÷ now × 100; absent without a `now` figure. */
  savingPercent?: number;
  /** Start of the first and end of the last forecast row. */
  forecastStartMs: number;
  forecastEndMs: number;
  candidates: number;
}

interface Segment {
  startMs: number;
  endMs: number;
  gramsPerKwh: number;
}

function segmentsOf(rows: readonly IntensityRow[]): Segment[] {
  const sorted = normaliseRows(rows);
  const granularityMs = rowGranularityMs(sorted);
  return sorted.map((row, i) => ({
    startMs: row.startMs,
    endMs: rowEndMs(sorted, i, granularityMs),
    gramsPerKwh: row.gramsPerKwh,
  }));
}

/** Mean over [s, e] if the segments cover it without a gap, else undefined. */
function coveredMean(segments: readonly Segment[], s: number, e: number): number | undefined {
  let weighted = 0;
  let reached = s;
  for (const seg of segments) {
    if (seg.endMs <= reached) continue;
    if (seg.startMs > reached) return undefined; // a gap before e
    const to = Math.min(seg.endMs, e);
    weighted += seg.gramsPerKwh * (to - reached);
    reached = to;
    if (reached >= e) return weighted / (e - s);
  }
  return undefined;
}

/** The greenest start, or undefined when no window of that length fits in the forecast. */
export function findGreenestWindow(
  rows: readonly IntensityRow[],
  search: GreenestSearch,
): GreenestWindowResult | undefined {
  const { nowMs, durationMs, withinMs } = search;
  if (!(durationMs > 0) || !(withinMs >= 0) || !Number.isFinite(nowMs)) {
    throw new Co2eError(
      ERROR_CODES.usage,
      "greenest window: needs durationMs > 0, withinMs ≥ 0 and a finite nowMs",
    );
  }
  const segments = segmentsOf(rows);
  if (segments.length === 0) return undefined;
  const latestStart = nowMs + withinMs;
  const candidates = new Set<number>();
  if (search.stepMs !== undefined && search.stepMs > 0) {
    for (let s = nowMs, k = 0; s <= latestStart && k < 100_000; k++, s = nowMs + k * search.stepMs)
      candidates.add(s);
  } else {
    candidates.add(nowMs);
    candidates.add(latestStart);
    for (const seg of segments) {
      for (const b of [seg.startMs, seg.endMs]) {
        if (!Number.isFinite(b)) continue;
        candidates.add(b);
        candidates.add(b - durationMs);
      }
    }
  }
  let best: { startMs: number; gramsPerKwh: number } | undefined;
  let evaluated = 0;
  for (const s of [...candidates].sort((a, b) => a - b)) {
    if (s < nowMs || s > latestStart) continue;
    const mean = coveredMean(segments, s, s + durationMs);
    if (mean === undefined) continue;
    evaluated++;
    // Ties (within rounding) go to the earlier start: run as soon as it is as green.
    if (!best || mean < best.gramsPerKwh - 1e-9 * Math.max(1, Math.abs(best.gramsPerKwh))) {
      best = { startMs: s, gramsPerKwh: mean };
    }
  }
  if (!best) return undefined;
  const last = segments.at(-1)!;
  const result: GreenestWindowResult = {
    startMs: best.startMs,
    endMs: best.startMs + durationMs,
    gramsPerKwh: best.gramsPerKwh,
    forecastStartMs: segments[0]!.startMs,
    forecastEndMs: last.endMs,
    candidates: evaluated,
  };
  const nowMean = coveredMean(segments, nowMs, nowMs + durationMs);
  if (nowMean !== undefined) {
    result.now = { startMs: nowMs, gramsPerKwh: nowMean };
    result.savingPercent = nowMean > 0 ? ((nowMean - best.gramsPerKwh) / nowMean) * 100 : 0;
  }
  return result;
}

/** The part of ElectricityMapsClient the search needs (a test can hand in its own). */
export interface ForecastClient {
  forecast(location: { zone: string }): Promise<IntensityRow[]>;
}

export interface GreenestWindowOptions {
  zone: string;
  durationMs: number;
  /** @default 24 h */
  withinMs?: number;
  stepMs?: number;
  /** Where the forecast comes from, e.g. an ElectricityMapsClient; the caller owns and closes it. */
  client: ForecastClient;
  /** @default Date.now() */
  nowMs?: number;
}

/**
 * Library counterpart of `co2e window`: fetches the zone's forecast from the client and finds the
 * greenest start. Throws `CO2E_ERR_NO_FORECAST` when the forecast is too short or gappy for the
 * job; the client's own errors (`CO2E_ERR_AUTH`, `CO2E_ERR_PROVIDER`, …) pass through.
 */
export async function greenestWindow(options: GreenestWindowOptions): Promise<GreenestWindowResult> {
  const nowMs = options.nowMs ?? Date.now();
  const withinMs = options.withinMs ?? 24 * HOUR_MS;
  const rows = await options.client.forecast({ zone: options.zone });
  const search: GreenestSearch = { nowMs, durationMs: options.durationMs, withinMs };
  if (options.stepMs !== undefined) search.stepMs = options.stepMs;
  const result = findGreenestWindow(rows, search);
  if (!result) {
    const span = rows.length
      ? `${new Date(rows[0]!.startMs).toISOString()} … ${new Date(rows.at(-1)!.startMs).toISOString()}`
      : "none";
    throw new Co2eError(
      ERROR_CODES.noForecast,
      `the forecast for ${options.zone} (rows ${span}) has no gap-free window of ${options.durationMs / 60_000} min starting within ${withinMs / HOUR_MS} h`,
    );
  }
  return result;
}
