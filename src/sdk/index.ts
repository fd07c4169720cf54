export {
  type CarbonComponents,
  type CarbonComponentsOptions,
  type CarbonIntensityProviderOptions,
  createCarbonComponents,
  createCarbonIntensityProvider,
} from "./carbon-components.ts";
export { cloudEnvDetector } from "./cloud-detector.ts";
export { type MetricExporterName, metricExportersFromEnv, parseMetricExporters } from "./metric-readers.ts";
export { type CarbonSdk, type CarbonSdkOptions, startCarbonSdk } from "./start-carbon-sdk.ts";
export { type ResolveCarbonConfigOptions, resolveCarbonConfig } from "./startup-config.ts";
export {
  exportProcessors,
  type TraceExporterChoice,
  type TraceExporterName,
  traceExportersFromEnv,
} from "./trace-exporters.ts";
