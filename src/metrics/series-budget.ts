/**
 * Counts the distinct label sets each instrument has produced, so that nearing the metrics SDK's
 * per-instrument cardinality limit is said out loud. Past that limit the SDK folds new series
 * into one `otel_metric_overflow="true"` series; folding must never happen unnoticed.
 *
 * The label caps (job_name, service_name) bound each label, but not their product with zone,
 * source, status and attribution, and a limit covering the full product would be millions of
 * series. So the limit stays sized for realistic use (views.ts) and this warns once, at
 * `warnShare` of it, naming the instrument.
 */
export class SeriesBudget {
  readonly #limit: number;
  readonly #warnAt: number;
  readonly #warn: (msg: string) => void;
  readonly #seen = new Map<string, Set<string>>();
  #warned = false;

  constructor(limit: number, warn: (msg: string) => void, warnShare = 0.9) {
    this.#limit = limit;
    this.#warnAt = Math.max(1, Math.floor(limit * warnShare));
    this.#warn = warn;
  }

  /** Notes that `instrument` recorded the label set `key` (any string unique per label set). */
  note(instrument: string, key: string): void {
    let seen = this.#seen.get(instrument);
    if (!seen) {
      seen = new Set();
      this.#seen.set(instrument, seen);
    }
    // Past the limit the SDK holds no more series either; the set stops growing with it.
    if (seen.size >= this.#limit || seen.has(key)) return;
    seen.add(key);
    if (seen.size >= this.#warnAt && !this.#warned) {
      this.#warned = true;
      this.#warn(
        `otel-co2e: metric ${instrument} has ${seen.size} series, near its cardinality limit of ${this.#limit}; ` +
          `beyond it new series are folded into otel_metric_overflow="true" (lower the number of distinct ` +
          `job names, services or zones, or raise metrics.jobNameLimit, which raises the limit)`,
      );
    }
  }
}
