import { JOB_NAME_OVERFLOW } from "../semconv.ts";

/**
 * Caps distinct job_name label values: the first `limit` names keep their own series, later ones
 * are counted under job_name="other", with one warning the first time it happens.
 */
export class JobNameLimiter {
  readonly #limit: number;
  readonly #seen = new Set<string>();
  readonly #warn: (msg: string) => void;
  #warned = false;

  constructor(limit: number, warn: (msg: string) => void = (msg) => console.warn(msg)) {
    this.#limit = limit;
    this.#warn = warn;
  }

  label(jobName: string): string {
    if (this.#seen.has(jobName)) return jobName;
    if (this.#seen.size < this.#limit) {
      this.#seen.add(jobName);
      return jobName;
    }
    if (!this.#warned) {
      this.#warned = true;
      this.#warn(
        `otel-co2e: more than ${this.#limit} distinct job names; "${jobName}" and later new names are counted ` +
          `as job_name="${JOB_NAME_OVERFLOW}" (raise metrics.jobNameLimit to keep them apart)`,
      );
    }
    return JOB_NAME_OVERFLOW;
  }
}
