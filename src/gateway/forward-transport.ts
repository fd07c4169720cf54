/**
 * The seam between the forward queue (forwarder.ts: reservation, batching, retries with backoff,
 * shutdown drain) and a wire protocol other than its own OTLP/HTTP: grpc-forwarder.ts sends the
 * same encoded `ExportTraceServiceRequest` batches over OTLP/gRPC.
 */

/** Sends one encoded batch downstream. */
export interface ForwardTransport {
  /** Where batches go, as logged at start and in the shutdown message (`Gateway.forwardUrl`). */
  readonly target: string;
  /**
   * Resolves `undefined` when the downstream accepted the batch, or why it refused it for good
   * (the batch is then dropped). Rejects when the attempt may be retried: a RetryableError
   * carries the wait the downstream asked for, any other error is retried with backoff.
   * `signal` aborts the attempt at close().
   */
  send(body: Uint8Array, signal: AbortSignal): Promise<string | undefined>;
  close(): Promise<void>;
}

/** A refusal to retry, with the wait the downstream asked for (ms, already checked) if it named one. */
export class RetryableError extends Error {
  readonly retryAfterMs: number | undefined;
  constructor(message: string, retryAfterMs?: number) {
    super(message);
    this.name = "RetryableError";
    this.retryAfterMs = retryAfterMs;
  }
}
