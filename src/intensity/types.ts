import type { IntensitySource } from "../semconv.ts";

/** A time window in epoch milliseconds, [startMs, endMs]. */
export interface TimeWindow {
  startMs: number;
  endMs: number;
}

/** Electricity Maps' emission factor types (its `emissionFactorType` query parameter). */
export type EmissionFactorType = "lifecycle" | "direct";

/** How the value for a window was obtained (`carbon.intensity.method`). */
export const INTENSITY_METHODS = ["latest", "time-weighted", "yearly-average", "configured"] as const;
export type IntensityMethod = (typeof INTENSITY_METHODS)[number];

/** A grid carbon intensity with where it came from. Every provider returns this shape. */
export interface IntensityValue {
  gramsPerKwh: number;
  /** Electricity Maps zone key (`DE`, `US-MIDA-PJM`) or Ember country code (`DEU`, `WORLD`). */
  zone: string;
  source: IntensitySource;
  method: IntensityMethod;
  /** Data year for static values. */
  year?: number;
  /** ISO time the value refers to (live values). */
  datetime?: string;
  isEstimated?: boolean;
  estimationMethod?: string;
  /** Age of the data relative to the end of the requested window, seconds. */
  ageSeconds?: number;
  /** Human-readable data set, e.g. "Electricity Maps yearly 2025 (via @tgwf/co2, ODbL)". */
  dataset?: string;
  /**
   * Emission factors behind the value: `lifecycle` (construction, fuel supply and combustion) or
   * `direct` (combustion only). Live values carry what was asked for; the static tables hold
   * lifecycle figures (see static.ts).
   */
  emissionFactorType?: EmissionFactorType;
  /** Set when a live provider was asked but the static table answered. */
  fallbackReason?: string;
}

/** One hourly (or finer) row of live data. */
export interface IntensityRow {
  /** Start of the row's period, epoch ms. */
  startMs: number;
  gramsPerKwh: number;
  isEstimated?: boolean;
}

/**
 * Intensity for a zone over a window. Implementations never throw and never reject for a zone the
 * static table knows: a live failure becomes the static value with `fallbackReason`. The one
 * error they raise is `CO2E_ERR_UNKNOWN_ZONE`, which callers check with `resolveZone` first.
 */
export interface IntensityProvider {
  readonly name: string;
  /**
   * Synchronous best answer from what is already known (cache, static table). Used inside
   * `SpanProcessor.onEnding`, which must not wait: the span is never delayed.
   */
  lookup(zone: string, window: TimeWindow): IntensityValue;
  /** Fetches when needed, bounded by the provider's timeout; never rejects. */
  get(zone: string, window: TimeWindow): Promise<IntensityValue>;
  /** Starts fetching for a zone in the background so a later `lookup` finds a warm value. */
  warm(zone: string): void;
  /** Hourly rows for the zone around now (history and forecast) if cached, for counterfactuals. */
  cachedRows?(zone: string): readonly IntensityRow[] | undefined;
  close(): Promise<void>;
}

/** Outcome of one request to a live provider, the `outcome` label of co2e_intensity_requests_total. */
export type IntensityRequestOutcome =
  | "ok"
  | "timeout"
  | "network_error"
  | "http_error"
  | "rate_limited"
  | "auth_error"
  | "not_found"
  | "bad_body"
  | "circuit_open";

/**
 * Hooks a provider calls so metrics can count requests and show the intensity in use, without
 * the provider knowing about OTel metrics. src/metrics implements it.
 */
export interface IntensityObserver {
  onRequest(provider: string, outcome: IntensityRequestOutcome): void;
  onValue(value: IntensityValue): void;
}
