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
 */
import type { SpanSink } from "./forwarder.ts";

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

  /** A read request of `spans` spans was refused because the queue was full. */
  noteRefused(spans: number): void {
    this.#lastRefusedSpans = spans;
  }
}
