export {
  CARBON_PER_RUN_BUCKETS_GRAMS,
  type CarbonMetrics,
  type CarbonMetricsOptions,
  createCarbonMetrics,
  DURATION_BUCKETS_SECONDS,
  SERVICE_NAME_LIMIT,
  SERVICE_NAME_OVERFLOW,
} from "./carbon-metrics.ts";
export { EXPOSITION_CONTENT_TYPE, SlicedExposition, type SlicedExpositionOptions } from "./exposition.ts";
export {
  GATEWAY_SPAN_OUTCOMES,
  type GatewayMetricsSource,
  type GatewaySpanOutcome,
  registerGatewayMetrics,
} from "./gateway-metrics.ts";
export { jobNameMatcher } from "./histogram-layout.ts";
export { JobNameLimiter, LabelValueLimiter } from "./job-name-limiter.ts";
export {
  createPrometheusMetrics,
  createPrometheusReader,
  METRICS_PATH,
  type MetricsServer,
  type PrometheusMetrics,
  serveMetrics,
} from "./prometheus.ts";
export { SeriesBudget } from "./series-budget.ts";
export { CARBON_METER_NAME, carbonCardinalityLimit, carbonMetricViews } from "./views.ts";
