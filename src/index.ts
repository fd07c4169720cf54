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

// First: refuses an unsupported Node before any dependency runs (import order is evaluation order).
import "./node-version.ts";

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
export {
  createPrometheusMetrics,
  createPrometheusReader,
  METRICS_PATH,
  type MetricsServer,
  type PrometheusMetrics,
  serveMetrics,
} from "./metrics/prometheus.ts";
export { carbonMetricViews } from "./metrics/views.ts";
// The model, without OTel.
export {
  computeFootprint,
  type Footprint,
  type FootprintInput,
  type FootprintParams,
} from "./model/footprint.ts";
// Start the SDK preset, or build its parts into your own NodeSDK (docs/jobs.md).
export { MIN_NODE_VERSION } from "./node-version.ts";
export {
  CarbonSpanProcessor,
  type CarbonSpanProcessorOptions,
} from "./processor/carbon-span-processor.ts";
export {
  type CarbonComponents,
  type CarbonComponentsOptions,
  type CarbonIntensityProviderOptions,
  createCarbonComponents,
  createCarbonIntensityProvider,
} from "./sdk/carbon-components.ts";
export { type MetricExporterName, parseMetricExporters } from "./sdk/metric-readers.ts";
export { type CarbonSdk, type CarbonSdkOptions, startCarbonSdk } from "./sdk/start-carbon-sdk.ts";
export { type ResolveCarbonConfigOptions, resolveCarbonConfig } from "./sdk/startup-config.ts";
export { exportProcessors, type TraceExporterChoice, traceExportersFromEnv } from "./sdk/trace-exporters.ts";
export * from "./semconv.ts";
