/**
 * Admission: how many OTLP requests (HTTP and gRPC together) are being read or processed
 * (`gateway.maxConcurrentRequests`; past it → 429), and the forward-queue room a decoded request
 * reserves before it is acknowledged (413 when it could never fit, 503 while the queue is full).
 *
 * A request the forward queue cannot take is answered 503 + Retry-After without reading,
 * decompressing or scanning its body, so that saying no costs little when clients keep retrying
 * under overload (Node discards the unread body before the connection is reused). The span count
 * of a body is unknown before it is scanned, so the check uses the last request refused for lack
 * of room: while a request of that size would still not fit, the next one is refused at once. It
 * converges: as soon as the queue has room again, bodies are read, and each refusal updates the
 * size. Byte room is exact: a body whose raw size alone exceeds the free bytes cannot fit (the
 * reservation is at least its size).
 *
 * Before refusing, a request waits up to `gateway.admissionWaitMs` for room (its body unread, or
 * read and scanned when its size was not known to be too big): under overload, clients that
 * resend at once after a 503 would otherwise spend the gateway's CPU on requests it cannot take,
 * while a waiting request costs a timer. The wait holds one of the request slots above.
 */
import type { Config } from "../config.ts";
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

/** How often a waiting request looks for room, ms. */
const POLL_MS = 5;

/** Polls `ready` every POLL_MS until it is true (→ true), `waitMs` passed or `stop()` (→ false). */
async function waitFor(ready: () => boolean, waitMs: number, stop: () => boolean): Promise<boolean> {
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline && !stop()) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    if (ready()) return true;
  }
  return false;
}

type QueueSettings = Pick<Config["gateway"], "forwardQueueSpans" | "forwardQueueBytes" | "admissionWaitMs">;

/** Forward-queue admission: before a body is read, and the reservation of a decoded request. */
export class QueueAdmission {
  readonly #sink: SpanSink;
  readonly #gw: QueueSettings;
  readonly #stop: () => boolean;
  #lastRefusedSpans = 0;

  /** `stop()` true = give up waiting (shutting down). */
  constructor(sink: SpanSink, gw: QueueSettings, stop: () => boolean) {
    this.#sink = sink;
    this.#gw = gw;
    this.#stop = stop;
  }

  /** True when a request with this Content-Length (NaN when unknown) cannot be taken now. */
  refuseUnread(contentLength: number): boolean {
    const sink = this.#sink;
    if (sink.full) return true;
    const queueBytes = this.#gw.forwardQueueBytes;
    // A body larger than the whole queue is read and answered 413 (retrying cannot help).
    const fitsEmpty = contentLength <= queueBytes;
    if (fitsEmpty && contentLength > 0 && sink.pendingBytes + contentLength > queueBytes) return true;
    return (
      this.#lastRefusedSpans > 0 && sink.pendingSpans + this.#lastRefusedSpans > this.#gw.forwardQueueSpans
    );
  }

  /**
   * Before the body is read: resolves once a request with this Content-Length may be read, or
   * throws 503 when `gateway.admissionWaitMs` passed without room or the gateway is shutting down.
   */
  async admitUnread(contentLength: number): Promise<void> {
    if (!this.refuseUnread(contentLength)) return;
    if (await waitFor(() => !this.refuseUnread(contentLength), this.#gw.admissionWaitMs, this.#stop)) return;
    throw new HttpError(503, this.#stop() ? "shutting down" : "forward queue full; retry later");
  }

  /**
   * Reserves queue room for a decoded request's acceptable spans, waiting up to
   * `gateway.admissionWaitMs` for it, or throws the refusal (413 never fits, 503 no room). A first
   * failed attempt remembers the size, so that later requests wait before being read. The caller
   * commits the reservation with the items or releases it.
   */
  async reserve(parsed: ParsedRequest): Promise<Reservation> {
    const { forwardQueueSpans, forwardQueueBytes } = this.#gw;
    const spans = parsed.spanCount - parsed.rejectedSpans;
    const bytes = forwardBytesEstimate(parsed);
    if (spans > forwardQueueSpans) {
      throw new HttpError(413, `request holds ${spans} spans, more than the queue of ${forwardQueueSpans}`);
    }
    if (bytes > forwardQueueBytes) {
      // It would never fit: a 503 would have the client retry it forever.
      throw new HttpError(
        413,
        `request needs ${bytes} bytes of forward queue once enriched, more than the queue of ${forwardQueueBytes}`,
      );
    }
    const sink = this.#sink;
    if (sink.tryReserve(spans, bytes)) return { spans, bytes };
    this.#lastRefusedSpans = spans;
    if (await waitFor(() => sink.tryReserve(spans, bytes), this.#gw.admissionWaitMs, this.#stop)) {
      return { spans, bytes };
    }
    throw new HttpError(503, "forward queue full; retry later");
  }
}
