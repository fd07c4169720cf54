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

/**
 * Throws a `CO2E_ERR_MODEL_INPUT` naming the first attribute that is negative or larger than the
 * span's duration (plus DURATION_SLACK_SECONDS) allows. Attributes that are absent or not numbers
 * are left to the model (they count as not measured).
 *
 * One load per attribute with its own key, not a loop over a table of keys: a single load site
 * that sees six keys goes megamorphic in V8 (a stub-cache probe per load), and this runs on every
 * job span's end.
 */
export function checkUsagePlausible(attributes: Attributes, durationSeconds: number): void {
  const d = durationSeconds;
  const cpu = num(attributes[sc.ATTR_JOB_CPU_SECONDS]);
  checkRate(sc.ATTR_JOB_CPU_SECONDS, cpu, d, MAX_LOGICAL_CORES, "logical cores");
  checkRate(sc.ATTR_JOB_CPU_JOULES, num(attributes[sc.ATTR_JOB_CPU_JOULES]), d, MAX_JOB_POWER_WATTS, "W");
  checkRate(sc.ATTR_JOB_GPU_JOULES, num(attributes[sc.ATTR_JOB_GPU_JOULES]), d, MAX_JOB_POWER_WATTS, "W");
  const sent = num(attributes[sc.ATTR_JOB_NETWORK_BYTES_SENT]);
  checkRate(sc.ATTR_JOB_NETWORK_BYTES_SENT, sent, d, MAX_NETWORK_BYTES_PER_SECOND, "bytes/s");
  const received = num(attributes[sc.ATTR_JOB_NETWORK_BYTES_RECEIVED]);
  checkRate(sc.ATTR_JOB_NETWORK_BYTES_RECEIVED, received, d, MAX_NETWORK_BYTES_PER_SECOND, "bytes/s");
  const memory = num(attributes[sc.ATTR_JOB_MEMORY_AVG_BYTES]);
  if (memory !== undefined) {
    if (memory < 0) negative(sc.ATTR_JOB_MEMORY_AVG_BYTES, memory);
    if (memory > MAX_MEMORY_BYTES) {
      implausible(sc.ATTR_JOB_MEMORY_AVG_BYTES, memory, `${MAX_MEMORY_BYTES} bytes`, MAX_MEMORY_BYTES);
    }
  }
}

/**
 * A counter that accrues with time: at most `perSecond` per second of the span (plus slack).
 * Absent (undefined) passes. The caller loads the value: a load here would be one site for all keys.
 */
function checkRate(
  attribute: string,
  value: number | undefined,
  durationSeconds: number,
  perSecond: number,
  what: string,
): void {
  if (value === undefined) return;
  if (value < 0) negative(attribute, value);
  const limit = (durationSeconds + DURATION_SLACK_SECONDS) * perSecond;
  if (value > limit) {
    implausible(
      attribute,
      value,
      `(${durationSeconds} s span + ${DURATION_SLACK_SECONDS} s) × ${perSecond} ${what}`,
      limit,
    );
  }
}

function negative(attribute: string, value: number): never {
  throw new Co2eError(ERROR_CODES.modelInput, `${attribute} must be ≥ 0, got ${value}`);
}

function implausible(attribute: string, value: number, why: string, limit: number): never {
  throw new Co2eError(
    ERROR_CODES.modelInput,
    `${attribute} = ${value} is implausible: at most ${why} = ${limit}`,
  );
}

/** Fields of an intensity written onto the span as they are (zone, source, method) must be this. */
function isText(value: unknown): boolean {
  return typeof value === "string" && value !== "";
}

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
  // One load per field (a loop over the names would make one megamorphic load site).
  if (!isText(intensity.zone)) badIntensity("zone", "a non-empty string", intensity.zone);
  if (!isText(intensity.source)) badIntensity("source", "a non-empty string", intensity.source);
  if (!isText(intensity.method)) badIntensity("method", "a non-empty string", intensity.method);
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
