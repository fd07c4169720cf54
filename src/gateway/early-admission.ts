/**
 * Admission before a request body is read. A request the forward queue cannot take is answered
 * 503 + Retry-After without reading, decompressing or scanning its body, so that saying no costs
 * little when clients keep retrying under overload (Node discards the unread body before the
 * connection is reused).
 *
 * The span count of a body is unknown before it is scanned, so the check uses the last request
 * refused for lack of room: while a request of that size would still not fit, the next one is
 * refused at once. It converges: as soon as the queue has room again, bodies are read, and each
 * refusal updates the size. Byte room is exact: a body whose raw size alone exceeds the free
 * bytes cannot fit (the reservation is at least its size).
 *
 * Before refusing, a request waits up to `gateway.admissionWaitMs` for room (its body unread, or
 * read and scanned when its size was not known to be too big):
 * under overload, clients that resend at once after a 503 would otherwise spend the gateway's CPU
 * on requests it cannot take, while a waiting request costs a timer. The wait is bounded by the
 * same request slots as everything else (`gateway.maxConcurrentRequests`, then 429).
 */
import type { SpanSink } from "./forwarder.ts";

/** How often a waiting request looks for room, ms. */
const POLL_MS = 5;

export class EarlyAdmission {
  readonly #sink: SpanSink;
  readonly #queueSpans: number;
  readonly #queueBytes: number;
  #lastRefusedSpans = 0;

  constructor(sink: SpanSink, queueSpans: number, queueBytes: number) {
    this.#sink = sink;
    this.#queueSpans = queueSpans;
    this.#queueBytes = queueBytes;
  }

  /** True when a request with this Content-Length (NaN when unknown) cannot be taken now. */
  refuseUnread(contentLength: number): boolean {
    const sink = this.#sink;
    if (sink.full) return true;
    // A body larger than the whole queue is read and answered 413 (retrying cannot help).
    const fitsEmpty = contentLength <= this.#queueBytes;
    if (fitsEmpty && contentLength > 0 && sink.pendingBytes + contentLength > this.#queueBytes) return true;
    return this.#lastRefusedSpans > 0 && sink.pendingSpans + this.#lastRefusedSpans > this.#queueSpans;
  }

  /**
   * Resolves true once a request with this Content-Length may be read, false when `waitMs` passed
   * without room or `stop()` says to give up (shutting down).
   */
  async admit(contentLength: number, waitMs: number, stop: () => boolean): Promise<boolean> {
    if (!this.refuseUnread(contentLength)) return true;
    const deadline = Date.now() + waitMs;
    while (Date.now() < deadline && !stop()) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      if (!this.refuseUnread(contentLength)) return true;
    }
    return false;
  }

  /**
   * Reserves queue room for a read request, waiting up to `waitMs` for it; false = refuse (503).
   * A first failed attempt remembers the size, so that later requests wait before being read.
   */
  async reserve(spans: number, bytes: number, waitMs: number, stop: () => boolean): Promise<boolean> {
    if (this.#sink.tryReserve(spans, bytes)) return true;
    this.#lastRefusedSpans = spans;
    const deadline = Date.now() + waitMs;
    while (Date.now() < deadline && !stop()) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      if (this.#sink.tryReserve(spans, bytes)) return true;
    }
    return false;
  }
}
