/**
 * `POST /v1/traces`: checks (shutdown, token, media type, content-encoding, declared length),
 * admission before the body is read (admission.ts), body, then the shared export core
 * (export-core.ts: decode within `gateway.limits`, queue reservation, enrichment), answer.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Authorizer } from "./auth.ts";
import { type ExportCoreDeps, processExport } from "./export-core.ts";
import { type Answers, HttpError, mediaType } from "./http-answer.ts";
import { encodeResponseJson, encodeResponseProto } from "./otlp-encode.ts";
import { declaredTooLarge, gunzipBounded, readRequestBody } from "./request-body.ts";

export interface ExportDeps extends ExportCoreDeps {
  answers: Answers;
  authorize: Authorizer;
}

/** Handles one export request; refusals are thrown as HttpError (answered by the caller). */
export async function handleExport(
  req: IncomingMessage,
  res: ServerResponse,
  deps: ExportDeps,
): Promise<void> {
  const { gw, answers } = deps;
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
  // Refused (after up to admissionWaitMs) before a byte of the body is read while it cannot fit.
  await deps.queue.admitUnread(Number(req.headers["content-length"]));
  let body = await readRequestBody(req, gw);
  if (contentEncoding === "gzip") body = await gunzipBounded(body, gw);
  const ack = await processExport(body, encoding, deps);
  if (encoding === "protobuf") {
    answers.send(
      res,
      200,
      encodeResponseProto(ack.rejectedSpans, ack.errorMessage),
      "application/x-protobuf",
    );
  } else {
    answers.send(res, 200, encodeResponseJson(ack.rejectedSpans, ack.errorMessage), "application/json");
  }
}
