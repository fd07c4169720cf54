import type { ViewOptions } from "@opentelemetry/sdk-metrics";
import * as sc from "../semconv.ts";

/** Name of the meter our instruments live on (the `otel_scope_name` label). */
export const CARBON_METER_NAME = "otel-co2e";

/**
 * Series one job name can produce per instrument, with headroom for several services, zones,
 * sources and statuses. co2e_job_carbon_grams_total is the widest: 3 scopes × zone × source.
 */
const SERIES_PER_JOB_NAME = 32;
/** The SDK's own default per instrument; we never go below it. */
const SDK_DEFAULT_CARDINALITY = 2000;

/**
 * Per-instrument series limit for a job_name cap. It covers every job name with 32 label
 * combinations each; combinations beyond that (many services × zones per job) are not covered,
 * and SeriesBudget warns before the SDK starts folding them.
 */
export function carbonCardinalityLimit(jobNameLimit: number): number {
  return Math.max(SDK_DEFAULT_CARDINALITY, (jobNameLimit + 1) * SERIES_PER_JOB_NAME);
}

/**
 * Views that raise the SDK's per-instrument cardinality limit above what our job_name cap can
 * produce, so series are not folded into `otel_metric_overflow="true"` in ordinary use (and
 * never without a warning: see SeriesBudget).
 */
export function carbonMetricViews(jobNameLimit: number): ViewOptions[] {
  const limit = carbonCardinalityLimit(jobNameLimit);
  return [
    sc.METRIC_JOB_RUNS_INSTRUMENT,
    sc.METRIC_JOB_DURATION_INSTRUMENT,
    sc.METRIC_JOB_ENERGY_INSTRUMENT,
    sc.METRIC_JOB_CARBON_INSTRUMENT,
    sc.METRIC_JOB_CARBON_PER_RUN_INSTRUMENT,
    sc.METRIC_JOB_FUNCTIONAL_UNITS_INSTRUMENT,
    sc.METRIC_JOB_CARBON_BEST_HOUR_INSTRUMENT,
    sc.METRIC_JOB_CARBON_LOW_INSTRUMENT,
    sc.METRIC_JOB_CARBON_HIGH_INSTRUMENT,
    sc.METRIC_GRID_INTENSITY_INSTRUMENT,
    sc.METRIC_INTENSITY_REQUESTS_INSTRUMENT,
  ].map((instrumentName) => ({
    instrumentName,
    meterName: CARBON_METER_NAME,
    aggregationCardinalityLimit: limit,
  }));
}
