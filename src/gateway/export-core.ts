/**
 * One export request from decoded bytes to an outcome, independent of the transport: decode,
 * reserve forward-queue room, enrich, commit, count. The OTLP/gRPC receiver uses it; each
 * transport maps the outcome to its own status (HTTP code or gRPC status).
 */
import { ERROR_CODES, isCo2eError } from "../errors.ts";
import type { EnrichContext } from "./enrich-request.ts";
import type { SpanSink } from "./forwarder.ts";
import { decodeExport, enrichAndEncode, forwardBytesEstimate } from "./pipeline.ts";

/** The gateway's span counters (the same object the HTTP receiver updates). */
export interface ExportCounters {
  receivedSpans: number;
  acceptedSpans: number;
  rejectedSpans: number;
  refusedSpans: number;
  jobSpans: number;
  enrichedSpans: number;
}

export interface ExportCoreDeps {
  ctx: EnrichContext;
  sink: SpanSink;
  counters: ExportCounters;
  forwardQueueSpans: number;
  forwardQueueBytes: number;
}

export type ExportOutcome =
  | { kind: "accepted"; rejectedSpans: number; errorMessage: string }
  /** Malformed body (HTTP 400, gRPC INVALID_ARGUMENT). */
  | { kind: "invalid"; message: string }
  /** Can never fit the queue: retrying will not help (HTTP 413). */
  | { kind: "too-large"; message: string }
  /** The queue is full now: retry later (HTTP 503). */
  | { kind: "queue-full"; message: string };

/** Never throws for bad input; other errors (bugs) propagate. */
export async function processExport(body: Uint8Array, deps: ExportCoreDeps): Promise<ExportOutcome> {
  const { counters, sink } = deps;
  let parsed: ReturnType<typeof decodeExport>;
  try {
    parsed = decodeExport(body, "protobuf");
  } catch (error) {
    if (isCo2eError(error, ERROR_CODES.otlpDecode)) return { kind: "invalid", message: error.message };
    throw error;
  }
  counters.receivedSpans += parsed.spanCount;
  const reserveSpans = parsed.spanCount - parsed.rejectedSpans;
  const reserveBytes = forwardBytesEstimate(parsed);
  if (reserveSpans > deps.forwardQueueSpans) {
    counters.refusedSpans += parsed.spanCount;
    return {
      kind: "too-large",
      message: `request holds ${reserveSpans} spans, more than the queue of ${deps.forwardQueueSpans}`,
    };
  }
  if (reserveBytes > deps.forwardQueueBytes) {
    counters.refusedSpans += parsed.spanCount;
    return {
      kind: "too-large",
      message: `request needs ${reserveBytes} bytes of forward queue once enriched, more than the queue of ${deps.forwardQueueBytes}`,
    };
  }
  if (!sink.tryReserve(reserveSpans, reserveBytes)) {
    counters.refusedSpans += parsed.spanCount;
    return { kind: "queue-full", message: "forward queue full; retry later" };
  }
  let committed = false;
  try {
    const result = await enrichAndEncode(parsed, deps.ctx);
    sink.commit(reserveSpans, reserveBytes, result.items);
    committed = true;
    counters.acceptedSpans += result.acceptedSpans;
    counters.rejectedSpans += result.rejectedSpans;
    counters.jobSpans += parsed.jobSpans.length;
    counters.enrichedSpans += result.enrichedSpans;
    return { kind: "accepted", rejectedSpans: result.rejectedSpans, errorMessage: result.errorMessage };
  } finally {
    if (!committed) sink.release(reserveSpans, reserveBytes);
  }
}
