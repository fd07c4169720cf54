/**
 * Intensity over a job's time window from hourly (or finer) rows: the time-weighted mean of the
 * rows overlapping [startMs, endMs]. A row covers [row.startMs, next row's start), at most one
 * granularity long (the smallest spacing seen between rows, hourly when there is one row), so a
 * gap in the data stays a gap instead of stretching the row before it.
 *
 * Weighting by overlap (not a plain mean of rows) is what makes a job from 10:30 to 12:30 count
 * half of 10:00, all of 11:00 and half of 12:00.
 */
import type { IntensityRow, TimeWindow } from "./types.ts";

export const HOUR_MS = 3_600_000;

export interface WindowMean {
  gramsPerKwh: number;
  /** Milliseconds of the window covered by rows. */
  coveredMs: number;
  /** Rows that overlapped the window (with a positive overlap). */
  rowCount: number;
  /** Last (latest) overlapping row. */
  lastRow: IntensityRow;
  /** true when any overlapping row is an estimate. */
  isEstimated: boolean;
}

/** Rows sorted by start, finite values only, later duplicates of a start replacing earlier ones. */
export function normaliseRows(rows: readonly IntensityRow[]): IntensityRow[] {
  const byStart = new Map<number, IntensityRow>();
  for (const row of rows) {
    if (Number.isFinite(row.startMs) && Number.isFinite(row.gramsPerKwh)) byStart.set(row.startMs, row);
  }
  return [...byStart.values()].sort((a, b) => a.startMs - b.startMs);
}

/** The rows' granularity: smallest positive spacing, hourly for a single row. */
export function rowGranularityMs(sorted: readonly IntensityRow[]): number {
  let step = Number.POSITIVE_INFINITY;
  for (let i = 1; i < sorted.length; i++) {
    const gap = sorted[i]!.startMs - sorted[i - 1]!.startMs;
    if (gap > 0 && gap < step) step = gap;
  }
  return Number.isFinite(step) ? step : HOUR_MS;
}

/**
 * End of row `i` of `sorted`: the next row's start, but at most one granularity after its own
 * start, so a gap in the data stays a gap. The last row ends one granularity after its start.
 */
export function rowEndMs(sorted: readonly IntensityRow[], i: number, granularityMs: number): number {
  const row = sorted[i]!;
  const next = sorted[i + 1];
  return Math.min(row.startMs + granularityMs, next ? next.startMs : Number.POSITIVE_INFINITY);
}

/**
 * Time-weighted mean over the window, or undefined when no row overlaps it. Takes rows sorted by
 * start (see `normaliseRows`). A zero-length window (an instant) takes the row containing it.
 */
export function timeWeightedMean(
  sorted: readonly IntensityRow[],
  window: TimeWindow,
): WindowMean | undefined {
  if (sorted.length === 0 || !(window.endMs >= window.startMs)) return undefined;
  const granularityMs = rowGranularityMs(sorted);
  const instant = window.endMs === window.startMs;
  let weighted = 0;
  let coveredMs = 0;
  let rowCount = 0;
  let lastRow: IntensityRow | undefined;
  let isEstimated = false;
  for (let i = 0; i < sorted.length; i++) {
    const row = sorted[i]!;
    const endMs = rowEndMs(sorted, i, granularityMs);
    if (instant) {
      if (window.startMs >= row.startMs && window.startMs < endMs) {
        return {
          gramsPerKwh: row.gramsPerKwh,
          coveredMs: 0,
          rowCount: 1,
          lastRow: row,
          isEstimated: !!row.isEstimated,
        };
      }
      continue;
    }
    const overlapMs = Math.min(window.endMs, endMs) - Math.max(window.startMs, row.startMs);
    if (overlapMs <= 0) continue;
    weighted += row.gramsPerKwh * overlapMs;
    coveredMs += overlapMs;
    rowCount += 1;
    lastRow = row;
    if (row.isEstimated) isEstimated = true;
  }
  if (!lastRow || coveredMs <= 0) return undefined;
  return { gramsPerKwh: weighted / coveredMs, coveredMs, rowCount, lastRow, isEstimated };
}
