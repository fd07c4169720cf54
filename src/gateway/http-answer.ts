/**
 * Answers on the OTLP receiver: the request's encoding, errors as `google.rpc.Status` in that
 * encoding (OTLP/HTTP asks for it; plain text when the request names neither OTLP encoding), and a
 * count of answers on the OTLP path by status.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { OTLP_TRACES_PATH } from "./forwarder.ts";
import { encodeStatusProto } from "./otlp-encode.ts";
import type { OtlpEncoding } from "./pipeline.ts";

/** Seconds a client is asked to wait after 429/503. */
export const RETRY_AFTER_SECONDS = 1;

/** A refusal with its HTTP status, thrown anywhere below the request handler. */
export class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/**
 * google.rpc.Code values for the Status body (OTLP/HTTP reuses them), following the HTTP mapping
 * documented in googleapis google/rpc/code.proto: INVALID_ARGUMENT 3, NOT_FOUND 5,
 * RESOURCE_EXHAUSTED 8, UNIMPLEMENTED 12, INTERNAL 13, UNAVAILABLE 14, UNAUTHENTICATED 16;
 * 408 is DEADLINE_EXCEEDED 4.
 */
const GRPC_CODE: Record<number, number> = {
  400: 3,
  401: 16,
  404: 5,
  405: 12,
  408: 4,
  413: 8,
  415: 3,
  429: 8,
  500: 13,
  503: 14,
};

export function mediaType(req: IncomingMessage): OtlpEncoding | undefined {
  const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  if (type === "application/x-protobuf") return "protobuf";
  if (type === "application/json") return "json";
  return undefined;
}

export function requestPath(req: IncomingMessage): string {
  return (req.url ?? "/").split("?")[0]!;
}

export class Answers {
  /** Answers on the OTLP path by status (any method, so 405s too); other paths are not counted. */
  readonly byStatus: Record<number, number> = {};
  /** Set at shutdown: every answer then closes its connection. */
  closing = false;

  send(
    res: ServerResponse,
    status: number,
    body: string | Uint8Array,
    contentType: string,
    headers: Record<string, string> = {},
  ): void {
    if (res.headersSent || res.destroyed) return;
    if (requestPath(res.req) === OTLP_TRACES_PATH) this.byStatus[status] = (this.byStatus[status] ?? 0) + 1;
    if (this.closing) res.setHeader("connection", "close");
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    res.writeHead(status, { "content-type": contentType, "content-length": Buffer.byteLength(body) });
    res.end(body);
  }

  /** An error answer in the request's encoding. */
  fail(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
    const encoding = mediaType(res.req);
    const all = { ...headers };
    if (status === 429 || status === 503) all["retry-after"] = String(RETRY_AFTER_SECONDS);
    if (status === 401) all["www-authenticate"] = "Bearer";
    const code = GRPC_CODE[status] ?? 2;
    if (encoding === "protobuf")
      this.send(res, status, encodeStatusProto(code, message), "application/x-protobuf", all);
    else if (encoding === "json")
      this.send(res, status, JSON.stringify({ code, message }), "application/json", all);
    else this.send(res, status, `${message}\n`, "text/plain; charset=utf-8", all);
  }
}
