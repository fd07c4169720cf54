/**
 * The gateway as a real server on 127.0.0.1 (port 0) with a real downstream sink: enrichment,
 * forwarding with retries and backpressure, the HTTP limits and their status codes.
 */
import { request as httpRequest } from "node:http";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config.ts";
import { JOB_SPAN_GROWTH_BYTES } from "../../src/gateway/pipeline.ts";
import { otlpType } from "../../src/gateway/schema.ts";
import type { Gateway } from "../../src/gateway/server.ts";
import * as sc from "../../src/semconv.ts";
import { gatewayHarness } from "../helpers/gateway.ts";
import { makeExportRequest } from "../helpers/otlp-sink.ts";

const { gateway, sink } = gatewayHarness();

const PROTO = { "content-type": "application/x-protobuf" };

async function post(g: Gateway, body: Uint8Array | string, headers: Record<string, string> = PROTO) {
  const res = await fetch(`${g.url}/v1/traces`, { method: "POST", body, headers });
  return { status: res.status, headers: res.headers, body: new Uint8Array(await res.arrayBuffer()) };
}

/** Sends the body chunked (no Content-Length), the way the OTel JS exporter does. */
function postChunked(
  g: Gateway,
  chunks: Uint8Array[],
  headers: Record<string, string> = PROTO,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${g.url}/v1/traces`, { method: "POST", headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    for (const c of chunks) req.write(c);
    req.end();
  });
}

function statusMessage(body: Uint8Array): string {
  const Status = otlpType("RpcStatus");
  return (Status.decode(body) as unknown as { message: string }).message;
}

describe("gateway: enrichment and forwarding", () => {
  it("enriches job spans, forwards all spans, and counts jobs in /metrics", async () => {
    const down = await sink();
    const g = await gateway({ forwardUrl: down.url });
    const res = await post(g, makeExportRequest({ spans: 20, jobEvery: 5, serviceName: "etl" }));
    expect(res.status).toBe(200);
    expect(res.body).toHaveLength(0); // full success: empty ExportTraceServiceResponse
    await down.waitForSpans(20);
    await expect.poll(() => g.stats().forwardedSpans).toBe(20);
    const jobs = down.spans.filter((s) => s.attributes["job.name"]);
    expect(jobs).toHaveLength(4);
    for (const job of jobs) {
      expect(job.attributes["carbon.intensity.zone"]).toBe("DE");
      expect(job.attributes["carbon.co2e.grams"]).toBeGreaterThan(0);
      expect(job.resource["service.name"]).toBe("etl");
    }
    expect(
      down.spans
        .filter((s) => !s.attributes["job.name"])
        .every((s) => !("carbon.co2e.grams" in s.attributes)),
    ).toBe(true);
    const metrics = await (await fetch(g.metricsUrl)).text();
    expect(metrics).toMatch(/co2e_job_runs_total\{[^}]*job_name="report-0"[^}]*\} 1/);
    expect(g.stats()).toMatchObject({
      receivedSpans: 20,
      acceptedSpans: 20,
      jobSpans: 4,
      forwardedSpans: 20,
    });
  });

  it("marks a job in an unknown zone with carbon.error and still forwards it", async () => {
    const down = await sink();
    const g = await gateway({ forwardUrl: down.url });
    expect((await post(g, makeExportRequest({ spans: 2, jobEvery: 1, zone: "NOT-A-ZONE" }))).status).toBe(
      200,
    );
    await down.waitForSpans(2);
    expect(down.spans[0]!.attributes["carbon.error"]).toMatch(/CO2E_ERR_UNKNOWN_ZONE/);
  });

  it("answers JSON with JSON and reports rejected spans in partial_success", async () => {
    const down = await sink();
    const g = await gateway({ forwardUrl: down.url });
    const doc = {
      resourceSpans: [
        {
          scopeSpans: [
            {
              spans: [
                {
                  traceId: "0af7651916cd43dd8448eb211c80319c",
                  spanId: "b7ad6b7169203331",
                  name: "ok",
                  attributes: [{ key: "job.name", value: { stringValue: "j" } }],
                },
                { traceId: "", spanId: "b7ad6b7169203331", name: "no-trace-id" },
              ],
            },
          ],
        },
      ],
    };
    const res = await post(g, JSON.stringify(doc), { "content-type": "application/json; charset=utf-8" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    const body = JSON.parse(Buffer.from(res.body).toString()) as {
      partialSuccess: { rejectedSpans: string; errorMessage: string };
    };
    expect(body.partialSuccess.rejectedSpans).toBe("1");
    expect(body.partialSuccess.errorMessage).toMatch(/trace_id/);
    await down.waitForSpans(1);
    expect(down.spans.map((s) => s.name)).toEqual(["ok"]);
  });

  it("retries 5xx from the downstream with backoff until it accepts", async () => {
    const down = await sink({ failFirst: 2, failStatus: 503 });
    const g = await gateway({ forwardUrl: down.url });
    expect((await post(g, makeExportRequest({ spans: 10 }))).status).toBe(200);
    await down.waitForSpans(10);
    expect(down.requests).toBe(3);
    await expect.poll(() => g.stats().forwardedSpans).toBe(10);
    expect(g.stats().retries).toBe(2);
  });

  it("drops (and counts) a batch the downstream refuses for good with a 4xx", async () => {
    const down = await sink({ failFirst: 1, failStatus: 400 });
    const g = await gateway({ forwardUrl: down.url });
    expect((await post(g, makeExportRequest({ spans: 7, seed: 1 }))).status).toBe(200);
    await expect.poll(() => g.stats().droppedSpans).toBe(7);
    expect(g.stats().retries).toBe(0);
    expect((await post(g, makeExportRequest({ spans: 3, seed: 2 }))).status).toBe(200);
    await down.waitForSpans(3);
  });

  it("answers 503 with Retry-After instead of accepting spans it cannot queue", async () => {
    const down = await sink({ delayMs: 300 });
    const g = await gateway({ forwardUrl: down.url, forwardQueueSpans: 80, forwardConcurrency: 1 });
    const first = await post(g, makeExportRequest({ spans: 80, seed: 1 }));
    expect(first.status).toBe(200);
    const second = await post(g, makeExportRequest({ spans: 80, seed: 2 }));
    expect(second.status).toBe(503);
    expect(second.headers.get("retry-after")).toBe("1");
    expect(statusMessage(second.body)).toMatch(/queue full/);
    expect((await fetch(`${g.url}/readyz`)).status).toBe(503);
    await down.waitForSpans(80);
    await expect.poll(async () => (await fetch(`${g.url}/readyz`)).status).toBe(200);
    expect((await post(g, makeExportRequest({ spans: 80, seed: 3 }))).status).toBe(200);
  });

  it("keeps the queued bytes within forwardQueueBytes, counting what enrichment adds", async () => {
    const down = await sink({ delayMs: 300 });
    const body = (seed: number) => makeExportRequest({ spans: 10, jobEvery: 1, seed });
    const raw = body(1).length;
    // One request fits once enriched (each job span grows by ~540 bytes), but the received size of
    // two would too: a queue that reserved only received bytes would accept the second request.
    const limit = raw + 10 * JOB_SPAN_GROWTH_BYTES + 1000;
    const g = await gateway({ forwardUrl: down.url, forwardQueueBytes: limit, forwardConcurrency: 1 });
    expect((await post(g, body(1))).status).toBe(200);
    expect(g.stats().pendingBytes).toBeGreaterThan(raw);
    expect((await post(g, body(2))).status).toBe(503);
    expect(g.stats().peakPendingBytes).toBeLessThanOrEqual(limit);
    await down.waitForSpans(10);
    await expect.poll(() => g.stats().pendingBytes).toBe(0);
    expect((await post(g, body(3))).status).toBe(200);
    await down.waitForSpans(20);
    expect(g.stats().peakPendingBytes).toBeLessThanOrEqual(limit);
    expect(down.spans.filter((s) => s.attributes[sc.ATTR_CARBON_CO2E_GRAMS] !== undefined)).toHaveLength(20);
  });

  it("413 for a request that could never fit the byte queue once enriched", async () => {
    const body = makeExportRequest({ spans: 10, jobEvery: 1 });
    const g = await gateway({ forwardQueueBytes: body.length + 1000 });
    const res = await post(g, body);
    expect(res.status).toBe(413);
    expect(statusMessage(res.body)).toMatch(/bytes of forward queue once enriched/);
  });

  it("without a downstream counts and drops spans after enrichment", async () => {
    const g = await gateway();
    expect((await post(g, makeExportRequest({ spans: 10, jobEvery: 2 }))).status).toBe(200);
    expect(g.stats()).toMatchObject({ droppedSpans: 10, forwardedSpans: 0, jobSpans: 5 });
    expect(await (await fetch(g.metricsUrl)).text()).toMatch(/co2e_job_runs_total/);
  });

  it("50 concurrent clients: every acknowledged span is forwarded", async () => {
    const down = await sink();
    const g = await gateway({ forwardUrl: down.url, forwardQueueSpans: 2_000, maxConcurrentRequests: 32 });
    let acked = 0;
    await Promise.all(
      Array.from({ length: 50 }, async (_, client) => {
        for (let i = 0; i < 4; i++) {
          const res = await post(g, makeExportRequest({ spans: 25, jobEvery: 10, seed: client * 100 + i }));
          if (res.status === 200) acked += 25;
          else expect([429, 503]).toContain(res.status);
        }
      }),
    );
    expect(acked).toBeGreaterThan(0);
    await down.waitForSpans(acked);
    expect(new Set(down.spans.map((s) => s.spanId)).size).toBe(acked);
    await expect.poll(() => g.stats().forwardedSpans).toBe(acked);
    expect(g.stats().droppedSpans).toBe(0);
  });
});

describe("gateway: limits", () => {
  it("413 for a chunked body over the limit, enforced while reading", async () => {
    const g = await gateway({ bodyLimitBytes: 1024 });
    const chunk = new Uint8Array(512);
    expect(await postChunked(g, [chunk, chunk, chunk, chunk])).toBe(413);
    expect((await post(g, new Uint8Array(2048))).status).toBe(413); // with Content-Length
    expect((await post(g, makeExportRequest({ spans: 1 }))).status).toBe(200);
  });

  it("accepts gzip, refuses a gzip bomb with 413 and broken gzip with 400", async () => {
    const down = await sink();
    const g = await gateway({ forwardUrl: down.url, decompressedLimitBytes: 1024 * 1024 });
    const gz = { ...PROTO, "content-encoding": "gzip" };
    expect((await post(g, gzipSync(makeExportRequest({ spans: 5 })), gz)).status).toBe(200);
    const bomb = gzipSync(new Uint8Array(64 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(128 * 1024);
    const res = await post(g, bomb, gz);
    expect(res.status).toBe(413);
    expect(statusMessage(res.body)).toMatch(/decompressed/);
    expect((await post(g, new Uint8Array([1, 2, 3]), gz)).status).toBe(400);
  });

  it("400 names the byte offset of a malformed body; 415 for other media types and encodings", async () => {
    const g = await gateway();
    const bad = await post(g, Uint8Array.from([0x0a, 0x05, 0x12, 0x10]));
    expect(bad.status).toBe(400);
    expect(statusMessage(bad.body)).toMatch(/malformed protobuf at byte 1 \(resource_spans\)/);
    const json = await post(g, "{", { "content-type": "application/json" });
    expect(json.status).toBe(400);
    expect(JSON.parse(Buffer.from(json.body).toString()).message).toMatch(/invalid JSON/);
    expect((await post(g, "x", { "content-type": "text/plain" })).status).toBe(415);
    expect((await post(g, "x", { ...PROTO, "content-encoding": "br" })).status).toBe(415);
  });

  it("401 without the bearer token, 200 with it", async () => {
    const g = await gateway({ bearerTokenEnv: "GW_TOKEN" }, {}, { GW_TOKEN: "s3cret" });
    const body = makeExportRequest({ spans: 1 });
    const res = await post(g, body);
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe("Bearer");
    expect((await post(g, body, { ...PROTO, authorization: "Bearer wrong" })).status).toBe(401);
    expect((await post(g, body, { ...PROTO, authorization: "Bearer s3cret" })).status).toBe(200);
  });

  it("refuses to start when the named token variable is empty", async () => {
    await expect(gateway({ bearerTokenEnv: "GW_TOKEN" }, {}, {})).rejects.toThrow(/GW_TOKEN/);
  });

  it("429 with Retry-After past the concurrency limit", async () => {
    const g = await gateway({ maxConcurrentRequests: 1 });
    // Hold one request open by not finishing its chunked body.
    const held = httpRequest(`${g.url}/v1/traces`, { method: "POST", headers: PROTO });
    held.on("error", () => {});
    const heldStatus = new Promise<number>((resolve) =>
      held.on("response", (r) => {
        r.resume();
        resolve(r.statusCode ?? 0);
      }),
    );
    held.write(new Uint8Array(0));
    held.flushHeaders();
    await expect.poll(() => g.stats().inflightRequests).toBe(1);
    const res = await post(g, makeExportRequest({ spans: 1 }));
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("1");
    held.end();
    expect(await heldStatus).toBe(200);
  });

  it("serves /healthz and /readyz, 404 elsewhere, 405 for GET /v1/traces", async () => {
    const g = await gateway();
    expect((await fetch(`${g.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${g.url}/readyz`)).status).toBe(200);
    expect((await fetch(`${g.url}/nope`)).status).toBe(404);
    const get = await fetch(`${g.url}/v1/traces`);
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST");
  });

  it("binds 127.0.0.1 by default", () => {
    expect(parseConfig({}).gateway.listen).toBe("127.0.0.1:4318");
    expect(parseConfig({}).gateway.metricsListen).toBe("127.0.0.1:9464");
  });
});
