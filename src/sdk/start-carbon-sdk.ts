/**
 * One call that replaces a service's NodeSDK set-up: the carbon processor ahead of the trace
 * exporters OTEL_TRACES_EXPORTER (or options) choose, a Prometheus /metrics endpoint, resource
 * detection (including cloud provider/region where detectable), and every OTEL_* variable NodeSDK
 * honours, OTEL_SDK_DISABLED included.
 */
import type { IncomingMessage } from "node:http";
import { isMainThread } from "node:worker_threads";
import { diag, type MeterProvider, metrics, ProxyTracerProvider, trace } from "@opentelemetry/api";
import { getBooleanFromEnv } from "@opentelemetry/core";
import {
  envDetector,
  osDetector,
  processDetector,
  type Resource,
  type ResourceDetector,
  serviceInstanceIdDetector,
} from "@opentelemetry/resources";
import type { IMetricReader, ViewOptions } from "@opentelemetry/sdk-metrics";
import { NodeSDK, type NodeSDKConfiguration } from "@opentelemetry/sdk-node";
import type { SpanProcessor } from "@opentelemetry/sdk-trace";
import { type Config, parseConfig } from "../config.ts";
import type { IntensityProvider } from "../intensity/types.ts";
import { attachGpuSampler } from "../job/gpu.ts";
import { defaultJobMeter } from "../job/meter.ts";
import {
  createPrometheusReader,
  METRICS_PATH,
  type MetricsServer,
  serveMetrics,
} from "../metrics/prometheus.ts";
import type { CarbonSpanProcessor } from "../processor/carbon-span-processor.ts";
import { listenReason } from "../util/listen-reason.ts";
import { createCarbonComponents } from "./carbon-components.ts";
import { cloudEnvDetector } from "./cloud-detector.ts";
import { syncHostDetector } from "./host-detector.ts";
import { metricExportersFromEnv, pushMetricReaders } from "./metric-readers.ts";
import { resolveCarbonConfig, warnOnce } from "./startup-config.ts";
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
   * Where /metrics is served; `false` for no endpoint (metrics then go only to `metricReaders` and
   * the OTEL_METRICS_EXPORTER readers). Unset: served when OTEL_METRICS_EXPORTER is unset or
   * names `prometheus`; `otlp` and `console` there add periodic readers, `none` alone none.
   * @default config.prometheus: OTEL_EXPORTER_PROMETHEUS_HOST/PORT, else the config's values
   * (127.0.0.1:9464); port 0 = any free port
   */
  prometheus?: { host?: string; port?: number } | false;
  /**
   * A parsed Config, or the path of a YAML file. @default loadConfig() (CO2E_CONFIG, default.yaml, env)
   * Whichever it is, OTEL_EXPORTER_PROMETHEUS_HOST/PORT apply on top. A bad variable or an unknown
   * zone is reported on the console once, naming it, and ignored (see resolveCarbonConfig).
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

/**
 * The config a disabled SDK reports. Disabled means "do nothing", so nothing it would have read may
 * stop the service: a config that cannot be loaded (missing CO2E_CONFIG file, bad
 * OTEL_EXPORTER_PROMETHEUS_PORT) gives the given Config or the built-in defaults instead.
 */
function disabledConfig(config: Config | string | undefined): Config {
  try {
    return resolveCarbonConfig(config, {
      warn: (message) => diag.warn(`otel-co2e: SDK disabled; ${message}`),
    });
  } catch (error) {
    diag.warn("otel-co2e: SDK disabled; config not loaded, using defaults", error);
    return typeof config === "object" ? config : parseConfig({});
  }
}

/** True when a tracer provider is already registered globally (another NodeSDK, or a hand-made one). */
function tracerProviderRegistered(): boolean {
  const global = trace.getTracerProvider();
  // Unregistered, the global proxy delegates to the API's no-op provider, the one a fresh proxy has.
  return (
    !(global instanceof ProxyTracerProvider) ||
    global.getDelegate() !== new ProxyTracerProvider().getDelegate()
  );
}

type Instrumentations = NonNullable<NodeSDKConfiguration["instrumentations"]>;

interface HttpInstrumentationLike {
  instrumentationName: string;
  getConfig(): { ignoreIncomingRequestHook?: (request: IncomingMessage) => boolean };
  setConfig(config: object): void;
}

/**
 * Tells the http instrumentation (when the service passes one) to ignore scrapes of our /metrics,
 * which would otherwise each become a server span. Its own ignore hook, if any, still applies.
 */
function ignoreMetricsRequests(
  instrumentations: Instrumentations,
  isMetricsRequest: (r: IncomingMessage) => boolean,
): void {
  for (const item of instrumentations.flat()) {
    const http = item as unknown as HttpInstrumentationLike;
    if (http.instrumentationName !== "@opentelemetry/instrumentation-http") continue;
    const config = http.getConfig();
    const own = config.ignoreIncomingRequestHook;
    http.setConfig({
      ...config,
      ignoreIncomingRequestHook: (request: IncomingMessage) =>
        isMetricsRequest(request) || (own?.(request) ?? false),
    });
  }
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
  // A second NodeSDK cannot register its tracer provider: the API keeps the first and says so
  // only through diag, and job spans from the first never meet our processor.
  if (tracerProviderRegistered()) {
    warnOnce(
      'a global tracer provider is already registered (another NodeSDK?); startCarbonSdk cannot replace it, so job spans get no carbon.* attributes. Add createCarbonComponents().spanProcessor to that SDK instead (docs/jobs.md, "Bring your own NodeSDK")',
    );
  }
  const carbon = createCarbonComponents({
    ...(options.config !== undefined ? { config: options.config } : {}),
    ...(options.intensityProvider ? { intensityProvider: options.intensityProvider } : {}),
  });
  const { config, spanProcessor: processor } = carbon;
  const metricExporters = metricExportersFromEnv();
  const prometheus =
    options.prometheus === false ||
    (options.prometheus === undefined && !metricExporters.includes("prometheus"))
      ? undefined
      : {
          host: options.prometheus?.host ?? config.prometheus.host,
          port: options.prometheus?.port ?? config.prometheus.port,
        };
  const reader = prometheus ? createPrometheusReader() : undefined;
  const readers: IMetricReader[] = [
    ...(reader ? [reader] : []),
    ...pushMetricReaders(metricExporters),
    ...(options.metricReaders ?? []),
  ];

  let server: MetricsServer | undefined;
  const boundPort = (): number | undefined => (server ? Number(new URL(server.url).port) : undefined);
  if (options.instrumentations !== undefined && prometheus) {
    ignoreMetricsRequests(
      options.instrumentations,
      (request) =>
        request.socket?.localPort === boundPort() && (request.url ?? "").split("?")[0] === METRICS_PATH,
    );
  }

  const sdkConfig: Partial<NodeSDKConfiguration> = {
    ...options.nodeSdk,
    spanProcessors: [
      processor,
      ...(options.spanProcessors ?? []),
      ...exportProcessors(options.traceExporters ?? traceExportersFromEnv()),
    ],
    // NodeSDK falls back to an OTLP metrics exporter when given no reader; an empty list is "none".
    metricReaders: readers,
    views: [...carbon.views, ...(options.views ?? [])],
    resourceDetectors: options.resourceDetectors ?? [
      cloudEnvDetector,
      serviceInstanceIdDetector,
      processDetector,
      syncHostDetector,
      osDetector,
      envDetector,
    ],
  };
  if (options.serviceName !== undefined) sdkConfig.serviceName = options.serviceName;
  if (options.resource !== undefined) sdkConfig.resource = options.resource;
  if (options.instrumentations !== undefined) sdkConfig.instrumentations = options.instrumentations;
  const sdk = new NodeSDK(sdkConfig);
  sdk.start();
  // Settle async resource attributes (a custom detector's) early, so the processor's reads of the
  // resource after that log nothing; exporters wait for them anyway.
  const resource = (sdk as unknown as { _resource?: Resource })._resource;
  if (resource?.asyncAttributesPending) void resource.waitForAsyncAttributes?.().catch(() => {});

  // NodeSDK keeps its MeterProvider private; the global one is it unless another was registered first.
  const meterProvider: MeterProvider =
    (sdk as unknown as { _meterProvider?: MeterProvider })._meterProvider ?? metrics.getMeterProvider();
  carbon.attachMetrics(meterProvider);

  // GPU board power is whole-board like process CPU is whole-process: sampled in the main thread only.
  const gpu =
    options.gpu !== false && isMainThread
      ? attachGpuSampler(defaultJobMeter(), { intervalMs: config.sampler.intervalMs })
      : Promise.resolve(undefined);

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
    console.warn(`otel-co2e: cannot serve /metrics on ${where}: ${listenReason(error)}`);
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
        // Closes the intensity provider (once; a NodeSDK shutdown that failed may not have).
        await processor.shutdown();
      })();
      return shutdownPromise;
    },
  };
}
