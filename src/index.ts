/**
 * otel-co2e: per-job energy (kWh) and emissions (gCO₂e) on OpenTelemetry spans.
 *
 *   import { startCarbonSdk, withJob } from "otel-co2e";
 *   const sdk = startCarbonSdk({ serviceName: "reports" });
 *   await withJob("nightly-report", () => buildReport(), { functionalUnits: rows });
 */
// First: refuses an unsupported Node before any dependency runs (import order is evaluation order).
import "./node-version.ts";

export { type Config, type ConfigInput, type LoadConfigOptions, loadConfig, parseConfig } from "./config.ts";
export { Co2eError, ERROR_CODES, type ErrorCode, isCo2eError } from "./errors.ts";
export {
  type ForecastClient,
  findGreenestWindow,
  type GreenestSearch,
  type GreenestWindowOptions,
  type GreenestWindowResult,
  greenestWindow,
} from "./intensity/greenest.ts";
export type { IntensityObserver, IntensityProvider, IntensityValue, TimeWindow } from "./intensity/types.ts";
export { DEFAULT_ZONE } from "./intensity/zone.ts";
export {
  defaultJobMeter,
  type JobCounters,
  type JobHandle,
  JobMeter,
  type JobOptions,
  startJob,
  withJob,
} from "./job/index.ts";
export {
  type CarbonMetrics,
  carbonMetricViews,
  createCarbonMetrics,
  createPrometheusMetrics,
  type PrometheusMetrics,
} from "./metrics/index.ts";
export {
  computeFootprint,
  type Footprint,
  type FootprintInput,
  type FootprintParams,
} from "./model/footprint.ts";
export {
  CarbonSpanProcessor,
  type CarbonSpanProcessorOptions,
  enrichJobSpan,
  type JobRecord,
} from "./processor/index.ts";
export * from "./sdk/bring-your-own.ts";
export { type CarbonSdk, type CarbonSdkOptions, startCarbonSdk } from "./sdk/index.ts";
export * as semconv from "./semconv.ts";
export * from "./semconv.ts";
