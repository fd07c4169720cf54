/**
 * Forwarding over OTLP/gRPC (`gateway.forwardProtocol: grpc`) to real @grpc/grpc-js servers on
 * 127.0.0.1: a scripted downstream (OK, UNAVAILABLE then OK, RetryInfo, INVALID_ARGUMENT,
 * RESOURCE_EXHAUSTED with and without RetryInfo, slow answers, down then back), and a second
 * gateway's gRPC receiver (gateway → gateway). Checks retries, counters, one reused connection,
 * the shutdown drain, and that nothing acknowledged is lost or counted twice.
 */
import * as grpc from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config.ts";
import { retryInfoDelayMs } from "../../src/gateway/grpc-forwarder.ts";
import type { Gateway } from "../../src/gateway/server.ts";
import * as sc from "../../src/semconv.ts";
import { find, parseExposition, sampleValue } from "../helpers/exposition.ts";
import { gatewayHarness } from "../helpers/gateway.ts";
import { type ScriptedStatus, startGrpcSink, statusWithRetryInfo } from "../helpers/grpc-sink.ts";
import { freePort, makeExportRequest } from "../helpers/otlp-sink.ts";

const { cleanups, gateway, sink } = gatewayHarness();

async function grpcSink(options: Parameters<typeof startGrpcSink>[0] = {}) {
  const s = await startGrpcSink(options);
  cleanups.push(() => s.close());
  return s;
}

/** A gateway forwarding over gRPC to `url`; its log lines go to the returned array. */
async function grpcForwarding(url: string, gw: Parameters<typeof gateway>[0] = {}) {
  const logs: string[] = [];
  const g = await gateway({ forwardUrl: url, forwardProtocol: "grpc", ...gw }, {}, {}, logs);
  return { g, logs };
}

async function post(g: Gateway, body: Uint8Array): Promise<number> {
  const res = await fetch(`${g.url}/v1/traces`, {
    method: "POST",
    body,
    headers: { "content-type": "application/x-protobuf" },
  });
  await res.arrayBuffer();
  return res.status;
}

async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const ids = (spans: { spanId: string; traceId: string }[]) => spans.map((s) => `${s.traceId}/${s.spanId}`);

describe("gateway: forwarding over OTLP/gRPC", () => {
  it("forwards every span, job spans enriched, over one connection, and logs where", async () => {
    const down = await grpcSink();
    const { g, logs } = await grpcForwarding(down.url);
    expect(g.forwardUrl).toBe(down.url);
    expect(logs).toContain(`forwarding to ${down.url} (OTLP/gRPC)`);
    const statuses = await Promise.all(
      [1, 2, 3].map((seed) => post(g, makeExportRequest({ spans: 50, jobEvery: 10, seed }))),
    );
    expect(statuses).toEqual([200, 200, 200]);
    await down.waitForSpans(150);
    await until(() => g.stats().pendingSpans === 0, "an empty queue");
    expect(new Set(ids(down.spans)).size).toBe(150);
    const jobs = down.spans.filter((s) => s.attributes[sc.ATTR_JOB_NAME]);
    expect(jobs).toHaveLength(15);
    for (const job of jobs) expect(job.attributes[sc.ATTR_CARBON_CO2E_GRAMS]).toBeGreaterThan(0);
    expect(g.stats()).toMatchObject({ forwardedSpans: 150, droppedSpans: 0, retries: 0, enrichedSpans: 15 });
    expect(new Set(down.calls.map((c) => c.peer)).size).toBe(1);
  });

  it("retries UNAVAILABLE with backoff until OK: each span arrives once", async () => {
    const down = await grpcSink({
      answer: (n) => (n < 2 ? { code: grpc.status.UNAVAILABLE, details: "warming up" } : undefined),
    });
    const { g, logs } = await grpcForwarding(down.url);
    expect(await post(g, makeExportRequest({ spans: 20, jobEvery: 5 }))).toBe(200);
    await down.waitForSpans(20);
    await until(() => g.stats().forwardedSpans === 20, "the forwarded count");
    expect(down.calls.map((c) => c.code)).toEqual([
      grpc.status.UNAVAILABLE,
      grpc.status.UNAVAILABLE,
      grpc.status.OK,
    ]);
    expect(new Set(ids(down.spans)).size).toBe(20);
    expect(down.spans).toHaveLength(20);
    expect(g.stats()).toMatchObject({ forwardedSpans: 20, droppedSpans: 0, retries: 2, pendingSpans: 0 });
    expect(logs.some((l) => l.includes("forwarding failed (gRPC UNAVAILABLE: warming up); retrying"))).toBe(
      true,
    );
  });

  it("waits the RetryInfo delay before retrying, and retries RESOURCE_EXHAUSTED only with one", async () => {
    const script: (ScriptedStatus | undefined)[] = [
      { code: grpc.status.UNAVAILABLE, retryDelayMs: 600 },
      { code: grpc.status.RESOURCE_EXHAUSTED, retryDelayMs: 50 },
    ];
    const down = await grpcSink({ answer: (n) => script[n] });
    const { g } = await grpcForwarding(down.url);
    expect(await post(g, makeExportRequest({ spans: 7, seed: 1 }))).toBe(200);
    await down.waitForSpans(7);
    expect(down.calls).toHaveLength(3);
    // Without RetryInfo the first retry waits at most 100 ms (full jitter over [0, 100]).
    expect(down.calls[1]!.at - down.calls[0]!.at).toBeGreaterThanOrEqual(550);
    await until(() => g.stats().forwardedSpans === 7, "the forwarded count");
    expect(g.stats()).toMatchObject({ forwardedSpans: 7, retries: 2, droppedSpans: 0 });

    // RESOURCE_EXHAUSTED without RetryInfo: the request can never fit; dropped, not retried.
    const full = await grpcSink({
      answer: () => ({ code: grpc.status.RESOURCE_EXHAUSTED, details: "too big" }),
    });
    const { g: g2, logs } = await grpcForwarding(full.url);
    expect(await post(g2, makeExportRequest({ spans: 4, seed: 2 }))).toBe(200);
    await until(() => g2.stats().droppedSpans === 4, "the dropped count");
    expect(full.calls).toHaveLength(1);
    expect(g2.stats()).toMatchObject({ forwardedSpans: 0, retries: 0 });
    expect(logs).toContain(
      "downstream refused a batch of 4 spans with gRPC RESOURCE_EXHAUSTED: too big; dropped",
    );
  });

  it("drops a batch the downstream refuses with INVALID_ARGUMENT, without retrying, and goes on", async () => {
    const down = await grpcSink({
      answer: (n) => (n === 0 ? { code: grpc.status.INVALID_ARGUMENT, details: "bad span" } : undefined),
    });
    const { g, logs } = await grpcForwarding(down.url);
    expect(await post(g, makeExportRequest({ spans: 10, seed: 1 }))).toBe(200);
    await until(() => g.stats().droppedSpans === 10, "the dropped count");
    expect(logs).toContain(
      "downstream refused a batch of 10 spans with gRPC INVALID_ARGUMENT: bad span; dropped",
    );
    expect(await post(g, makeExportRequest({ spans: 6, seed: 2 }))).toBe(200);
    await down.waitForSpans(6);
    await until(() => g.stats().forwardedSpans === 6, "the forwarded count");
    expect(down.calls.map((c) => c.code)).toEqual([grpc.status.INVALID_ARGUMENT, grpc.status.OK]);
    expect(g.stats()).toMatchObject({ forwardedSpans: 6, droppedSpans: 10, retries: 0 });
    // The same counters on /metrics (co2e_gateway_spans_total).
    const text = await (await fetch(g.metricsUrl)).text();
    expect(sampleValue(text, sc.PROM_GATEWAY_SPANS, { outcome: "forwarded" })).toBe(6);
    expect(sampleValue(text, sc.PROM_GATEWAY_SPANS, { outcome: "dropped" })).toBe(10);
  });

  it("keeps forwardConcurrency calls in flight, multiplexed on one connection", async () => {
    const down = await grpcSink({ delayMs: 150 });
    const { g } = await grpcForwarding(down.url, { forwardConcurrency: 4, forwardBatchSpans: 10 });
    const statuses = await Promise.all(
      Array.from({ length: 12 }, (_, seed) => post(g, makeExportRequest({ spans: 10, seed }))),
    );
    expect(statuses.every((s) => s === 200)).toBe(true);
    await down.waitForSpans(120);
    expect(down.maxInFlight).toBe(4);
    expect(down.calls).toHaveLength(12);
    expect(new Set(down.calls.map((c) => c.peer)).size).toBe(1);
    expect(new Set(ids(down.spans)).size).toBe(120);
  });
});

describe("gateway: shutdown while forwarding over gRPC", () => {
  it("drains a queue whose downstream answers UNAVAILABLE at first: nothing acknowledged is lost", async () => {
    const down = await grpcSink({
      answer: (n) => (n < 3 ? { code: grpc.status.UNAVAILABLE, retryDelayMs: 200 } : undefined),
    });
    const { g } = await grpcForwarding(down.url, { shutdownTimeoutMs: 5_000 });
    expect(await post(g, makeExportRequest({ spans: 30, jobEvery: 3 }))).toBe(200);
    expect(await g.close()).toBe(true);
    expect(down.spans).toHaveLength(30);
    expect(g.stats()).toMatchObject({ forwardedSpans: 30, droppedSpans: 0, lostAtShutdownSpans: 0 });
  });

  it("reaches a downstream that comes back during the drain", async () => {
    const port = await freePort();
    const { g } = await grpcForwarding(`http://127.0.0.1:${port}`, { shutdownTimeoutMs: 8_000 });
    expect(await post(g, makeExportRequest({ spans: 12 }))).toBe(200);
    // Let the retries fail for a while (connection refused), so the channel is backing off.
    await until(() => g.stats().retries >= 3, "failed attempts");
    await new Promise((r) => setTimeout(r, 1_000));
    const closing = g.close();
    const down = await grpcSink({ port });
    const started = Date.now();
    expect(await closing).toBe(true);
    expect(Date.now() - started).toBeLessThan(7_000);
    expect(down.spans).toHaveLength(12);
    expect(g.stats()).toMatchObject({ forwardedSpans: 12, lostAtShutdownSpans: 0 });
  });

  it("counts and names what a dead downstream leaves at the deadline", async () => {
    const port = await freePort();
    const { g, logs } = await grpcForwarding(`http://127.0.0.1:${port}`, { shutdownTimeoutMs: 1_500 });
    expect(await post(g, makeExportRequest({ spans: 9 }))).toBe(200);
    const started = Date.now();
    expect(await g.close()).toBe(false);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(g.stats()).toMatchObject({ forwardedSpans: 0, lostAtShutdownSpans: 9, droppedSpans: 9 });
    const line = logs.find((l) => l.includes("acknowledged span(s) were not forwarded"));
    expect(line).toContain(`9 acknowledged span(s) were not forwarded to http://127.0.0.1:${port} `);
    expect(line).toMatch(/last attempt: gRPC UNAVAILABLE/);
  });
});

describe("gateway → gateway over gRPC", () => {
  it("enriches job spans once (the first gateway) and counts each job in one gateway only", async () => {
    const end = await sink();
    const second = await gateway({ grpcListen: "127.0.0.1:0", forwardUrl: end.url });
    const { g: first } = await grpcForwarding(`http://${second.grpcAddress}`);
    expect(await post(first, makeExportRequest({ spans: 40, jobEvery: 10, serviceName: "etl" }))).toBe(200);
    await end.waitForSpans(40);
    expect(new Set(ids(end.spans)).size).toBe(40);
    const jobs = end.spans.filter((s) => s.attributes[sc.ATTR_JOB_NAME]);
    expect(jobs).toHaveLength(4);
    for (const job of jobs) {
      expect(job.attributes[sc.ATTR_CARBON_CO2E_GRAMS]).toBeGreaterThan(0);
      // Each attribute once: the second gateway did not add a second set.
      const keys = (job.raw.attributes as { key: string }[]).map((a) => a.key);
      expect(new Set(keys).size).toBe(keys.length);
    }
    // The sink can have them before the first gateway's call to the second has returned.
    await expect.poll(() => first.stats().forwardedSpans).toBe(40);
    expect(first.stats()).toMatchObject({ forwardedSpans: 40, jobSpans: 4, enrichedSpans: 4 });
    expect(second.stats()).toMatchObject({
      receivedSpans: 40,
      jobSpans: 4,
      enrichedSpans: 0,
      grpcCallsByStatus: { OK: 1 },
    });
    const runs = async (g: Gateway) =>
      find(parseExposition(await (await fetch(g.metricsUrl)).text()), sc.PROM_JOB_RUNS, {
        service_name: "etl",
      }).reduce((sum, sample) => sum + sample.value, 0);
    expect((await runs(first)) + (await runs(second))).toBe(4);
  });
});

describe("gateway.forwardProtocol in the config", () => {
  it("rejects an unknown protocol, naming the key", () => {
    expect(() => parseConfig({ gateway: { forwardProtocol: "bogus" } })).toThrow(/gateway\.forwardProtocol/);
  });

  it("with grpc, rejects a forward URL with a path, naming the key", () => {
    expect(() =>
      parseConfig({ gateway: { forwardProtocol: "grpc", forwardUrl: "http://otel:4317/v1/traces" } }),
    ).toThrow(/gateway\.forwardUrl: with forwardProtocol grpc takes no path .*use http:\/\/otel:4317/);
    expect(
      parseConfig({ gateway: { forwardProtocol: "grpc", forwardUrl: "http://otel:4317/" } }).gateway
        .forwardProtocol,
    ).toBe("grpc");
    // The same URL is fine for OTLP/HTTP, the default.
    expect(
      parseConfig({ gateway: { forwardUrl: "http://otel:4318/v1/traces" } }).gateway.forwardProtocol,
    ).toBe("http/protobuf");
  });
});

describe("retryInfoDelayMs", () => {
  const trailers = (bytes: Uint8Array) => {
    const m = new grpc.Metadata();
    m.set("grpc-status-details-bin", Buffer.from(bytes));
    return m;
  };

  it("reads seconds and nanos of the RetryInfo detail", () => {
    expect(retryInfoDelayMs(trailers(statusWithRetryInfo(14, "x", 1_250)))).toBe(1_250);
    expect(retryInfoDelayMs(trailers(statusWithRetryInfo(8, "x", 0)))).toBe(0);
  });

  it("gives undefined for no trailer, garbage, or another detail type", () => {
    expect(retryInfoDelayMs(undefined)).toBeUndefined();
    expect(retryInfoDelayMs(new grpc.Metadata())).toBeUndefined();
    expect(retryInfoDelayMs(trailers(Uint8Array.of(0x1a, 0x7f, 0x01)))).toBeUndefined();
    const other = statusWithRetryInfo(14, "x", 500);
    const text = Buffer.from(other).toString("latin1").replace("RetryInfo", "QuotaFail");
    expect(retryInfoDelayMs(trailers(Buffer.from(text, "latin1")))).toBeUndefined();
  });
});
