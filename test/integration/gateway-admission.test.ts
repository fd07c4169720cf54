/**
 * Admission before the body is read: while the forward queue cannot take a request, the gateway
 * answers 503 + Retry-After without waiting for (or scanning) the body.
 */
import { request as httpRequest } from "node:http";
import { describe, expect, it } from "vitest";
import { gatewayHarness } from "../helpers/gateway.ts";
import { freePort, makeExportRequest } from "../helpers/otlp-sink.ts";

const { gateway, sink } = gatewayHarness();
const PROTO = { "content-type": "application/x-protobuf" };

/** Sends headers and the first bytes of a chunked body, never the end: resolves on the answer. */
function unfinished(
  url: string,
  first: Uint8Array,
): Promise<{ status: number; retryAfter: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}/v1/traces`, { method: "POST", headers: PROTO }, (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, retryAfter: res.headers["retry-after"] });
      req.destroy();
    });
    req.on("error", reject);
    req.write(first);
  });
}

describe("gateway: admission before the body is read", () => {
  it("refuses a request unread while a request like the last refused one cannot fit", async () => {
    const dead = await freePort(); // the downstream refuses connections: the queue stays full
    const g = await gateway({
      forwardUrl: `http://127.0.0.1:${dead}/v1/traces`,
      forwardQueueSpans: 30,
      admissionWaitMs: 0,
      shutdownTimeoutMs: 300,
    });
    const post = (spans: number, seed: number) =>
      fetch(`${g.url}/v1/traces`, {
        method: "POST",
        headers: PROTO,
        body: makeExportRequest({ spans, seed }),
      });
    expect((await post(20, 1)).status).toBe(200);
    // Read and scanned: 20 more do not fit (20 + 20 > 30) → 503, and the size is remembered.
    expect((await post(20, 2)).status).toBe(503);
    expect(g.stats().refusedSpans).toBe(20);
    // A body that never ends is answered without being read.
    const answer = await unfinished(g.url, makeExportRequest({ spans: 20, seed: 3 }).subarray(0, 100));
    expect(answer).toEqual({ status: 503, retryAfter: "1" });
    expect(g.stats().refusedSpans).toBe(20); // not scanned, so its spans are not known
    // Any request is refused unread while one like the last refused (20 spans) cannot fit.
    expect((await post(5, 4)).status).toBe(503);
    expect(g.stats().refusedSpans).toBe(20);
  });

  it("reads and answers 413 for a body larger than the whole byte queue, even when the queue is busy", async () => {
    const dead = await freePort();
    const g = await gateway({
      forwardUrl: `http://127.0.0.1:${dead}/v1/traces`,
      forwardQueueBytes: 64 * 1024,
      shutdownTimeoutMs: 300,
    });
    const big = makeExportRequest({ spans: 400 });
    expect(big.length).toBeGreaterThan(64 * 1024);
    const res = await fetch(`${g.url}/v1/traces`, { method: "POST", headers: PROTO, body: big });
    expect(res.status).toBe(413);
  });

  it("lets a request wait for room, its body unread, and accepts it once the queue drains", async () => {
    const down = await sink({ delayMs: 300 });
    const g = await gateway({ forwardUrl: down.url, forwardQueueSpans: 30, admissionWaitMs: 3000 });
    const post = (spans: number, seed: number) =>
      fetch(`${g.url}/v1/traces`, {
        method: "POST",
        headers: PROTO,
        body: makeExportRequest({ spans, seed }),
      });
    expect((await post(20, 1)).status).toBe(200); // forwarded after 300 ms
    expect((await post(20, 2)).status).toBe(200); // waits for the first batch to leave the queue
    await down.waitForSpans(40);
    expect(g.stats().refusedSpans).toBe(0);
  });

  it("answers 503 after admissionWaitMs when no room comes", async () => {
    const dead = await freePort();
    const g = await gateway({
      forwardUrl: `http://127.0.0.1:${dead}/v1/traces`,
      forwardQueueSpans: 30,
      admissionWaitMs: 200,
      shutdownTimeoutMs: 300,
    });
    const post = (spans: number, seed: number) =>
      fetch(`${g.url}/v1/traces`, {
        method: "POST",
        headers: PROTO,
        body: makeExportRequest({ spans, seed }),
      });
    expect((await post(20, 1)).status).toBe(200);
    expect((await post(20, 2)).status).toBe(503); // read, then waited 200 ms for room
    const started = Date.now();
    const res = await post(20, 3);
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
  });
});
