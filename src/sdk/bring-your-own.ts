/**
 * What a service that runs its own NodeSDK needs from this package, re-exported by the package
 * entry: the parts startCarbonSdk is built from (docs/jobs.md, "Bring your own NodeSDK"), the
 * trace exporters OTEL_TRACES_EXPORTER names (NodeSDK ignores the variable once it is given span
 * processors), and the /metrics reader and server.
 */
export {
  createPrometheusReader,
  METRICS_PATH,
  type MetricsServer,
  serveMetrics,
} from "../metrics/prometheus.ts";
export { MIN_NODE_VERSION } from "../node-version.ts";
export {
  type CarbonComponents,
  type CarbonComponentsOptions,
  type CarbonIntensityProviderOptions,
  createCarbonComponents,
  createCarbonIntensityProvider,
} from "./carbon-components.ts";
export { type MetricExporterName, parseMetricExporters } from "./metric-readers.ts";
export { type ResolveCarbonConfigOptions, resolveCarbonConfig } from "./startup-config.ts";
export { exportProcessors, type TraceExporterChoice, traceExportersFromEnv } from "./trace-exporters.ts";
