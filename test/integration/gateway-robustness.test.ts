/**
 * 10,000 hostile bodies against one real `co2e collector` process: truncated and corrupted requests, random bytes,
 * broken JSON, oversized bodies (with and without Content-Length), gzip bombs and wrong media
 * types. Each must get a 4xx, the server must keep serving valid requests afterwards, and its
 * memory must stay bounded.
 */
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { Agent, request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scanRequest } from "../../src/gateway/otlp-proto.ts";
import {
  makeExportRequest,
  type OtlpSink,
  type SpawnedCollector,
  spawnCollector,
  startOtlpSink,
} from "../helpers/otlp-sink.ts";

const TOTAL = 10_000;
const CONCURRENCY = 16;
const BODY_LIMIT = 64 * 1024;
const HEAP_LIMIT_MIB = 96;

let g: SpawnedCollector;
let down: OtlpSink;
let agent: Agent;

beforeAll(async () => {
  down = await startOtlpSink();
  g = await spawnCollector(
    [
      "gateway:",
      "  listen: 127.0.0.1:0",
      "  metricsListen: 127.0.0.1:0",
      `  forwardUrl: ${down.url}`,
      `  bodyLimitBytes: ${BODY_LIMIT}`,
      `  decompressedLimitBytes: ${256 * 1024}`,
      "",
    ].join("\n"),
    [],
    // A leak cannot hide behind a lazy garbage collector: the heap is capped well below what
    // 10,000 requests would need if anything were kept per request.
    [`--max-old-space-size=${HEAP_LIMIT_MIB}`],
  );
  agent = new Agent({ connections: CONCURRENCY });
});

afterAll(async () => {
  await agent?.close();
  if (g) {
    g.kill("SIGTERM");
    await g.exited;
  }
  await down?.close();
});

interface Case {
  kind: string;
  body: Uint8Array | string | (() => AsyncIterable<Uint8Array>);
  headers: Record<string, string>;
}

const PROTO = { "content-type": "application/x-protobuf" };
const valid = makeExportRequest({ spans: 30, jobEvery: 3 });
const bomb = gzipSync(new Uint8Array(16 * 1024 * 1024));

function randomInvalidProtobuf(): Uint8Array {
  for (;;) {
    const bytes = randomBytes(1 + Math.floor(Math.random() * 2000));
    try {
      scanRequest(bytes);
    } catch {
      return bytes; // random bytes that happen to be a valid message are not "malformed"
    }
  }
}

function makeCase(i: number): Case {
  switch (i % 9) {
    case 0: {
      // truncated inside the (single) ResourceSpans: always malformed
      const cut = 2 + Math.floor(Math.random() * (valid.length - 3));
      return { kind: "truncated", body: valid.subarray(0, cut), headers: PROTO };
    }
    case 1: {
      // first length prefix far beyond the body
      const body = Uint8Array.from(valid);
      body.set([0xff, 0xff, 0xff, 0x7f], 1);
      return { kind: "bad-length", body, headers: PROTO };
    }
    case 2:
      return { kind: "random", body: randomInvalidProtobuf(), headers: PROTO };
    case 3: {
      const junk = [
        "{",
        "[]",
        '{"resourceSpans":{}}',
        '{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":"x"}]}]}]}',
        randomBytes(64).toString("latin1"),
      ];
      return { kind: "json", body: junk[i % junk.length]!, headers: { "content-type": "application/json" } };
    }
    case 4:
      return { kind: "oversized", body: randomBytes(BODY_LIMIT + 1 + (i % 4096)), headers: PROTO };
    case 5: {
      const size = BODY_LIMIT + 1 + (i % 4096);
      return {
        kind: "oversized-chunked",
        body: async function* () {
          for (let sent = 0; sent < size; sent += 16 * 1024)
            yield randomBytes(Math.min(16 * 1024, size - sent));
        },
        headers: PROTO,
      };
    }
    case 6:
      return i % 90 === 6
        ? { kind: "gzip-bomb", body: bomb, headers: { ...PROTO, "content-encoding": "gzip" } }
        : { kind: "bad-gzip", body: randomBytes(100), headers: { ...PROTO, "content-encoding": "gzip" } };
    case 7:
      return {
        kind: "media-type",
        body: valid,
        headers: { "content-type": i % 2 ? "text/plain" : "application/grpc" },
      };
    default:
      return { kind: "wire-type", body: Uint8Array.from([0x08, i % 128]), headers: PROTO };
  }
}

async function send(c: Case): Promise<number> {
  const res = await request(`${g.url}/v1/traces`, {
    dispatcher: agent,
    method: "POST",
    headers: c.headers,
    body: typeof c.body === "function" ? Readable.from(c.body()) : c.body,
  });
  await res.body.dump();
  return res.statusCode;
}

describe("gateway robustness", () => {
  it(`answers ${TOTAL.toLocaleString("en-US")} malformed, random and oversized bodies with 4xx and stays healthy`, async () => {
    const byKind = new Map<string, Map<number, number>>();
    let next = 0;
    let rssAfterWarmupKib = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < TOTAL) {
          if (next === 1000) rssAfterWarmupKib = g.rssKib();
          const c = makeCase(next++);
          const status = await send(c);
          const counts = byKind.get(c.kind) ?? new Map<number, number>();
          counts.set(status, (counts.get(status) ?? 0) + 1);
          byKind.set(c.kind, counts);
        }
      }),
    );
    const summary = Object.fromEntries([...byKind].map(([k, m]) => [k, Object.fromEntries(m)]));
    let total = 0;
    for (const [kind, counts] of byKind) {
      for (const [status, n] of counts) {
        total += n;
        expect(status, `${kind}: ${JSON.stringify(summary)}`).toBeGreaterThanOrEqual(400);
        expect(status, `${kind}: ${JSON.stringify(summary)}`).toBeLessThan(500);
      }
    }
    expect(total).toBe(TOTAL);
    expect([...byKind.get("oversized")!.keys()]).toEqual([413]);
    expect([...byKind.get("oversized-chunked")!.keys()]).toEqual([413]);
    expect([...byKind.get("gzip-bomb")!.keys()]).toEqual([413]);
    expect([...byKind.get("media-type")!.keys()]).toEqual([415]);
    expect([...byKind.get("truncated")!.keys()]).toEqual([400]);
    expect(down.spans).toHaveLength(0);

    // Still serving: a valid request goes through and the health checks answer.
    expect(await send({ kind: "valid", body: valid, headers: PROTO })).toBe(200);
    await down.waitForSpans(30);
    expect((await fetch(`${g.url}/healthz`)).status).toBe(200);
    const rssKib = g.rssKib();
    const growthMib = (rssKib - rssAfterWarmupKib) / 1024;
    console.log(
      `collector rss ${(rssKib / 1024).toFixed(0)} MiB, growth after warm-up ${growthMib.toFixed(1)} MiB`,
      JSON.stringify(summary),
    );
    // Still alive under the heap cap (a leak would have ended it), and resident memory bounded.
    expect(g.exitCode()).toBeUndefined();
    expect(rssKib / 1024).toBeLessThan(300);
  });
});
