/**
 * Client-supplied counters checked against the span's own duration before they are modelled: a
 * span from any SDK (or the gateway's OTLP input) can claim any number, and one absurd claim
 * (`job.cpu.seconds = 1e300`) would otherwise drive a Prometheus counter to a value it never
 * recovers from. The bounds and their reasoning are in model/plausible.ts. An intensity provider's
 * answer is checked the same way (checkIntensityValue).
 */
import type { Attributes } from "@opentelemetry/api";
import { num } from "../core/job-record.ts";
import { Co2eError, ERROR_CODES } from "../errors.ts";
import type { IntensityValue } from "../intensity/types.ts";
import {
  DURATION_SLACK_SECONDS,
  isPlausibleIntensity,
  MAX_JOB_POWER_WATTS,
  MAX_LOGICAL_CORES,
  MAX_MEMORY_BYTES,
  MAX_NETWORK_BYTES_PER_SECOND,
  MAX_PLAUSIBLE_GRAMS_PER_KWH,
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

/** Fields of an intensity written onto the span as they are: each must be a non-empty string. */
const REQUIRED_TEXT = ["zone", "source", "method"] as const;

function badIntensity(field: string, expected: string, got: unknown): never {
  const shown = typeof got === "number" ? String(got) : typeof got;
  throw new Co2eError(
    ERROR_CODES.provider,
    `intensity provider returned ${field} = ${shown}; expected ${expected}`,
  );
}

/**
 * Throws a `CO2E_ERR_PROVIDER` naming the first field of an intensity that is missing or of the
 * wrong kind. A provider can be the caller's own code, and its fields are written onto the span
 * as they are (strings, numbers, booleans), and its figure goes into the model. Runs per job: no
 * allocation unless it throws.
 */
export function checkIntensityValue(intensity: IntensityValue): void {
  if (typeof intensity !== "object" || intensity === null)
    badIntensity("the intensity", "an object", intensity);
  if (!isPlausibleIntensity(intensity.gramsPerKwh)) {
    badIntensity("gramsPerKwh", `a number in [0, ${MAX_PLAUSIBLE_GRAMS_PER_KWH}]`, intensity.gramsPerKwh);
  }
  for (let i = 0; i < REQUIRED_TEXT.length; i++) {
    const field = REQUIRED_TEXT[i] as (typeof REQUIRED_TEXT)[number];
    const value = intensity[field];
    if (typeof value !== "string" || value === "") badIntensity(field, "a non-empty string", value);
  }
  const { ageSeconds, isEstimated, estimationMethod, fallbackReason, emissionFactorType } = intensity;
  if (ageSeconds !== undefined && !Number.isFinite(ageSeconds))
    badIntensity("ageSeconds", "a finite number", ageSeconds);
  if (isEstimated !== undefined && typeof isEstimated !== "boolean")
    badIntensity("isEstimated", "a boolean", isEstimated);
  if (estimationMethod !== undefined && typeof estimationMethod !== "string") {
    badIntensity("estimationMethod", "a string", estimationMethod);
  }
  if (fallbackReason !== undefined && typeof fallbackReason !== "string") {
    badIntensity("fallbackReason", "a string", fallbackReason);
  }
  if (emissionFactorType !== undefined && typeof emissionFactorType !== "string") {
    badIntensity("emissionFactorType", "a string", emissionFactorType);
  }
}
