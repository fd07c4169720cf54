/**
 * One export request from its (decompressed) body to an acknowledgement, whichever transport it
 * came in on: decode within `gateway.limits`, reserve forward-queue room (waiting up to
 * `gateway.admissionWaitMs`), enrich, commit, count. The OTLP/HTTP handler (export-handler.ts) and
 * the OTLP/gRPC receiver (grpc-receiver.ts) both call it. Decoding and enrichment run in slices
 * (slices.ts) so a large request leaves the event loop free between them.
 *
 * Refusals are thrown as HttpError with the OTLP/HTTP status (400 malformed or over a limit
 * outside a span, 413 never fits, 503 queue full); the gRPC receiver maps them to gRPC codes.
 */
import type { Config } from "../config.ts";
import { ERROR_CODES, isCo2eError } from "../errors.ts";
import type { QueueAdmission } from "./admission.ts";
import type { EnrichContext } from "./enrich-request.ts";
import type { SpanSink } from "./forwarder.ts";
import type { SpanCounters } from "./gateway-stats.ts";
import { HttpError } from "./http-answer.ts";
import type { JsonPool } from "./json-pool.ts";
import { LimitError } from "./limits.ts";
import type { ParsedRequest } from "./otlp-proto.ts";
import { decodeExportSliced, enrichAndEncode, type OtlpEncoding } from "./pipeline.ts";
import { Slicer } from "./slices.ts";

export interface ExportCoreDeps {
  gw: Config["gateway"];
  sink: SpanSink;
  queue: QueueAdmission;
  ctx: EnrichContext;
  /** The gateway's span counters, shared by both transports. */
  counters: SpanCounters;
  /** Converts JSON bodies off the event loop. */
  json: JsonPool;
  closing(): boolean;
}

/** What an accepted request is answered with (`partial_success` when spans were rejected). */
export interface ExportAck {
  rejectedSpans: number;
  errorMessage: string;
}

async function decode(
  body: Uint8Array,
  encoding: OtlpEncoding,
  deps: ExportCoreDeps,
  slicer: Slicer,
): Promise<ParsedRequest> {
  try {
    return await decodeExportSliced(body, encoding, deps.gw.limits, slicer, (json, limits) =>
      deps.json.convert(json, limits),
    );
  } catch (error) {
    if (error instanceof LimitError) throw new HttpError(error.status, error.message);
    if (isCo2eError(error, ERROR_CODES.otlpDecode)) throw new HttpError(400, error.message);
    throw error;
  }
}

/** Decodes, reserves, enriches and commits one request; refusals are thrown as HttpError. */
export async function processExport(
  body: Uint8Array,
  encoding: OtlpEncoding,
  deps: ExportCoreDeps,
): Promise<ExportAck> {
  const { sink, counters } = deps;
  const slicer = new Slicer();
  const parsed = await decode(body, encoding, deps, slicer);
  counters.receivedSpans += parsed.spanCount;
  let reservation: Awaited<ReturnType<QueueAdmission["reserve"]>>;
  try {
    reservation = await deps.queue.reserve(parsed);
  } catch (error) {
    counters.refusedSpans += parsed.spanCount;
    throw error;
  }
  let committed = false;
  try {
    const result = await enrichAndEncode(parsed, deps.ctx, slicer);
    sink.commit(reservation.spans, reservation.bytes, result.items);
    committed = true;
    counters.acceptedSpans += result.acceptedSpans;
    counters.rejectedSpans += result.rejectedSpans;
    counters.jobSpans += parsed.jobSpans.length;
    counters.enrichedSpans += result.enrichedSpans;
    return { rejectedSpans: result.rejectedSpans, errorMessage: result.errorMessage };
  } finally {
    if (!committed) sink.release(reservation.spans, reservation.bytes);
  }
}
