/** The gateway's counters: what `Gateway.stats()` returns and the `co2e_gateway_*` metrics read. */
import { registerGatewayMetrics } from "../metrics/gateway-metrics.ts";
import type { PrometheusMetrics } from "../metrics/prometheus.ts";
import { CARBON_METER_NAME } from "../metrics/views.ts";
import type { Admission } from "./admission.ts";
import type { ForwarderStats, SpanSink } from "./forwarder.ts";
import type { Answers } from "./http-answer.ts";

export interface GatewayStats extends ForwarderStats {
  /** Spans decoded from requests (before limits and validation). */
  receivedSpans: number;
  /** Spans acknowledged and handed to the forward queue. */
  acceptedSpans: number;
  /** Invalid spans refused in partial_success. */
  rejectedSpans: number;
  /** Spans of decoded requests refused as a whole (413 too many spans, 503 queue full); clients retry them. */
  refusedSpans: number;
  jobSpans: number;
  /** Job spans the gateway enriched (not those enriched upstream). */
  enrichedSpans: number;
  /** Requests to the OTLP path (TRACES_PATH) answered 4xx/5xx, by status. */
  refusedRequests: Record<number, number>;
  /** Requests to the OTLP path answered, by status (2xx included); /healthz, /readyz and 404s are not counted. */
  requestsByCode: Record<number, number>;
  /** OTLP/gRPC Export calls answered, by gRPC status name (`OK` included); empty without gateway.grpcListen. */
  grpcCallsByStatus: Record<string, number>;
  pendingSpans: number;
  /** Bytes counted against gateway.forwardQueueBytes now (queued, in flight, reserved). */
  pendingBytes: number;
  /** Highest pendingBytes since start. */
  peakPendingBytes: number;
  /** OTLP requests (HTTP and gRPC) being read or processed now. */
  inflightRequests: number;
}

export type SpanCounters = Pick<
  GatewayStats,
  "receivedSpans" | "acceptedSpans" | "rejectedSpans" | "refusedSpans" | "jobSpans" | "enrichedSpans"
>;

export function newSpanCounters(): SpanCounters {
  return {
    receivedSpans: 0,
    acceptedSpans: 0,
    rejectedSpans: 0,
    refusedSpans: 0,
    jobSpans: 0,
    enrichedSpans: 0,
  };
}

export function gatewayStats(
  counters: SpanCounters,
  sink: SpanSink,
  answers: Answers,
  admission: Admission,
  grpcCallsByStatus: Readonly<Record<string, number>> = {},
): GatewayStats {
  const refusedRequests: Record<number, number> = {};
  for (const [code, count] of Object.entries(answers.byStatus))
    if (Number(code) >= 400) refusedRequests[Number(code)] = count;
  return {
    ...counters,
    ...sink.stats,
    refusedRequests,
    requestsByCode: { ...answers.byStatus },
    grpcCallsByStatus: { ...grpcCallsByStatus },
    pendingSpans: sink.pendingSpans,
    pendingBytes: sink.pendingBytes,
    peakPendingBytes: sink.peakPendingBytes,
    inflightRequests: admission.inflight,
  };
}

/** Registers the `co2e_gateway_*` instruments on the Prometheus listener's meter. */
export function registerStatsMetrics(
  prom: PrometheusMetrics,
  counters: SpanCounters,
  sink: SpanSink,
  answers: Answers,
  grpcCallsByStatus: () => Readonly<Record<string, number>> = () => ({}),
): void {
  registerGatewayMetrics(prom.meterProvider.getMeter(CARBON_METER_NAME), {
    requestsByCode: () => answers.byStatus,
    grpcCallsByStatus,
    spans: () => {
      const s = sink.stats;
      return {
        received: counters.receivedSpans,
        enriched: counters.enrichedSpans,
        forwarded: s.forwardedSpans,
        dropped: s.droppedSpans,
        rejected: counters.rejectedSpans + counters.refusedSpans,
      };
    },
    queuedSpans: () => sink.pendingSpans,
  });
}
