/**
 * Live grid intensity with a cache in front of Electricity Maps. The hot path (`lookup`, called
 * inside `SpanProcessor.onEnding`) only reads memory: it answers from cached hourly rows, or from
 * the static table with a `fallbackReason`, and at most kicks a background fetch. So a slow or
 * down API can never delay or lose a span.
 *
 * Per zone: one request in flight at a time (single flight), at most one refresh per TTL, the
 * last 24 h of hourly rows from `history` (its last row is the latest value, so one request per
 * refresh gives both). Zones touched recently are refreshed in the background every TTL; the zone
 * map is an LRU of at most `maxZones`. Failures hold the zone off for a while (Retry-After when
 * the API sent one) and feed a circuit breaker shared by all zones. The token's plan is learnt
 * once from `/zones`, so past-range and forecast requests it does not grant are never sent.
 */
import { DEFAULTS } from "../defaults.ts";
import { INTENSITY_SOURCE } from "../semconv.ts";
import { settleWithin } from "../util/timeout.ts";
import { CircuitBreaker } from "./breaker.ts";
import {
  type ElectricityMapsClient,
  ElectricityMapsError,
  type EmRow,
  IMPLAUSIBLE_VALUE_REASON,
  PROVIDER_NAME,
  type ZoneAccessMap,
} from "./electricitymaps.ts";
import { type StaticYear, staticIntensity } from "./static.ts";
import type {
  IntensityObserver,
  IntensityProvider,
  IntensityRow,
  IntensityValue,
  TimeWindow,
} from "./types.ts";
import { HOUR_MS, normaliseRows, rowEndMs, rowGranularityMs, timeWeightedMean } from "./window.ts";

/** past-range answers at most 10 days of hourly rows (electricity-maps-api.md). */
const PAST_RANGE_MAX_MS = 10 * 24 * HOUR_MS;
/** Rows kept per zone: 24 h of history plus up to 10 days from past-range, hourly. */
const MAX_ROWS_PER_ZONE = 24 * 11;
/** Outcomes that say the API is unhealthy (they count towards opening the breaker). */
const UNHEALTHY_REASONS = new Set([
  "timeout",
  "network",
  "rate-limited",
  "bad-body",
  IMPLAUSIBLE_VALUE_REASON,
]);
/** Endpoints gated by the token's plan, as `/zones` names them in `access`. */
const PAST_RANGE_ENDPOINT = "carbon-intensity/past-range";
const FORECAST_ENDPOINT = "carbon-intensity/forecast";
/** Past-range ranges remembered per zone as already answered, so a hole the API has no data for is not asked again. */
const MAX_ANSWERED_RANGES = 64;

/**
 * The first instant in [startMs, untilMs) that no row covers (a row covers [its start, next row's
 * start), at most one granularity: `rowEndMs`), or undefined when all of it is covered.
 */
function firstUncoveredMs(
  sorted: readonly IntensityRow[],
  startMs: number,
  untilMs: number,
): number | undefined {
  const granularityMs = rowGranularityMs(sorted);
  let cursorMs = startMs;
  for (let i = 0; i < sorted.length && cursorMs < untilMs; i++) {
    const row = sorted[i]!;
    const endMs = rowEndMs(sorted, i, granularityMs);
    if (endMs <= cursorMs) continue;
    if (row.startMs > cursorMs) return cursorMs;
    cursorMs = endMs;
  }
  return cursorMs < untilMs ? cursorMs : undefined;
}

/**
 * Whether an `access` list from `/zones` grants an endpoint: `*`, the endpoint itself, or a
 * `prefix/*` entry. Anything we cannot read as a grant is not one; but a zone missing from the
 * answer, or an answer without `access` (no token), means "unknown", decided by the caller.
 */
export function accessGrants(access: readonly string[], endpoint: string): boolean {
  return access.some(
    (entry) =>
      entry === "*" ||
      entry === endpoint ||
      (entry.endsWith("/*") && endpoint.startsWith(entry.slice(0, -1))),
  );
}

export interface LiveIntensityProviderOptions {
  client: ElectricityMapsClient;
  /** Static table year for fallbacks. @default DEFAULTS.intensity.staticYear */
  staticYear?: StaticYear;
  /** A zone is refreshed at most once per TTL. @default DEFAULTS.intensity.cacheTtlSeconds × 1000 */
  cacheTtlMs?: number;
  /** Bound on `get` (fetch incl. retries). @default DEFAULTS.intensity.timeoutMs */
  timeoutMs?: number;
  /** Consecutive failed refreshes that open the breaker. @default DEFAULTS.intensity.breakerFailures */
  breakerFailures?: number;
  /** Breaker open time before one probe, ms. @default DEFAULTS.intensity.breakerResetSeconds × 1000 */
  breakerResetMs?: number;
  /** Cached rows are served until this old when refreshes fail, then the static table. @default 3 × TTL */
  maxStaleMs?: number;
  /** How long after its last use a zone keeps being refreshed in the background. @default 3 × TTL */
  activeMs?: number;
  /** Zones held in memory (LRU). @default 256 */
  maxZones?: number;
  /** Wait after a transient failure before the zone is fetched again. @default min(TTL, 30 s) */
  failureHoldOffMs?: number;
  /** Also fetch the forecast on each refresh for `cachedRows` (needs a plan that has it). @default false */
  forecast?: boolean;
  observer?: IntensityObserver | undefined;
  /** Clock, for tests. @default Date.now */
  now?: () => number;
}

interface ZoneState {
  zone: string;
  rows: EmRow[];
  forecastRows: IntensityRow[];
  /** Last successful refresh, epoch ms. */
  fetchedAtMs: number | undefined;
  /** No refresh before this, epoch ms (failure hold-off, Retry-After, breaker). */
  notBeforeMs: number;
  inFlight: Promise<void> | undefined;
  /** When a refresh waiting for another zone's half-open probe was last counted as `circuit_open`. */
  probeWaitCountedAtMs: number;
  /** Why the last refresh failed; cleared by a success. */
  lastFailure: string | undefined;
  touchedAtMs: number;
  pastRangeDenied: boolean;
  /** The past-range request in flight for this zone (one at a time). */
  pastInFlight: Promise<void> | undefined;
  /** `start:end` of past-range requests already answered (oldest first, bounded). */
  pastAnswered: Set<string>;
  forecastDenied: boolean;
}

/** `/zones` answer as zone (upper case) → access list; zones without `access` are left out. */
function accessByZone(zones: ZoneAccessMap): Map<string, readonly string[]> {
  const out = new Map<string, readonly string[]>();
  for (const [zone, entry] of Object.entries(zones)) {
    if (entry.access) out.set(zone.trim().toUpperCase(), entry.access);
  }
  return out;
}

export class LiveIntensityProvider implements IntensityProvider {
  readonly name = PROVIDER_NAME;
  readonly #client: ElectricityMapsClient;
  readonly #year: StaticYear;
  readonly #ttlMs: number;
  readonly #timeoutMs: number;
  readonly #maxStaleMs: number;
  readonly #activeMs: number;
  readonly #maxZones: number;
  readonly #holdOffMs: number;
  readonly #breakerResetMs: number;
  readonly #forecast: boolean;
  readonly #observer: IntensityObserver | undefined;
  readonly #now: () => number;
  readonly #breaker: CircuitBreaker;
  readonly #zones = new Map<string, ZoneState>();
  readonly #timer: NodeJS.Timeout;
  #closed = false;
  /**
   * The token's endpoints per zone from `/zones`, asked once per provider lifetime at the first
   * fetch ("zones": which endpoints the token may use). `undefined` while
   * unknown (not asked yet, in flight, or failed: then 401s teach us, as before).
   */
  #access: Map<string, readonly string[]> | undefined;
  #accessRequest: Promise<void> | undefined;

  constructor(options: LiveIntensityProviderOptions) {
    this.#client = options.client;
    this.#year = options.staticYear ?? DEFAULTS.intensity.staticYear;
    this.#ttlMs = options.cacheTtlMs ?? DEFAULTS.intensity.cacheTtlSeconds * 1000;
    this.#timeoutMs = options.timeoutMs ?? DEFAULTS.intensity.timeoutMs;
    this.#maxStaleMs = options.maxStaleMs ?? 3 * this.#ttlMs;
    this.#activeMs = options.activeMs ?? 3 * this.#ttlMs;
    this.#maxZones = options.maxZones ?? 256;
    this.#holdOffMs = options.failureHoldOffMs ?? Math.min(this.#ttlMs, 30_000);
    this.#forecast = options.forecast ?? false;
    this.#observer = options.observer;
    this.#now = options.now ?? Date.now;
    this.#breakerResetMs = options.breakerResetMs ?? DEFAULTS.intensity.breakerResetSeconds * 1000;
    this.#breaker = new CircuitBreaker({
      failureThreshold: options.breakerFailures ?? DEFAULTS.intensity.breakerFailures,
      resetMs: this.#breakerResetMs,
      now: this.#now,
    });
    // Background refresh of active zones; unref'd so it never keeps a process alive.
    const tickMs = Math.max(20, Math.min(this.#ttlMs / 4, 30_000));
    this.#timer = setInterval(() => this.#tick(), tickMs);
    this.#timer.unref();
  }

  /** Breaker state, for diagnostics and tests. */
  get breakerState(): "closed" | "open" | "half-open" {
    return this.#breaker.state;
  }

  lookup(zone: string, window: TimeWindow): IntensityValue {
    const state = this.#touch(zone);
    if (this.#due(state)) void this.#refresh(state);
    return this.#serve(state, window);
  }

  async get(zone: string, window: TimeWindow): Promise<IntensityValue> {
    const state = this.#touch(zone);
    const deadlineMs = this.#now() + this.#timeoutMs;
    if (this.#due(state)) await settleWithin(this.#refresh(state), this.#timeoutMs);
    else if (state.inFlight) await settleWithin(state.inFlight, this.#timeoutMs);
    await this.#fillPast(state, window, deadlineMs);
    return this.#serve(state, window);
  }

  warm(zone: string): void {
    const state = this.#touch(zone);
    if (this.#due(state)) void this.#refresh(state);
  }

  cachedRows(zone: string): readonly IntensityRow[] | undefined {
    const state = this.#zones.get(zone.trim().toUpperCase());
    if (!state || state.rows.length + state.forecastRows.length === 0) return undefined;
    const lastPastMs = state.rows.at(-1)?.startMs ?? Number.NEGATIVE_INFINITY;
    return [...state.rows, ...state.forecastRows.filter((r) => r.startMs > lastPastMs)];
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#client.close();
  }

  // -------------------------------------------------------------------------------------------

  #touch(zone: string): ZoneState {
    const key = zone.trim().toUpperCase();
    let state = this.#zones.get(key);
    if (state) {
      // LRU order: most recently used last.
      this.#zones.delete(key);
    } else {
      state = {
        zone: key,
        rows: [],
        forecastRows: [],
        fetchedAtMs: undefined,
        notBeforeMs: 0,
        probeWaitCountedAtMs: Number.NEGATIVE_INFINITY,
        inFlight: undefined,
        lastFailure: undefined,
        touchedAtMs: 0,
        pastRangeDenied: false,
        pastInFlight: undefined,
        pastAnswered: new Set(),
        forecastDenied: false,
      };
    }
    state.touchedAtMs = this.#now();
    this.#zones.set(key, state);
    if (this.#zones.size > this.#maxZones) {
      for (const [oldKey, old] of this.#zones) {
        if (this.#zones.size <= this.#maxZones) break;
        if (old !== state) this.#zones.delete(oldKey);
      }
    }
    return state;
  }

  #due(state: ZoneState): boolean {
    if (this.#closed || state.inFlight) return false;
    const now = this.#now();
    if (now < state.notBeforeMs) return false;
    return state.fetchedAtMs === undefined || now - state.fetchedAtMs >= this.#ttlMs;
  }

  #tick(): void {
    const now = this.#now();
    for (const state of this.#zones.values()) {
      if (now - state.touchedAtMs <= this.#activeMs && this.#due(state)) void this.#refresh(state);
    }
  }

  /** One refresh of a zone; never rejects. Concurrent callers share the promise in flight. */
  #refresh(state: ZoneState): Promise<void> {
    if (state.inFlight) return state.inFlight;
    if (!this.#breaker.tryAcquire()) {
      state.lastFailure = "circuit-open";
      const now = this.#now();
      const retryAtMs = this.#breaker.nextAttemptAtMs;
      if (retryAtMs > now) {
        // Open: ask again when the breaker may let a probe through, not on every lookup.
        state.notBeforeMs = retryAtMs;
        this.#observer?.onRequest(PROVIDER_NAME, "circuit_open");
      } else {
        // Half-open with another zone's probe in flight: that time is already past, so hold this
        // zone off a little (its answer may close the breaker soon) and count `circuit_open` at
        // most once per zone per reset period, not once per lookup until the probe ends.
        state.notBeforeMs = now + Math.min(this.#holdOffMs, this.#breakerResetMs);
        if (now - state.probeWaitCountedAtMs >= this.#breakerResetMs) {
          state.probeWaitCountedAtMs = now;
          this.#observer?.onRequest(PROVIDER_NAME, "circuit_open");
        }
      }
      return Promise.resolve();
    }
    this.#learnAccess();
    const run = async (): Promise<void> => {
      try {
        const rows = await this.#client.history({ zone: state.zone });
        this.#breaker.success();
        const now = this.#now();
        // Keep rows from past-range that are older than this history answer.
        const firstNewMs = rows[0]?.startMs ?? Number.POSITIVE_INFINITY;
        const older = state.rows.filter((r) => r.startMs < firstNewMs);
        state.rows = normaliseRows([...older, ...rows]).slice(-MAX_ROWS_PER_ZONE) as EmRow[];
        state.fetchedAtMs = now;
        state.lastFailure = rows.length === 0 ? "no-data" : undefined;
        state.notBeforeMs = 0;
        if (this.#forecast && !state.forecastDenied) await this.#refreshForecast(state);
      } catch (error) {
        const reason = error instanceof ElectricityMapsError ? error.reason : "error";
        this.#reportToBreaker(reason);
        state.lastFailure = reason;
        const now = this.#now();
        const permanent = reason === "auth" || reason === "unknown-zone";
        const holdOffMs = permanent ? this.#ttlMs : this.#holdOffMs;
        const retryAfterMs = error instanceof ElectricityMapsError ? (error.retryAfterMs ?? 0) : 0;
        state.notBeforeMs = now + Math.max(holdOffMs, retryAfterMs);
      } finally {
        state.inFlight = undefined;
      }
    };
    state.inFlight = run();
    return state.inFlight;
  }

  /**
   * Starts the one `/zones` request of this provider's lifetime, beside the first refresh (not
   * before it, so the first value is not delayed). Bounded by the timeout; a failure is ignored.
   */
  #learnAccess(): void {
    if (this.#accessRequest || this.#closed) return;
    this.#accessRequest = this.#client.zones({ timeoutMs: this.#timeoutMs }).then(
      (zones) => {
        this.#access = accessByZone(zones);
      },
      () => {
        // No zones list (network, plan, old API): keep learning from 401s.
      },
    );
  }

  /**
   * Whether the token may call `endpoint` for the zone: false only when `/zones` said so; waits
   * for the zones answer at most `waitMs`.
   */
  async #mayCall(state: ZoneState, endpoint: string, waitMs: number): Promise<boolean> {
    if (!this.#access && this.#accessRequest) await settleWithin(this.#accessRequest, waitMs);
    const access = this.#access?.get(state.zone);
    return access === undefined || accessGrants(access, endpoint);
  }

  async #refreshForecast(state: ZoneState): Promise<void> {
    if (!(await this.#mayCall(state, FORECAST_ENDPOINT, this.#timeoutMs))) {
      state.forecastDenied = true;
      return;
    }
    try {
      state.forecastRows = await this.#client.forecast({ zone: state.zone });
    } catch (error) {
      // A plan without forecasts answers 401/404: stop asking for this zone.
      if (
        error instanceof ElectricityMapsError &&
        (error.reason === "auth" || error.reason === "no-forecast")
      ) {
        state.forecastDenied = true;
      }
    }
  }

  /**
   * Fills the part of the window before the newest cached row that no row covers (older than the
   * cache, or a gap between an earlier past-range answer and the history) from past-range, within
   * what is left of the budget. One past-range request per zone at a time: a later caller waits
   * for it, then looks again (it may have filled this window too).
   */
  async #fillPast(state: ZoneState, window: TimeWindow, deadlineMs: number): Promise<void> {
    for (;;) {
      if (this.#closed || state.pastRangeDenied) return;
      const askedAtMs = this.#now();
      if (deadlineMs - askedAtMs < 50) return;
      if (state.pastInFlight) {
        await settleWithin(state.pastInFlight, deadlineMs - askedAtMs);
        continue;
      }
      if (askedAtMs - window.startMs > PAST_RANGE_MAX_MS) return;
      const range = this.#missingPastRange(state, window);
      if (!range) return;
      // Set synchronously, so concurrent callers see it before the first await.
      const request = this.#requestPast(state, range.startMs, range.endMs, deadlineMs).finally(() => {
        if (state.pastInFlight === request) state.pastInFlight = undefined;
      });
      state.pastInFlight = request;
      await request;
      return;
    }
  }

  /**
   * The past-range request that would fill the first uncovered part of the window, or undefined
   * when there is none. Only the part before the newest row counts: later ones come from history.
   * The range runs from the hour of the first uncovered instant to the next cached row (or an hour
   * past the window's end, to include the row containing the end), at most 10 days.
   */
  #missingPastRange(state: ZoneState, window: TimeWindow): { startMs: number; endMs: number } | undefined {
    const latest = state.rows.at(-1);
    if (!latest || !Number.isFinite(window.startMs)) return undefined;
    // An instant is looked up as the row containing it: treat it as one millisecond.
    const windowEndMs = Math.max(window.endMs, window.startMs + 1);
    const limitMs = Math.min(windowEndMs, latest.startMs);
    if (!(window.startMs < limitMs)) return undefined;
    const gapMs = firstUncoveredMs(state.rows, window.startMs, limitMs);
    if (gapMs === undefined) return undefined;
    const startMs = Math.floor(gapMs / HOUR_MS) * HOUR_MS;
    // `latest` starts after gapMs, so a next row always exists.
    const nextRowMs = state.rows.find((r) => r.startMs > gapMs)?.startMs ?? latest.startMs;
    const endMs = Math.min(nextRowMs, windowEndMs + HOUR_MS, startMs + PAST_RANGE_MAX_MS);
    if (!(endMs > startMs) || state.pastAnswered.has(`${startMs}:${endMs}`)) return undefined;
    return { startMs, endMs };
  }

  async #requestPast(state: ZoneState, startMs: number, endMs: number, deadlineMs: number): Promise<void> {
    // A plan without past-range (the free tier) is known from /zones: no pointless 401.
    if (!(await this.#mayCall(state, PAST_RANGE_ENDPOINT, deadlineMs - this.#now()))) {
      state.pastRangeDenied = true;
      return;
    }
    const remainingMs = deadlineMs - this.#now();
    if (this.#closed || remainingMs < 50) return;
    if (!this.#breaker.tryAcquire()) return;
    try {
      const rows = await this.#client.pastRange({ zone: state.zone }, startMs, endMs, {
        timeoutMs: remainingMs,
      });
      this.#breaker.success();
      state.rows = normaliseRows([...rows, ...state.rows]).slice(-MAX_ROWS_PER_ZONE) as EmRow[];
      state.pastAnswered.add(`${startMs}:${endMs}`);
      if (state.pastAnswered.size > MAX_ANSWERED_RANGES) {
        const oldest = state.pastAnswered.values().next().value;
        if (oldest !== undefined) state.pastAnswered.delete(oldest);
      }
    } catch (error) {
      const reason = error instanceof ElectricityMapsError ? error.reason : "error";
      // The free tier answers 401 for past-range: do not ask again for this zone.
      if (reason === "auth" || reason === "unknown-zone") state.pastRangeDenied = true;
      this.#reportToBreaker(reason);
    }
  }

  /** A failure that says the API is unhealthy opens the breaker; any other ends the probe. */
  #reportToBreaker(reason: string): void {
    if (UNHEALTHY_REASONS.has(reason) || reason.startsWith("http-5")) this.#breaker.failure();
    else this.#breaker.release();
  }

  #serve(state: ZoneState, window: TimeWindow): IntensityValue {
    const now = this.#now();
    if (
      state.fetchedAtMs !== undefined &&
      now - state.fetchedAtMs <= this.#maxStaleMs &&
      state.rows.length > 0
    ) {
      const value = this.#fromRows(state, window);
      if (value) {
        this.#observer?.onValue(value);
        return value;
      }
      return this.#fallback(state, "no-data-for-window");
    }
    let reason = state.lastFailure;
    if (reason === undefined) reason = state.fetchedAtMs === undefined ? "cache-cold" : "stale";
    return this.#fallback(state, reason);
  }

  #fallback(state: ZoneState, reason: string): IntensityValue {
    // Throws CO2E_ERR_UNKNOWN_ZONE for a zone the static table lacks (callers resolve zones first).
    const value: IntensityValue = { ...staticIntensity(state.zone, this.#year), fallbackReason: reason };
    this.#observer?.onValue(value);
    return value;
  }

  /**
   * The live value for the window, or undefined when no cached row covers it and it lies before
   * the newest row (older than the cache, a gap): today's value would be wrong for it.
   * `ageSeconds` is always window end − start of the last row used, never clamped.
   */
  #fromRows(state: ZoneState, window: TimeWindow): IntensityValue | undefined {
    const rows = state.rows;
    const latest = rows.at(-1)!;
    const endMs = Number.isFinite(window.endMs) ? window.endMs : this.#now();
    const startMs = Number.isFinite(window.startMs) && window.startMs <= endMs ? window.startMs : endMs;
    const mean = timeWeightedMean(rows, { startMs, endMs });
    const dataset = "Electricity Maps (live)";
    if (mean && (mean.rowCount > 1 || mean.lastRow !== latest)) {
      const weighted: IntensityValue = {
        gramsPerKwh: mean.gramsPerKwh,
        zone: state.zone,
        source: INTENSITY_SOURCE.electricityMaps,
        method: "time-weighted",
        datetime: new Date(mean.lastRow.startMs).toISOString(),
        isEstimated: mean.isEstimated,
        ageSeconds: (endMs - mean.lastRow.startMs) / 1000,
        dataset,
        emissionFactorType: this.#client.emissionFactorType,
      };
      // The estimation method of the last row used, when it was estimated (rows keep it).
      const lastMethod = (mean.lastRow as EmRow).estimationMethod;
      if (mean.isEstimated && lastMethod) weighted.estimationMethod = lastMethod;
      return weighted;
    }
    // A window that ends before the newest row and overlaps no row (older than the cached rows,
    // e.g. past-range refused on the free tier, or in a gap): no live data for it.
    if (!mean && endMs < latest.startMs) return undefined;
    // A job inside the newest hour (or beyond the data) takes the latest value; its age says how
    // far beyond.
    const value: IntensityValue = {
      gramsPerKwh: latest.gramsPerKwh,
      zone: state.zone,
      source: INTENSITY_SOURCE.electricityMaps,
      method: "latest",
      datetime: new Date(latest.startMs).toISOString(),
      isEstimated: latest.isEstimated ?? false,
      ageSeconds: (endMs - latest.startMs) / 1000,
      dataset,
      emissionFactorType: this.#client.emissionFactorType,
    };
    if (latest.estimationMethod) value.estimationMethod = latest.estimationMethod;
    return value;
  }
}
