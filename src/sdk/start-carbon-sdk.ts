/**
 * One call that replaces a service's NodeSDK set-up: the carbon processor ahead of the trace
 * exporters OTEL_TRACES_EXPORTER (or options) choose, a Prometheus /metrics endpoint, resource
 * detection (including cloud provider/region where detectable), and every OTEL_* variable NodeSDK
 * honours, OTEL_SDK_DISABLED included.
 */
import { isMainThread } from "node:worker_threads";
import { diag, type MeterProvider, metrics } from "@opentelemetry/api";
import { getBooleanFromEnv } from "@opentelemetry/core";
import {
  envDetector,
  hostDetector,
  osDetector,
  processDetector,
  type Resource,
  type ResourceDetector,
  serviceInstanceIdDetector,
} from "@opentelemetry/resources";
import type { IMetricReader, ViewOptions } from "@opentelemetry/sdk-metrics";
import { NodeSDK, type NodeSDKConfiguration } from "@opentelemetry/sdk-node";
import type { SpanProcessor } from "@opentelemetry/sdk-trace";
import { type Config, loadConfig, parseConfig, withEnvironment } from "../config.ts";
import { createIntensityProvider } from "../intensity/index.ts";
import type {
  IntensityObserver,
  IntensityProvider,
  IntensityRequestOutcome,
  IntensityValue,
} from "../intensity/types.ts";
import { attachGpuSampler } from "../job/gpu.ts";
import { defaultJobMeter } from "../job/meter.ts";
import { type CarbonMetrics, createCarbonMetrics } from "../metrics/carbon-metrics.ts";
import { createPrometheusReader, type MetricsServer, serveMetrics } from "../metrics/prometheus.ts";
import { CARBON_METER_NAME, carbonMetricViews } from "../metrics/views.ts";
import { CarbonSpanProcessor } from "../processor/carbon-span-processor.ts";
import { cloudEnvDetector } from "./cloud-detector.ts";
import { exportProcessors, type TraceExporterChoice, traceExportersFromEnv } from "./trace-exporters.ts";

export interface CarbonSdkOptions {
  /** `service.name` of the resource. @default OTEL_SERVICE_NAME, else unknown_service:node */
  serviceName?: string;
  /** Base resource, merged with what the detectors find. */
  resource?: Resource;
  /** @default cloud env, service instance id, process, host, os, OTEL_RESOURCE_ATTRIBUTES */
  resourceDetectors?: ResourceDetector[];
  instrumentations?: NodeSDKConfiguration["instrumentations"];
  /** Extra span processors; they run after the carbon processor and before the exporters. */
  spanProcessors?: SpanProcessor[];
  /** @default OTEL_TRACES_EXPORTER, else otlp */
  traceExporters?: TraceExporterChoice[];
  /** Extra metric readers beside the Prometheus endpoint. */
  metricReaders?: IMetricReader[];
  views?: ViewOptions[];
  /**
   * Where /metrics is served; `false` for no endpoint (metrics then go only to `metricReaders`).
   * @default config.prometheus: OTEL_EXPORTER_PROMETHEUS_HOST/PORT, else the config's values
   * (127.0.0.1:9464); port 0 = any free port
   */
  prometheus?: { host?: string; port?: number } | false;
  /**
   * A parsed Config, or the path of a YAML file. @default loadConfig() (CO2E_CONFIG, default.yaml, env)
   * Whichever it is, OTEL_EXPORTER_PROMETHEUS_HOST/PORT apply on top (validated: a bad value
   * throws CO2E_ERR_CONFIG naming the variable).
   */
  config?: Config | string;
  /** Intensity provider; the preset closes it on shutdown either way. @default createIntensityProvider(config) */
  intensityProvider?: IntensityProvider;
  /**
   * Sample GPU board power with nvidia-smi when it is on PATH. The sampler starts in the
   * background (`ready` waits for it): jobs that end before its first reading carry no GPU figure.
   * @default true
   */
  gpu?: boolean;
  /** Anything else NodeSDK accepts (sampler, contextManager, textMapPropagator, spanLimits…). */
  nodeSdk?: Partial<
    Pick<
      NodeSDKConfiguration,
      "sampler" | "contextManager" | "textMapPropagator" | "spanLimits" | "idGenerator"
    >
  >;
}

export interface CarbonSdk {
  /** Resolves once /metrics listens (rejects if it cannot; the SDK keeps working without it). */
  readonly ready: Promise<void>;
  /** `http://host:port/metrics` once ready; undefined when disabled or not (yet) listening. */
  readonly metricsUrl: string | undefined;
  readonly config: Config;
  /** undefined when OTEL_SDK_DISABLED=true. */
  readonly processor: CarbonSpanProcessor | undefined;
  /** Flushes spans and metrics, closes /metrics and the intensity provider. Idempotent. */
  shutdown(): Promise<void>;
}

/** Forwards provider events to the metrics once they exist (the provider is built first). */
class LateObserver implements IntensityObserver {
  metrics: CarbonMetrics | undefined;
  onRequest(provider: string, outcome: IntensityRequestOutcome): void {
    this.metrics?.intensityObserver.onRequest(provider, outcome);
  }
  onValue(value: IntensityValue): void {
    this.metrics?.intensityObserver.onValue(value);
  }
}

/** The OTel variables that configure the exporter, applied even to a Config built in code. */
const OTEL_PROMETHEUS_ENV = ["OTEL_EXPORTER_PROMETHEUS_HOST", "OTEL_EXPORTER_PROMETHEUS_PORT"] as const;

function resolveConfig(config: Config | string | undefined): Config {
  // loadConfig maps every ENV_OVERRIDES variable (these included) into the config and validates it.
  if (typeof config === "string") return loadConfig({ file: config });
  if (config === undefined) return loadConfig();
  return withEnvironment(config, OTEL_PROMETHEUS_ENV);
}

/**
 * The config a disabled SDK reports. Disabled means "do nothing", so nothing it would have read may
 * stop the service: a config that cannot be loaded (missing CO2E_CONFIG file, bad
 * OTEL_EXPORTER_PROMETHEUS_PORT) gives the given Config or the built-in defaults instead.
 */
function disabledConfig(config: Config | string | undefined): Config {
  try {
    return resolveConfig(config);
  } catch (error) {
    diag.warn("otel-co2e: SDK disabled; config not loaded, using defaults", error);
    return typeof config === "object" ? config : parseConfig({});
  }
}

/** "address already in use" for EADDRINUSE and the like; the message otherwise. */
function listenFailure(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  if (code === "EADDRINUSE") return "address already in use";
  if (code === "EACCES") return "permission denied";
  if (code === "EADDRNOTAVAIL") return "address not available";
  return error instanceof Error ? error.message : String(error);
}

export function startCarbonSdk(options: CarbonSdkOptions = {}): CarbonSdk {
  // Checked before anything is read: a disabled SDK never throws.
  if (getBooleanFromEnv("OTEL_SDK_DISABLED")) {
    return {
      ready: Promise.resolve(),
      metricsUrl: undefined,
      config: disabledConfig(options.config),
      processor: undefined,
      shutdown: () => Promise.resolve(),
    };
  }
  const config = resolveConfig(options.config);

  const observer = new LateObserver();
  const provider = options.intensityProvider ?? createIntensityProvider(config, { observer });
  const processor = new CarbonSpanProcessor({ config, provider });
  const prometheus =
    options.prometheus === false
      ? undefined
      : {
          host: options.prometheus?.host ?? config.prometheus.host,
          port: options.prometheus?.port ?? config.prometheus.port,
        };
  const reader = prometheus ? createPrometheusReader() : undefined;
  const readers: IMetricReader[] = [...(reader ? [reader] : []), ...(options.metricReaders ?? [])];

  const sdkConfig: Partial<NodeSDKConfiguration> = {
    ...options.nodeSdk,
    spanProcessors: [
      processor,
      ...(options.spanProcessors ?? []),
      ...exportProcessors(options.traceExporters ?? traceExportersFromEnv()),
    ],
    // NodeSDK falls back to an OTLP metrics exporter when given no reader; an empty list is "none".
    metricReaders: readers,
    views: [...carbonMetricViews(config.metrics.jobNameLimit), ...(options.views ?? [])],
    resourceDetectors: options.resourceDetectors ?? [
      cloudEnvDetector,
      serviceInstanceIdDetector,
      processDetector,
      hostDetector,
      osDetector,
      envDetector,
    ],
  };
  if (options.serviceName !== undefined) sdkConfig.serviceName = options.serviceName;
  if (options.resource !== undefined) sdkConfig.resource = options.resource;
  if (options.instrumentations !== undefined) sdkConfig.instrumentations = options.instrumentations;
  const sdk = new NodeSDK(sdkConfig);
  sdk.start();

  // NodeSDK keeps its MeterProvider private; the global one is it unless another was registered first.
  const meterProvider: MeterProvider =
    (sdk as unknown as { _meterProvider?: MeterProvider })._meterProvider ?? metrics.getMeterProvider();
  const carbonMetrics = createCarbonMetrics(meterProvider.getMeter(CARBON_METER_NAME), {
    jobNameLimit: config.metrics.jobNameLimit,
    fullHistograms: config.metrics.fullHistograms,
    warn: (msg) => diag.warn(msg),
  });
  observer.metrics = carbonMetrics;
  processor.setMetrics(carbonMetrics);

  // GPU board power is whole-board like process CPU is whole-process: sampled in the main thread only.
  const gpu =
    options.gpu !== false && isMainThread
      ? attachGpuSampler(defaultJobMeter(), { intervalMs: config.sampler.intervalMs })
      : Promise.resolve(undefined);

  let server: MetricsServer | undefined;
  const listening: Promise<void> =
    reader && prometheus
      ? serveMetrics(reader, prometheus.host, prometheus.port).then((s) => {
          server = s;
        })
      : Promise.resolve();
  // A port in use must not crash the service (callers who care await `ready`), but it must not go
  // unnoticed either: whatever answers on that port is not our /metrics. diag alone says nothing
  // without OTEL_LOG_LEVEL, so the console hears of it too (once: `listening` settles once).
  listening.catch((error: unknown) => {
    const where = prometheus ? `${prometheus.host}:${prometheus.port}` : "";
    console.warn(`otel-co2e: cannot serve /metrics on ${where}: ${listenFailure(error)}`);
    diag.error("otel-co2e: cannot serve /metrics", error);
  });
  const ready = Promise.all([listening, gpu]).then(() => {});
  ready.catch(() => {}); // reported above; an unawaited `ready` is no unhandled rejection

  let shutdownPromise: Promise<void> | undefined;
  return {
    ready,
    get metricsUrl() {
      return server?.url;
    },
    config,
    processor,
    shutdown(): Promise<void> {
      shutdownPromise ??= (async () => {
        await listening.catch(() => {});
        (await gpu)?.stop();
        await sdk.shutdown().catch((error: unknown) => diag.error("otel-co2e: SDK shutdown failed", error));
        await server?.close();
        await provider.close().catch(() => {});
      })();
      return shutdownPromise;
    },
  };
}
