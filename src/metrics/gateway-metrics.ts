/**
 * The gateway's /metrics: its MeterProvider (named `co2e-collector` on target_info) and its own
 * health, read from the counters it keeps anyway: observable instruments are collected only at
 * scrape time, so the request path pays nothing for them.
 */
import type { Meter } from "@opentelemetry/api";
import {
  defaultResource,
  detectResources,
  envDetector,
  resourceFromAttributes,
} from "@opentelemetry/resources";
import * as sc from "../semconv.ts";
import { PACKAGE_VERSION } from "../version.ts";

/** `service.name` of the gateway's own resource (target_info on its /metrics). */
export const GATEWAY_SERVICE_NAME = "co2e-collector";

/**
 * The gateway's resource: `service.name=co2e-collector` and `service.version` from package.json,
 * instead of the SDK default `unknown_service:<argv0>`. OTEL_SERVICE_NAME and
 * OTEL_RESOURCE_ATTRIBUTES still override it, as everywhere in OpenTelemetry (e.g. one name per
 * replica).
 */
export function gatewayResource(): ReturnType<typeof defaultResource> {
  const version = PACKAGE_VERSION;
  return defaultResource()
    .merge(
      resourceFromAttributes({
        "service.name": GATEWAY_SERVICE_NAME,
        ...(version ? { "service.version": version } : {}),
      }),
    )
    .merge(detectResources({ detectors: [envDetector] }));
}

/** `outcome` values of co2e_gateway_spans_total. */
export const GATEWAY_SPAN_OUTCOMES = ["received", "enriched", "forwarded", "dropped", "rejected"] as const;
export type GatewaySpanOutcome = (typeof GATEWAY_SPAN_OUTCOMES)[number];

export interface GatewayMetricsSource {
  /** Requests answered, by HTTP status code, since start. */
  requestsByCode(): Readonly<Record<number, number>>;
  /** OTLP/gRPC calls answered, by gRPC status name, since start (none without a gRPC listener). */
  grpcCallsByStatus(): Readonly<Record<string, number>>;
  /** Spans by outcome since start (monotonic). */
  spans(): Readonly<Record<GatewaySpanOutcome, number>>;
  /** Spans acknowledged but not yet forwarded. */
  queuedSpans(): number;
}

export function registerGatewayMetrics(meter: Meter, source: GatewayMetricsSource): void {
  meter
    .createObservableCounter(sc.METRIC_GATEWAY_REQUESTS_INSTRUMENT, {
      unit: "{request}",
      description:
        "OTLP/HTTP requests to the gateway's traces path (/v1/traces) answered, by HTTP status code; " +
        "/healthz, /readyz and other paths are not counted.",
    })
    .addCallback((result) => {
      for (const [code, count] of Object.entries(source.requestsByCode()))
        result.observe(count, { [sc.LABEL_CODE]: code });
    });
  meter
    .createObservableCounter(sc.METRIC_GATEWAY_GRPC_REQUESTS_INSTRUMENT, {
      unit: "{request}",
      description:
        "OTLP/gRPC TraceService/Export calls to the gateway answered, by gRPC status name (OK, " +
        "INVALID_ARGUMENT, UNAUTHENTICATED, RESOURCE_EXHAUSTED, UNAVAILABLE, INTERNAL).",
    })
    .addCallback((result) => {
      for (const [name, count] of Object.entries(source.grpcCallsByStatus()))
        result.observe(count, { [sc.LABEL_GRPC_CODE]: name });
    });
  meter
    .createObservableCounter(sc.METRIC_GATEWAY_SPANS_INSTRUMENT, {
      unit: "{span}",
      description:
        "Gateway spans by outcome: received (decoded), enriched (job spans given carbon.*), forwarded " +
        "(accepted downstream), dropped (refused downstream or no downstream), rejected (invalid, or " +
        "refused with 413/503 after decoding).",
    })
    .addCallback((result) => {
      const spans = source.spans();
      for (const outcome of GATEWAY_SPAN_OUTCOMES)
        result.observe(spans[outcome], { [sc.LABEL_OUTCOME]: outcome });
    });
  meter
    .createObservableGauge(sc.METRIC_GATEWAY_QUEUE_INSTRUMENT, {
      unit: "{span}",
      description: "Spans acknowledged by the gateway and not yet forwarded (queued, in flight or reserved).",
    })
    .addCallback((result) => result.observe(source.queuedSpans()));
}
