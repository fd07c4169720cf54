/**
 * Reused forward buffers (forward-buffers.ts) through the real Forwarder and a real HTTP
 * downstream: buffers given back after an answered batch are handed out again for later
 * requests, and every batch still arrives with its own spans, byte for byte as encoded.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { acquireBuffer, freeBufferBytes, releaseBuffer } from "../../src/gateway/forward-buffers.ts";
import { Forwarder } from "../../src/gateway/forwarder.ts";
import { encodeForward, frameRequest, releaseForwardItems } from "../../src/gateway/otlp-encode.ts";
import { scanRequest } from "../../src/gateway/otlp-proto.ts";
import { makeExportRequest, spansOf } from "../helpers/otlp-sink.ts";

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** Forward items of a 512-span request (10 % job spans, so rewritten into a new buffer). */
function items(seed: number) {
  const req = scanRequest(makeExportRequest({ spans: 512, jobEvery: 10, seed }));
  for (const s of req.jobSpans) s.added = { "carbon.co2e.grams": seed, "carbon.intensity.zone": "DE" };
  return encodeForward(req);
}

describe("forward buffers", () => {
  it("hands a given-back buffer out again, and keeps small or odd buffers out", () => {
    const a = acquireBuffer(100_000);
    expect(a.length).toBeGreaterThanOrEqual(100_000);
    expect(a.length).toBeLessThan(100_000 + 16 * 1024);
    releaseBuffer(a);
    expect(acquireBuffer(100_000)).toBe(a);
    const small = acquireBuffer(1000);
    expect(small.length).toBe(1000);
    const before = freeBufferBytes();
    releaseBuffer(small);
    releaseBuffer(new Uint8Array(100_001));
    releaseBuffer(a.subarray(1));
    expect(freeBufferBytes()).toBe(before);
  });

  it("gives an item's buffer back once only", () => {
    const [item] = items(1);
    const length = item!.pooled!.length;
    const before = freeBufferBytes();
    releaseForwardItems([item!]);
    releaseForwardItems([item!]);
    expect(item!.pooled).toBeUndefined();
    expect(freeBufferBytes() - before).toBe(length);
  });

  it("delivers every batch intact while the buffers of answered batches are reused", async () => {
    const bodies: Buffer[] = [];
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        bodies.push(Buffer.concat(chunks));
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`;
    const forwarder = new Forwarder({
      url,
      batchSpans: 512,
      queueSpans: 100_000,
      queueBytes: 256 * 1024 * 1024,
      concurrency: 4,
      timeoutMs: 5000,
      log: () => {},
    });
    const expected = new Map<number, Buffer>();
    const buffers = new Set<ArrayBufferLike>();
    let reused = 0;
    // Waves: each is encoded after the previous one was answered, so it gets its buffers back.
    for (let wave = 0; wave < 4; wave++) {
      for (let i = 0; i < 6; i++) {
        const seed = wave * 100 + i + 1;
        const batch = items(seed);
        for (const item of batch) {
          if (buffers.has(item.pooled!.buffer)) reused++;
          buffers.add(item.pooled!.buffer);
        }
        expected.set(seed, Buffer.from(frameRequest(batch)));
        const bytes = batch.reduce((n, item) => n + item.bytes.length, 0);
        expect(forwarder.tryReserve(512, bytes)).toBe(true);
        forwarder.commit(512, bytes, batch);
      }
      expect(await forwarder.flush(Date.now() + 10_000)).toBe(true);
    }
    await forwarder.close();
    expect(reused).toBeGreaterThan(0);
    expect(forwarder.stats.forwardedSpans).toBe(24 * 512);
    expect(bodies).toHaveLength(24);
    // Each body is one request's spans as encoded then, not bytes of a later request.
    const seen = new Set<number>();
    for (const body of bodies) {
      const grams = spansOf(body)
        .filter((s) => s.attributes["carbon.co2e.grams"] !== undefined)
        .map((s) => s.attributes["carbon.co2e.grams"] as number);
      expect(new Set(grams).size).toBe(1);
      const seed = grams[0]!;
      expect(body.equals(expected.get(seed)!)).toBe(true);
      seen.add(seed);
    }
    expect(seen.size).toBe(24);
  });
});
