/**
 * Admission: how many OTLP requests are being read or processed (`gateway.maxConcurrentRequests`;
 * past it → 429), and the forward-queue room a decoded request reserves before it is acknowledged
 * (413 when it could never fit, 503 while the queue is full).
 */
import type { SpanSink } from "./forwarder.ts";
import { HttpError } from "./http-answer.ts";
import type { ParsedRequest } from "./otlp-proto.ts";
import { forwardBytesEstimate } from "./pipeline.ts";

export class Admission {
  readonly #max: number;
  #inflight = 0;
  #idle: (() => void)[] = [];

  constructor(maxConcurrentRequests: number) {
    this.#max = maxConcurrentRequests;
  }

  get inflight(): number {
    return this.#inflight;
  }

  /** Every slot taken: new requests get 429, and /readyz says not ready. */
  get saturated(): boolean {
    return this.#inflight >= this.#max;
  }

  tryEnter(): boolean {
    if (this.saturated) return false;
    this.#inflight++;
    return true;
  }

  leave(): void {
    this.#inflight--;
    if (this.#inflight === 0) for (const wake of this.#idle.splice(0)) wake();
  }

  /** Resolves when no request is in flight (at once if none is). */
  idle(): Promise<void> {
    if (this.#inflight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }
}

export interface Reservation {
  spans: number;
  bytes: number;
}

/**
 * Reserves queue room for a decoded request's acceptable spans, or throws the refusal. The caller
 * commits the reservation with the items or releases it.
 */
export function reserveQueue(
  sink: SpanSink,
  parsed: ParsedRequest,
  limits: { forwardQueueSpans: number; forwardQueueBytes: number },
): Reservation {
  const spans = parsed.spanCount - parsed.rejectedSpans;
  const bytes = forwardBytesEstimate(parsed);
  if (spans > limits.forwardQueueSpans) {
    throw new HttpError(
      413,
      `request holds ${spans} spans, more than the queue of ${limits.forwardQueueSpans}`,
    );
  }
  if (bytes > limits.forwardQueueBytes) {
    // It would never fit: a 503 would have the client retry it forever.
    throw new HttpError(
      413,
      `request needs ${bytes} bytes of forward queue once enriched, more than the queue of ${limits.forwardQueueBytes}`,
    );
  }
  if (!sink.tryReserve(spans, bytes)) throw new HttpError(503, "forward queue full; retry later");
  return { spans, bytes };
}
