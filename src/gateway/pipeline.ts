/**
 * One export request from bytes to forwardable items: decode (protobuf scanner, or JSON converted
 * to protobuf first), enrich the job spans, encode. Split in two steps so the server can reserve
 * queue room between them, after it knows the span count and before it does the work.
 */
import { type EnrichContext, enrichRequest } from "./enrich-request.ts";
import { type RequestLimits, UNBOUNDED_LIMITS } from "./limits.ts";
import { encodeForwardSteps, type ForwardItem } from "./otlp-encode.ts";
import { type JsonRequest, jsonRequestSteps } from "./otlp-json.ts";
import { type ParsedRequest, scanRequestSteps } from "./otlp-proto.ts";
import { runAtOnce, runSliced, type Slicer } from "./slices.ts";

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

function bodyText(body: Uint8Array): string {
  return Buffer.from(body.buffer, body.byteOffset, body.length).toString("utf8");
}

/** Spans the JSON reader left out for a limit count as received and rejected, as in protobuf. */
function withJsonRejections(req: ParsedRequest, json: JsonRequest): ParsedRequest {
  req.spanCount += json.rejectedSpans;
  req.rejectedSpans += json.rejectedSpans;
  for (const reason of json.rejectReasons)
    if (req.rejectReasons.length < 3 && !req.rejectReasons.includes(reason)) req.rejectReasons.push(reason);
  return req;
}

/**
 * Decodes in one go (benchmarks, tests). Throws a CO2E_ERR_OTLP_DECODE error (→ 400) for a
 * malformed body, LimitError for a request over `limits`.
 */
export function decodeExport(
  body: Uint8Array,
  encoding: OtlpEncoding,
  limits: RequestLimits = UNBOUNDED_LIMITS,
): ParsedRequest {
  if (encoding === "protobuf") return runAtOnce(scanRequestSteps(body, limits));
  const json = runAtOnce(jsonRequestSteps(bodyText(body), limits));
  return withJsonRejections(runAtOnce(scanRequestSteps(json.bytes, limits)), json);
}

/**
 * decodeExport in slices that let the event loop run between them (the gateway's path). JSON is
 * converted by `convertJson` when given (the gateway's worker, json-pool.ts), else in slices here.
 */
export async function decodeExportSliced(
  body: Uint8Array,
  encoding: OtlpEncoding,
  limits: RequestLimits,
  slicer: Slicer,
  convertJson?: (body: Uint8Array, limits: RequestLimits) => Promise<JsonRequest>,
): Promise<ParsedRequest> {
  if (encoding === "protobuf") return runSliced(scanRequestSteps(body, limits), slicer);
  const json = convertJson
    ? await convertJson(body, limits)
    : await runSliced(jsonRequestSteps(bodyText(body), limits), slicer);
  return withJsonRejections(await runSliced(scanRequestSteps(json.bytes, limits), slicer), json);
}

export interface ExportResult {
  items: ForwardItem[];
  acceptedSpans: number;
  rejectedSpans: number;
  errorMessage: string;
  /** Job spans the gateway enriched (not counting those enriched upstream). */
  enrichedSpans: number;
}

export async function enrichAndEncode(
  req: ParsedRequest,
  ctx: EnrichContext,
  slicer?: Slicer,
): Promise<ExportResult> {
  const counts = await enrichRequest(req, ctx, slicer);
  const items = slicer
    ? await runSliced(encodeForwardSteps(req), slicer)
    : runAtOnce(encodeForwardSteps(req));
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
