/**
 * A /metrics endpoint we serve ourselves from the PrometheusExporter's collection. Owning the
 * server lets port 0 work (the exporter treats port 0 as "use 9464") and tells us the real port;
 * owning the handler means a scrape can never throw into the process: the exporter's own handler
 * serializes inside a promise callback, so a serializer failure (`RangeError: Invalid string
 * length` on a huge label) would be an unhandled rejection that ends the process. Here it is a 500.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import type { Resource } from "@opentelemetry/resources";
import { MeterProvider } from "@opentelemetry/sdk-metrics";
import { httpOrigin } from "../util/host-port.ts";
import { type CarbonMetrics, type CarbonMetricsOptions, createCarbonMetrics } from "./carbon-metrics.ts";
import { SlicedExposition } from "./exposition.ts";
import { CARBON_METER_NAME, carbonMetricViews } from "./views.ts";

export const METRICS_PATH = "/metrics";

/** A PrometheusExporter that never starts its own server. */
export function createPrometheusReader(): PrometheusExporter {
  return new PrometheusExporter({ preventServerStart: true });
}

export interface MetricsServer {
  /** `http://host:port/metrics` with the port actually bound. */
  url: string;
  close(): Promise<void>;
}

/**
 * Serves the exporter's collection in Prometheus text format on GET /metrics, rendered in slices
 * so that a scrape does not hold the event loop (exposition.ts); everything else is 404. Rejects
 * on listen errors.
 */
export function serveMetrics(
  exporter: PrometheusExporter,
  host: string,
  port: number,
): Promise<MetricsServer> {
  const exposition = new SlicedExposition(exporter);
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0];
    if (req.method === "GET" && path === METRICS_PATH) {
      exposition.handle(req, res);
      return;
    }
    res.statusCode = 404;
    res.end("not found; metrics are at /metrics\n");
  });
  // The endpoint never keeps the process alive on its own.
  server.unref();
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      const bound = (server.address() as AddressInfo).port;
      resolve({
        url: `${httpOrigin(host, bound)}${METRICS_PATH}`,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}

export interface PrometheusMetrics {
  meterProvider: MeterProvider;
  metrics: CarbonMetrics;
  exporter: PrometheusExporter;
  url: string;
  shutdown(): Promise<void>;
}

/** A standalone MeterProvider + PrometheusExporter on host:port (the gateway uses this). */
export async function createPrometheusMetrics(options: {
  host: string;
  port: number;
  jobNameLimit: number;
  warn?: (msg: string) => void;
  /** job_name patterns whose histograms keep service_name (metrics.fullHistograms). @default [] */
  fullHistograms?: readonly string[];
  /** Resource on target_info. @default the SDK's default resource */
  resource?: Resource;
}): Promise<PrometheusMetrics> {
  const exporter = createPrometheusReader();
  const meterProvider = new MeterProvider({
    ...(options.resource ? { resource: options.resource } : {}),
    readers: [exporter],
    views: carbonMetricViews(options.jobNameLimit),
  });
  let server: MetricsServer;
  try {
    server = await serveMetrics(exporter, options.host, options.port);
  } catch (error) {
    await meterProvider.shutdown().catch(() => {});
    throw error;
  }
  const metricsOptions: CarbonMetricsOptions = { jobNameLimit: options.jobNameLimit };
  if (options.warn) metricsOptions.warn = options.warn;
  if (options.fullHistograms) metricsOptions.fullHistograms = options.fullHistograms;
  const metrics = createCarbonMetrics(meterProvider.getMeter(CARBON_METER_NAME), metricsOptions);
  let closed: Promise<void> | undefined;
  return {
    meterProvider,
    metrics,
    exporter,
    url: server.url,
    shutdown(): Promise<void> {
      closed ??= Promise.all([server.close(), meterProvider.shutdown().catch(() => {})]).then(() => {});
      return closed;
    },
  };
}
