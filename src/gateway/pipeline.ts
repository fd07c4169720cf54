/**
 * One export request from bytes to forwardable items: decode (protobuf scanner, or JSON converted
 * to protobuf first), enrich the job spans, encode. Split in two steps so the server can reserve
 * queue room between them, after it knows the span count and before it does the work.
 */
import { type EnrichContext, enrichRequest } from "./enrich-request.ts";
import { encodeForward, type ForwardItem } from "./otlp-encode.ts";
import { jsonToProto } from "./otlp-json.ts";
import { type ParsedRequest, scanRequest } from "./otlp-proto.ts";

export type OtlpEncoding = "protobuf" | "json";

/**
 * Bytes a job span may grow by when enriched: the ~25 `carbon.*` KeyValues measured at about
 * 540 bytes per span (test/helpers makeExportRequest spans, static intensity), doubled for longer
 * zone names and fallback reasons.
 */
export const JOB_SPAN_GROWTH_BYTES = 1024;

/**
 * Queue bytes to reserve for a request before enriching it: the forwarded items are the received
 * bytes plus the added attributes, so reserving only the received size would let the queue
 * outgrow `forwardQueueBytes` once the items are committed.
 */
export function forwardBytesEstimate(req: ParsedRequest): number {
  return req.buf.length + req.jobSpans.length * JOB_SPAN_GROWTH_BYTES;
}

/** Throws a CO2E_ERR_OTLP_DECODE error (→ 400) for a malformed body. */
export function decodeExport(body: Uint8Array, encoding: OtlpEncoding): ParsedRequest {
  const bytes =
    encoding === "json"
      ? jsonToProto(Buffer.from(body.buffer, body.byteOffset, body.length).toString("utf8"))
      : body;
  return scanRequest(bytes);
}

export interface ExportResult {
  items: ForwardItem[];
  acceptedSpans: number;
  rejectedSpans: number;
  errorMessage: string;
  /** Job spans the gateway enriched (not counting those enriched upstream). */
  enrichedSpans: number;
}

export async function enrichAndEncode(req: ParsedRequest, ctx: EnrichContext): Promise<ExportResult> {
  const counts = await enrichRequest(req, ctx);
  const items = encodeForward(req);
  let acceptedSpans = 0;
  for (const item of items) acceptedSpans += item.spanCount;
  const errorMessage = req.rejectedSpans
    ? `${req.rejectedSpans} span(s) rejected: ${req.rejectReasons.join("; ")}`
    : "";
  return {
    items,
    acceptedSpans,
    rejectedSpans: req.rejectedSpans,
    errorMessage,
    enrichedSpans: counts.enriched,
  };
}
