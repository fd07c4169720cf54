/**
 * The gateway's own health on /metrics, read from the counters it keeps anyway: observable
 * instruments are collected only at scrape time, so the request path pays nothing for them.
 */
import type { Meter } from "@opentelemetry/api";
import * as sc from "../semconv.ts";

/** `outcome` values of gateway_spans_total. */
export const GATEWAY_SPAN_OUTCOMES = ["received", "enriched", "forwarded", "dropped", "rejected"] as const;
export type GatewaySpanOutcome = (typeof GATEWAY_SPAN_OUTCOMES)[number];

export interface GatewayMetricsSource {
  /** Requests answered, by HTTP status code, since start. */
  requestsByCode(): Readonly<Record<number, number>>;
  /** Spans by outcome since start (monotonic). */
  spans(): Readonly<Record<GatewaySpanOutcome, number>>;
  /** Spans acknowledged but not yet forwarded. */
  queuedSpans(): number;
}

export function registerGatewayMetrics(meter: Meter, source: GatewayMetricsSource): void {
  meter
    .createObservableCounter(sc.METRIC_GATEWAY_REQUESTS_INSTRUMENT, {
      description: "OTLP/HTTP requests answered by the gateway, by HTTP status code.",
    })
    .addCallback((result) => {
      for (const [code, count] of Object.entries(source.requestsByCode()))
        result.observe(count, { [sc.LABEL_CODE]: code });
    });
  meter
    .createObservableCounter(sc.METRIC_GATEWAY_SPANS_INSTRUMENT, {
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
      description: "Spans acknowledged by the gateway and not yet forwarded (queued, in flight or reserved).",
    })
    .addCallback((result) => result.observe(source.queuedSpans()));
}
