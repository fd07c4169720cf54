/**
 * otel-co2e: per-job energy (kWh) and emissions (gCO₂e) on OpenTelemetry spans.
 *
 *   import { startCarbonSdk, withJob } from "otel-co2e";
 *   const sdk = startCarbonSdk({ serviceName: "reports" });
 *   await withJob("nightly-report", () => buildReport(), { functionalUnits: rows });
 *
 * This file is the whole public surface: one export statement per source module, grouped by what
 * a user does with it. Anything not listed here is internal and may change without notice.
 */

// Configuration, names and errors.
export { type Config, type ConfigInput, type LoadConfigOptions, loadConfig, parseConfig } from "./config.ts";
// Bring your own OTel SDK: the span processor and the metric instruments.
export type { JobRecord } from "./core/job-record.ts";
export { Co2eError, ERROR_CODES, type ErrorCode, isCo2eError } from "./errors.ts";
// Grid intensity.
export {
  type ForecastClient,
  findGreenestWindow,
  type GreenestSearch,
  type GreenestWindowOptions,
  type GreenestWindowResult,
  greenestWindow,
} from "./intensity/greenest.ts";
export { type CreateIntensityProviderOptions, createIntensityProvider } from "./intensity/index.ts";
export type { IntensityObserver, IntensityProvider, IntensityValue, TimeWindow } from "./intensity/types.ts";
export { DEFAULT_ZONE } from "./intensity/zone.ts";
// Mark and measure jobs.
export { type JobHandle, type JobOptions, startJob, withJob } from "./job/job.ts";
export { defaultJobMeter, type JobCounters, JobMeter } from "./job/meter.ts";
export { type CarbonMetrics, createCarbonMetrics } from "./metrics/carbon-metrics.ts";
export { createPrometheusMetrics, type PrometheusMetrics } from "./metrics/prometheus.ts";
export { carbonMetricViews } from "./metrics/views.ts";
// The model, without OTel.
export {
  computeFootprint,
  type Footprint,
  type FootprintInput,
  type FootprintParams,
} from "./model/footprint.ts";
export {
  CarbonSpanProcessor,
  type CarbonSpanProcessorOptions,
} from "./processor/carbon-span-processor.ts";
// Start the SDK preset.
export { type CarbonSdk, type CarbonSdkOptions, startCarbonSdk } from "./sdk/start-carbon-sdk.ts";
export * from "./semconv.ts";
