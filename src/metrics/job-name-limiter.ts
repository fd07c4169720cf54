import { JOB_NAME_OVERFLOW } from "../semconv.ts";

/**
 * Caps the distinct values of one metric label: the first `limit` values keep their own series,
 * later new ones are counted under `overflow`, with one warning the first time it happens.
 */
export class LabelValueLimiter {
  readonly #label: string;
  readonly #limit: number;
  readonly #overflow: string;
  readonly #hint: string;
  readonly #seen = new Set<string>();
  readonly #warn: (msg: string) => void;
  #warned = false;

  constructor(options: {
    label: string;
    limit: number;
    overflow: string;
    /** What the operator can do, for the warning. */
    hint: string;
    warn?: (msg: string) => void;
  }) {
    this.#label = options.label;
    this.#limit = options.limit;
    this.#overflow = options.overflow;
    this.#hint = options.hint;
    this.#warn = options.warn ?? ((msg) => console.warn(msg));
  }

  label(value: string): string {
    if (this.#seen.has(value)) return value;
    if (this.#seen.size < this.#limit) {
      this.#seen.add(value);
      return value;
    }
    if (!this.#warned) {
      this.#warned = true;
      this.#warn(
        `otel-co2e: more than ${this.#limit} distinct ${this.#label} values; "${value}" and later new values ` +
          `are counted as ${this.#label}="${this.#overflow}" (${this.#hint})`,
      );
    }
    return this.#overflow;
  }
}

/** Caps distinct job_name label values (metrics.jobNameLimit); the rest are job_name="other". */
export class JobNameLimiter extends LabelValueLimiter {
  constructor(limit: number, warn?: (msg: string) => void) {
    const options = {
      label: "job_name",
      limit,
      overflow: JOB_NAME_OVERFLOW,
      hint: "raise metrics.jobNameLimit to keep them apart",
    };
    super(warn ? { ...options, warn } : options);
  }
}
