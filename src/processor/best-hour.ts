import type { IntensityProvider, IntensityRow, TimeWindow } from "../intensity/types.ts";

/** "The surrounding 24 h" of a job: 12 h either side of its window. */
export const BEST_HOUR_SPAN_MS = 12 * 3600 * 1000;

/**
 * Lowest intensity among cached rows starting within ±12 h of the window (history and forecast),
 * or undefined when no row is that close: then no counterfactual is claimed.
 */
export function bestHourFromRows(
  rows: readonly IntensityRow[] | undefined,
  window: TimeWindow,
): number | undefined {
  if (!rows) return undefined;
  const from = window.startMs - BEST_HOUR_SPAN_MS;
  const to = window.endMs + BEST_HOUR_SPAN_MS;
  let best: number | undefined;
  for (const row of rows) {
    if (row.startMs < from || row.startMs > to || !Number.isFinite(row.gramsPerKwh)) continue;
    if (best === undefined || row.gramsPerKwh < best) best = row.gramsPerKwh;
  }
  return best;
}

/**
 * The best-hour lookup for a provider that caches hourly rows (the live one); undefined for one
 * that has none (the static table), so no counterfactual is claimed there.
 */
export function bestHourLookup(
  provider: IntensityProvider,
): ((zone: string, window: TimeWindow) => number | undefined) | undefined {
  const cachedRows = provider.cachedRows?.bind(provider);
  return cachedRows ? (zone, window) => bestHourFromRows(cachedRows(zone), window) : undefined;
}
