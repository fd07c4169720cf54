export {
  CARBON_PER_RUN_BUCKETS_GRAMS,
  type CarbonMetrics,
  type CarbonMetricsOptions,
  createCarbonMetrics,
  DURATION_BUCKETS_SECONDS,
} from "./CarbonMetrics.ts";
export { JobNameLimiter } from "./JobNameLimiter.ts";
export {
  createPrometheusMetrics,
  createPrometheusReader,
  METRICS_PATH,
  type MetricsServer,
  type PrometheusMetrics,
  serveMetrics,
} from "./prometheus.ts";
export { CARBON_METER_NAME, carbonMetricViews } from "./views.ts";
