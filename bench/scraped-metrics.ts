/**
 * Carbon metrics as a service runs them: a MeterProvider with the Prometheus reader and the
 * project's Views. Without a reader the SDK's instruments record nothing (no storage), so a
 * benchmark built on `new MeterProvider()` would leave out the cost of every recording.
 */
import { MeterProvider } from "@opentelemetry/sdk-metrics";
import { type CarbonMetrics, createCarbonMetrics } from "../src/metrics/carbon-metrics.ts";
import { createPrometheusReader } from "../src/metrics/prometheus.ts";
import { CARBON_METER_NAME, carbonMetricViews } from "../src/metrics/views.ts";

export function scrapedCarbonMetrics(jobNameLimit = 200): CarbonMetrics {
  const provider = new MeterProvider({
    readers: [createPrometheusReader()],
    views: carbonMetricViews(jobNameLimit),
  });
  return createCarbonMetrics(provider.getMeter(CARBON_METER_NAME), { jobNameLimit });
}
