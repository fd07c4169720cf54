/**
 * Reading an export request's body under the gateway's bounds, each decided before the bytes it
 * bounds are read or inflated:
 * - `Content-Length` above `gateway.bodyLimitBytes` → 413 at once, without reading the body;
 * - a body passing the limit while read (chunked bodies give no length) → 413;
 * - `gateway.bodyTimeoutMs`: a timer per request, from its headers to the end of its body → 408;
 * - `gateway.minBodyBytesPerSecond`: from the second second on, a body arriving slower than that on
 *   average → 408, so slow senders cannot hold the admission slots for the whole body timeout;
 * - gzip is inflated at most to `gateway.decompressedLimitBytes` and to `gateway.maxDecompressionRatio`
 *   times the received size (the ratio applies above RATIO_FLOOR_BYTES) → 413.
 */
import type { IncomingMessage } from "node:http";
import { gunzip } from "node:zlib";
import type { Config } from "../config.ts";
import { BodyTooLargeError, readBodyLimited } from "../util/read-body.ts";
import { HttpError } from "./http-answer.ts";

/** After a 413 the rest of the body is read and discarded (so the client sees the answer) up to this. */
const MAX_DISCARD_BYTES = 64 * 1024 * 1024;
/** The body rate is judged from this long after the headers on. */
const RATE_GRACE_MS = 1000;
/** How often the rate and the timeout are checked. */
const CHECK_EVERY_MS = 250;
/** Inflated sizes up to this are never refused for their ratio (small bodies compress well). */
export const RATIO_FLOOR_BYTES = 1024 * 1024;

type GatewayConfig = Config["gateway"];

/** 413 from the declared length alone, or undefined when it is absent or within the limit. */
export function declaredTooLarge(req: IncomingMessage, limit: number): HttpError | undefined {
  const declared = Number(req.headers["content-length"]);
  if (!Number.isFinite(declared) || declared <= limit) return undefined;
  return new HttpError(413, `body of ${declared} bytes exceeds gateway.bodyLimitBytes (${limit} bytes)`);
}

/**
 * The whole body, or an HttpError: 413 over the limit (the rest is drained up to
 * MAX_DISCARD_BYTES so the client sees the answer), 408 too slow, 400 cut short by the client.
 */
export function readRequestBody(req: IncomingMessage, gw: GatewayConfig): Promise<Buffer> {
  const startedAt = performance.now();
  let received = 0;
  return new Promise<Buffer>((resolve, reject) => {
    const timer = setInterval(() => {
      const elapsed = performance.now() - startedAt;
      if (elapsed >= gw.bodyTimeoutMs) {
        stop(
          new HttpError(
            408,
            `request body not complete after gateway.bodyTimeoutMs (${gw.bodyTimeoutMs} ms)`,
          ),
        );
      } else if (
        gw.minBodyBytesPerSecond > 0 &&
        elapsed >= RATE_GRACE_MS &&
        received < (gw.minBodyBytesPerSecond * elapsed) / 1000
      ) {
        stop(
          new HttpError(
            408,
            `request body arriving at ${Math.round((received * 1000) / elapsed)} bytes/s, below ` +
              `gateway.minBodyBytesPerSecond (${gw.minBodyBytesPerSecond})`,
          ),
        );
      }
    }, CHECK_EVERY_MS);
    let done = false;
    const stop = (error: Error | undefined, body?: Buffer) => {
      if (done) return;
      done = true;
      clearInterval(timer);
      if (error) reject(error);
      else resolve(body!);
    };
    readBodyLimited(req, gw.bodyLimitBytes, {
      drainUpToBytes: MAX_DISCARD_BYTES,
      onChunk: (bytes) => {
        received += bytes;
      },
    }).then(
      (body) => stop(undefined, body),
      (error: unknown) => {
        if (error instanceof BodyTooLargeError) {
          stop(new HttpError(413, `body exceeds gateway.bodyLimitBytes (${gw.bodyLimitBytes} bytes)`));
        } else stop(new HttpError(400, "request body ended early"));
      },
    );
  });
}

/** Inflates a gzip body within the absolute and the ratio bound. */
export function gunzipBounded(body: Buffer, gw: GatewayConfig): Promise<Buffer> {
  const byRatio = Math.max(RATIO_FLOOR_BYTES, Math.floor(body.length * gw.maxDecompressionRatio));
  const max = Math.min(gw.decompressedLimitBytes, byRatio);
  const why =
    max === gw.decompressedLimitBytes
      ? `gateway.decompressedLimitBytes (${max} bytes)`
      : `gateway.maxDecompressionRatio (${gw.maxDecompressionRatio} × the ${body.length}-byte body)`;
  return new Promise((resolve, reject) => {
    gunzip(body, { maxOutputLength: max }, (error, out) => {
      if (!error) return resolve(out);
      if ((error as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE" || error instanceof RangeError) {
        reject(new HttpError(413, `decompressed body exceeds ${why}`));
      } else reject(new HttpError(400, `invalid gzip body: ${error.message}`));
    });
  });
}
