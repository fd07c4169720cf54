/**
 * Client-supplied counters checked against the span's own duration before they are modelled: a
 * span from any SDK (or the gateway's OTLP input) can claim any number, and one absurd claim
 * (`job.cpu.seconds = 1e300`) would otherwise drive a Prometheus counter to a value it never
 * recovers from. The bounds and their reasoning are in model/plausible.ts.
 */
import type { Attributes } from "@opentelemetry/api";
import { num } from "../core/job-record.ts";
import { Co2eError, ERROR_CODES } from "../errors.ts";
import {
  DURATION_SLACK_SECONDS,
  MAX_JOB_POWER_WATTS,
  MAX_LOGICAL_CORES,
  MAX_MEMORY_BYTES,
  MAX_NETWORK_BYTES_PER_SECOND,
} from "../model/plausible.ts";
import * as sc from "../semconv.ts";

/** Per attribute: the largest value per second of wall time (rate), or an absolute maximum. */
const BOUNDS: ReadonlyArray<{ attribute: string; perSecond?: number; max?: number; what: string }> = [
  { attribute: sc.ATTR_JOB_CPU_SECONDS, perSecond: MAX_LOGICAL_CORES, what: "logical cores" },
  { attribute: sc.ATTR_JOB_CPU_JOULES, perSecond: MAX_JOB_POWER_WATTS, what: "W" },
  { attribute: sc.ATTR_JOB_GPU_JOULES, perSecond: MAX_JOB_POWER_WATTS, what: "W" },
  { attribute: sc.ATTR_JOB_NETWORK_BYTES_SENT, perSecond: MAX_NETWORK_BYTES_PER_SECOND, what: "bytes/s" },
  { attribute: sc.ATTR_JOB_NETWORK_BYTES_RECEIVED, perSecond: MAX_NETWORK_BYTES_PER_SECOND, what: "bytes/s" },
  { attribute: sc.ATTR_JOB_MEMORY_AVG_BYTES, max: MAX_MEMORY_BYTES, what: "bytes" },
];

/**
 * Throws a `CO2E_ERR_MODEL_INPUT` naming the first attribute that is negative or larger than the
 * span's duration (plus DURATION_SLACK_SECONDS) allows. Attributes that are absent or not numbers
 * are left to the model (they count as not measured).
 */
export function checkUsagePlausible(attributes: Attributes, durationSeconds: number): void {
  for (const bound of BOUNDS) {
    const value = num(attributes[bound.attribute]);
    if (value === undefined) continue;
    if (value < 0) {
      throw new Co2eError(ERROR_CODES.modelInput, `${bound.attribute} must be ≥ 0, got ${value}`);
    }
    const seconds = durationSeconds + DURATION_SLACK_SECONDS;
    const limit = bound.perSecond !== undefined ? seconds * bound.perSecond : (bound.max ?? Infinity);
    if (value > limit) {
      const why =
        bound.perSecond !== undefined
          ? `(${durationSeconds} s span + ${DURATION_SLACK_SECONDS} s) × ${bound.perSecond} ${bound.what}`
          : `${bound.max} ${bound.what}`;
      throw new Co2eError(
        ERROR_CODES.modelInput,
        `${bound.attribute} = ${value} is implausible: at most ${why} = ${limit}`,
      );
    }
  }
}
