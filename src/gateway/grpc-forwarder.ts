/**
 * Forwarding over OTLP/gRPC (`gateway.forwardProtocol: grpc`): the forward queue of forwarder.ts
 * (reservation before the answer, batches of `forwardBatchSpans`, `forwardConcurrency` in flight,
 * backoff, shutdown drain, counters) with each batch sent as a unary
 * `opentelemetry.proto.collector.trace.v1.TraceService/Export` call instead of an HTTP POST.
 * The batch is the same encoded `ExportTraceServiceRequest`, passed to @grpc/grpc-js as raw bytes
 * (identity serializers, as in grpc-receiver.ts), over one channel: one HTTP/2 connection carries
 * every call in flight.
 *
 * Outcomes follow the OTLP specification ("OTLP/gRPC Response", "Failures", opentelemetry-proto
 * docs/specification.md): OK is success (a `partial_success` in the response is not read, as the
 * OTLP/HTTP forwarder does not read it either); CANCELLED, DEADLINE_EXCEEDED, ABORTED,
 * OUT_OF_RANGE, UNAVAILABLE and DATA_LOSS are retried, RESOURCE_EXHAUSTED only when the status
 * carries a `google.rpc.RetryInfo` (without one the server says the request can never fit); every
 * other code (INVALID_ARGUMENT, UNAUTHENTICATED, UNIMPLEMENTED, INTERNAL, …) drops the batch.
 * A RetryInfo delay replaces the computed backoff, as Retry-After does over HTTP.
 */
import * as grpc from "@grpc/grpc-js";
import { grpcForwardUrlProblem } from "../config.ts";
import { type ForwardTransport, RetryableError } from "./forward-transport.ts";
import { Forwarder, type ForwarderOptions } from "./forwarder.ts";
import { RETRY_INFO_TYPE, TRACE_EXPORT_PATH } from "./grpc-receiver.ts";
import { DecodeError, Reader, utf8, WIRE_LEN, WIRE_VARINT } from "./wire.ts";

/** Retried whatever the details (OTLP specification, "Failures", retryable gRPC codes). */
const RETRYABLE = new Set<grpc.status>([
  grpc.status.CANCELLED,
  grpc.status.DEADLINE_EXCEEDED,
  grpc.status.ABORTED,
  grpc.status.OUT_OF_RANGE,
  grpc.status.UNAVAILABLE,
  grpc.status.DATA_LOSS,
]);

/** `host:port` for grpc-js and whether to use TLS; a URL without a port gets 80 (http) or 443 (https). */
export function grpcTarget(url: string): { origin: string; target: string; secure: boolean } {
  const problem = grpcForwardUrlProblem(url);
  if (problem) throw new Error(`gateway.forwardUrl ${problem}, got ${JSON.stringify(url)}`);
  const parsed = new URL(url);
  const secure = parsed.protocol === "https:";
  const port = parsed.port || (secure ? "443" : "80");
  return {
    origin: `${parsed.protocol}//${parsed.hostname}:${port}`,
    target: `${parsed.hostname}:${port}`,
    secure,
  };
}

/**
 * The delay of a `google.rpc.RetryInfo` in the `grpc-status-details-bin` trailer, ms; undefined
 * when there is none or it cannot be read (then the usual backoff applies). googleapis
 * google/rpc/status.proto (Status: details = 3, repeated Any), error_details.proto (RetryInfo:
 * retry_delay = 1, a Duration: seconds = 1, nanos = 2).
 */
export function retryInfoDelayMs(metadata: grpc.Metadata | undefined): number | undefined {
  const raw = metadata?.get("grpc-status-details-bin")[0];
  if (!(raw instanceof Uint8Array)) return undefined;
  try {
    for (const any of fields(raw, 0, raw.length, 3, "Status")) {
      let type = "";
      let value: [number, number] | undefined;
      for (const [field, start, end] of lengthDelimitedFields(raw, any[0], any[1], "Any")) {
        if (field === 1) type = utf8(raw, start, end);
        if (field === 2) value = [start, end];
      }
      if (type !== RETRY_INFO_TYPE || !value) continue;
      let ms = 0;
      for (const duration of fields(raw, value[0], value[1], 1, "RetryInfo")) {
        const r = new Reader(raw);
        r.pos = duration[0];
        while (r.pos < duration[1]) {
          const tag = r.varint(duration[1], "Duration");
          if ((tag & 7) !== WIRE_VARINT) {
            r.skip(tag & 7, duration[1], "Duration");
            continue;
          }
          const n = r.varint(duration[1], "Duration");
          // A negative seconds/nanos is a 10-byte varint (≥ 2^63): not a wait anyone meant.
          if (n >= 2 ** 53) return undefined;
          if (tag >>> 3 === 1) ms += n * 1000;
          else if (tag >>> 3 === 2) ms += n / 1e6;
        }
      }
      return Number.isFinite(ms) && ms >= 0 ? ms : undefined;
    }
  } catch (error) {
    if (error instanceof DecodeError) return undefined;
    throw error;
  }
  return undefined;
}

/** Every field of a message in buf[start, end): [field number, payload start, payload end] for length-delimited ones. */
function lengthDelimitedFields(
  buf: Uint8Array,
  start: number,
  end: number,
  path: string,
): [number, number, number][] {
  const out: [number, number, number][] = [];
  const r = new Reader(buf);
  r.pos = start;
  while (r.pos < end) {
    const tag = r.varint(end, path);
    if ((tag & 7) === WIRE_LEN) {
      const stop = r.lengthDelimited(end, path);
      out.push([tag >>> 3, r.pos, stop]);
      r.pos = stop;
    } else r.skip(tag & 7, end, path);
  }
  return out;
}

/** The payload ranges of length-delimited field `field` in buf[start, end). */
function fields(
  buf: Uint8Array,
  start: number,
  end: number,
  field: number,
  path: string,
): [number, number][] {
  return lengthDelimitedFields(buf, start, end, path)
    .filter(([f]) => f === field)
    .map(([, s, e]) => [s, e]);
}

const identity = (b: Buffer): Buffer => b;

export interface GrpcTransportOptions {
  /** http://host:port or https://host:port (TLS with the system's roots). */
  url: string;
  /** Per-call deadline, ms (gateway.forwardTimeoutMs). */
  timeoutMs: number;
  /** Bounds of the channel's reconnect backoff, ms: the forwarder's own retry bounds. */
  minBackoffMs: number;
  maxBackoffMs: number;
}

/** Export calls on one reused channel. */
export class GrpcTransport implements ForwardTransport {
  readonly target: string;
  readonly #client: grpc.Client;
  readonly #timeoutMs: number;

  constructor(options: GrpcTransportOptions) {
    const { origin, target, secure } = grpcTarget(options.url);
    this.target = origin;
    this.#timeoutMs = options.timeoutMs;
    this.#client = new grpc.Client(
      target,
      secure ? grpc.credentials.createSsl() : grpc.credentials.createInsecure(),
      {
        // grpc-js waits up to 120 s between reconnects by default: a downstream that came back
        // would go unnoticed by the retries (each failing at once) for that long.
        "grpc.initial_reconnect_backoff_ms": options.minBackoffMs,
        "grpc.max_reconnect_backoff_ms": options.maxBackoffMs,
        "grpc.max_send_message_length": -1,
        // The forwarder retries by itself (with its own accounting), so grpc-js need not keep a
        // copy of each message for retries of its own; no channelz bookkeeping per call either.
        "grpc.enable_retries": 0,
        "grpc.enable_channelz": 0,
      },
    );
  }

  send(body: Uint8Array, signal: AbortSignal): Promise<string | undefined> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(new Error("gateway shutting down"));
      const message = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
      const onAbort = () => call.cancel();
      const call = this.#client.makeUnaryRequest(
        TRACE_EXPORT_PATH,
        identity,
        identity,
        message,
        new grpc.Metadata(),
        { deadline: Date.now() + this.#timeoutMs },
        (error) => {
          signal.removeEventListener("abort", onAbort);
          if (!error) return resolve(undefined);
          const text = `gRPC ${grpc.status[error.code] ?? error.code}${error.details ? `: ${error.details}` : ""}`;
          const delayMs = retryInfoDelayMs(error.metadata);
          if (RETRYABLE.has(error.code)) reject(new RetryableError(text, delayMs));
          else if (error.code === grpc.status.RESOURCE_EXHAUSTED && delayMs !== undefined)
            reject(new RetryableError(text, delayMs));
          else resolve(text);
        },
      );
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  close(): Promise<void> {
    this.#client.close();
    return Promise.resolve();
  }
}

/** A Forwarder whose batches go over OTLP/gRPC to `options.url` (scheme, host and port only). */
export function grpcForwarder(options: ForwarderOptions): Forwarder {
  const transport = new GrpcTransport({
    url: options.url,
    timeoutMs: options.timeoutMs,
    minBackoffMs: options.minBackoffMs ?? 100,
    maxBackoffMs: options.maxBackoffMs ?? 5000,
  });
  return new Forwarder({ ...options, transport });
}
