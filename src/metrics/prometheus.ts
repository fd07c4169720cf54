/**
 * A /metrics endpoint we serve ourselves from the PrometheusExporter's collection. Owning the
 * server lets port 0 work (the exporter treats port 0 as "use 9464") and tells us the real port;
 * owning the handler means a scrape can never throw into the process: the exporter's own handler
 * serializes inside a promise callback, so a serializer failure (`RangeError: Invalid string
 * length` on a huge label) would be an unhandled rejection that ends the process. Here it is a 500.
 */
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { diag } from "@opentelemetry/api";
import { PrometheusExporter, PrometheusSerializer } from "@opentelemetry/exporter-prometheus";
import type { Resource } from "@opentelemetry/resources";
import { MeterProvider, type ResourceMetrics } from "@opentelemetry/sdk-metrics";
import { httpOrigin } from "../util/host-port.ts";
import { type CarbonMetrics, createCarbonMetrics } from "./carbon-metrics.ts";
import { CARBON_METER_NAME, carbonMetricViews } from "./views.ts";

export const METRICS_PATH = "/metrics";
/** Longest error text a failed scrape answers with (the error's message is cut to fit). */
const SCRAPE_ERROR_MAX_CHARS = 500;

/** A PrometheusExporter that never starts its own server. */
export function createPrometheusReader(): PrometheusExporter {
  return new PrometheusExporter({ preventServerStart: true });
}

export interface MetricsServer {
  /** `http://host:port/metrics` with the port actually bound. */
  url: string;
  close(): Promise<void>;
}

/** Turns collected metrics into the text format. */
export interface MetricsSerializer {
  serialize(resourceMetrics: ResourceMetrics): string;
}

export interface ServeMetricsOptions {
  /**
   * @default a PrometheusSerializer with the exporter's defaults (no prefix, no timestamps,
   * target_info and scope info kept), i.e. the same text the exporter's own handler writes
   */
  serializer?: MetricsSerializer;
}

/** Answers one scrape; never rejects and never throws (a failure is a 500 with its reason). */
async function answerScrape(
  exporter: PrometheusExporter,
  serializer: MetricsSerializer,
  res: ServerResponse,
): Promise<void> {
  try {
    const { resourceMetrics, errors } = await exporter.collect();
    if (errors.length) diag.error("otel-co2e: metrics collection errors", ...errors);
    const body = serializer.serialize(resourceMetrics);
    res.writeHead(200, { "content-type": "text/plain" });
    res.end(body);
  } catch (error) {
    const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    diag.error(`otel-co2e: /metrics scrape failed: ${text.slice(0, SCRAPE_ERROR_MAX_CHARS)}`);
    try {
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end(`# metrics could not be served: ${text.slice(0, SCRAPE_ERROR_MAX_CHARS)}\n`);
    } catch {
      res.destroy();
    }
  }
}

/** Serves exporter's text format on GET /metrics; everything else is 404. Rejects on listen errors. */
export function serveMetrics(
  exporter: PrometheusExporter,
  host: string,
  port: number,
  options: ServeMetricsOptions = {},
): Promise<MetricsServer> {
  const serializer = options.serializer ?? new PrometheusSerializer();
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0];
    if (req.method === "GET" && path === METRICS_PATH) {
      void answerScrape(exporter, serializer, res);
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
  const metricsOptions: { jobNameLimit: number; warn?: (msg: string) => void } = {
    jobNameLimit: options.jobNameLimit,
  };
  if (options.warn) metricsOptions.warn = options.warn;
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
