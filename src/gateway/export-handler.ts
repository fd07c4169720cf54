/**
 * `POST /v1/traces`: checks (shutdown, token, media type, content-encoding, declared length), body,
 * decode within `gateway.limits`, queue reservation, enrichment, answer. Decoding and enrichment
 * run in slices (slices.ts) so a large request leaves the event loop free between them.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Config } from "../config.ts";
import { ERROR_CODES, isCo2eError } from "../errors.ts";
import { reserveQueue } from "./admission.ts";
import type { Authorizer } from "./auth.ts";
import type { EnrichContext } from "./enrich-request.ts";
import type { SpanSink } from "./forwarder.ts";
import type { SpanCounters } from "./gateway-stats.ts";
import { type Answers, HttpError, mediaType } from "./http-answer.ts";
import type { JsonPool } from "./json-pool.ts";
import { LimitError } from "./limits.ts";
import { encodeResponseJson, encodeResponseProto } from "./otlp-encode.ts";
import type { ParsedRequest } from "./otlp-proto.ts";
import { decodeExportSliced, enrichAndEncode, type OtlpEncoding } from "./pipeline.ts";
import { declaredTooLarge, gunzipBounded, readRequestBody } from "./request-body.ts";
import { Slicer } from "./slices.ts";

export interface ExportDeps {
  gw: Config["gateway"];
  answers: Answers;
  authorize: Authorizer;
  sink: SpanSink;
  ctx: EnrichContext;
  counters: SpanCounters;
  /** Converts JSON bodies off the event loop. */
  json: JsonPool;
  closing(): boolean;
}

async function decode(
  body: Buffer,
  encoding: OtlpEncoding,
  deps: ExportDeps,
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

/** Handles one export request; refusals are thrown as HttpError (answered by the caller). */
export async function handleExport(
  req: IncomingMessage,
  res: ServerResponse,
  deps: ExportDeps,
): Promise<void> {
  const { gw, answers, sink, counters } = deps;
  const encoding = mediaType(req);
  if (deps.closing()) throw new HttpError(503, "shutting down");
  if (!deps.authorize(req.headers.authorization)) throw new HttpError(401, "missing or wrong bearer token");
  if (!encoding) throw new HttpError(415, "content-type must be application/x-protobuf or application/json");
  const contentEncoding = (req.headers["content-encoding"] ?? "identity").trim().toLowerCase();
  if (contentEncoding !== "identity" && contentEncoding !== "gzip") {
    throw new HttpError(415, `unsupported content-encoding "${contentEncoding}" (gzip or none)`);
  }
  const declared = declaredTooLarge(req, gw.bodyLimitBytes);
  if (declared) throw declared;
  let body = await readRequestBody(req, gw);
  if (contentEncoding === "gzip") body = await gunzipBounded(body, gw);
  const slicer = new Slicer();
  const parsed = await decode(body, encoding, deps, slicer);
  counters.receivedSpans += parsed.spanCount;
  let reservation: ReturnType<typeof reserveQueue>;
  try {
    reservation = reserveQueue(sink, parsed, gw);
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
    if (encoding === "protobuf") {
      answers.send(
        res,
        200,
        encodeResponseProto(result.rejectedSpans, result.errorMessage),
        "application/x-protobuf",
      );
    } else
      answers.send(
        res,
        200,
        encodeResponseJson(result.rejectedSpans, result.errorMessage),
        "application/json",
      );
  } finally {
    if (!committed) sink.release(reservation.spans, reservation.bytes);
  }
}
