/**
 * The OTLP/gRPC receiver as a real @grpc/grpc-js server on 127.0.0.1 with a real downstream sink:
 * raw-bytes calls (so malformed bodies can be sent), gzip, auth, the OTLP status codes, and the
 * OpenTelemetry JS gRPC exporter as a real client.
 */
import { request as httpRequest } from "node:http";
import * as grpc from "@grpc/grpc-js";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-grpc";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import protobuf from "protobufjs";
import { describe, expect, it } from "vitest";
import { TRACE_EXPORT_PATH } from "../../src/gateway/grpc-receiver.ts";
import { otlpType } from "../../src/gateway/schema.ts";
import type { Gateway } from "../../src/gateway/server.ts";
import * as sc from "../../src/semconv.ts";
import { sampleValue } from "../helpers/exposition.ts";
import { gatewayHarness } from "../helpers/gateway.ts";
import { freePort, makeExportRequest } from "../helpers/otlp-sink.ts";

const { cleanups, gateway, sink } = gatewayHarness();

interface CallResult {
  code: grpc.status;
  details: string;
  body: Buffer | undefined;
  trailers: grpc.Metadata | undefined;
}

/** One unary Export call with raw bytes; never rejects (the status is in the result). */
function client(g: Gateway, options: grpc.ClientOptions = {}) {
  const c = new grpc.Client(g.grpcAddress!, grpc.credentials.createInsecure(), options);
  cleanups.push(async () => c.close());
  return (body: Uint8Array, metadata = new grpc.Metadata()): Promise<CallResult> =>
    new Promise((resolve) => {
      const id = (b: Buffer) => b;
      c.makeUnaryRequest(
        TRACE_EXPORT_PATH,
        id,
        id,
        Buffer.from(body),
        metadata,
        { deadline: Date.now() + 10_000 },
        (error, response) => {
          if (error)
            resolve({ code: error.code, details: error.details, body: undefined, trailers: error.metadata });
          else resolve({ code: grpc.status.OK, details: "", body: response, trailers: undefined });
        },
      );
    });
}

const grpcGateway = (gw: Parameters<typeof gateway>[0] = {}, env: NodeJS.ProcessEnv = {}) =>
  gateway({ grpcListen: "127.0.0.1:0", ...gw }, {}, env);

/** google.rpc.Status with its details, to read RetryInfo (googleapis google/rpc/status.proto, error_details.proto). */
const rpc = protobuf.parse(`
syntax = "proto3";
message Duration { int64 seconds = 1; int32 nanos = 2; }
message Any { string type_url = 1; bytes value = 2; }
message Status { int32 code = 1; string message = 2; repeated Any details = 3; }
message RetryInfo { Duration retry_delay = 1; }
`).root;

function retryDelaySeconds(trailers: grpc.Metadata | undefined): number | undefined {
  const raw = trailers?.get("grpc-status-details-bin")[0];
  if (!(raw instanceof Buffer)) return undefined;
  const status = rpc.lookupType("Status").decode(raw) as unknown as {
    details: { typeUrl: string; value: Uint8Array }[];
  };
  const any = status.details.find((d) => d.typeUrl === "type.googleapis.com/google.rpc.RetryInfo");
  if (!any) return undefined;
  const info = rpc.lookupType("RetryInfo").decode(any.value) as unknown as {
    retryDelay: { seconds: { toString(): string } | number };
  };
  return Number(info.retryDelay.seconds.toString());
}

describe("gateway: OTLP/gRPC receiver", () => {
  it("enriches job spans of a gRPC export and forwards every span", async () => {
    const down = await sink();
    const g = await grpcGateway({ forwardUrl: down.url });
    expect(g.grpcAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    const call = client(g);
    const res = await call(makeExportRequest({ spans: 30, jobEvery: 10, serviceName: "grpc-etl" }));
    expect(res.code).toBe(grpc.status.OK);
    expect(res.body).toHaveLength(0); // full success: empty ExportTraceServiceResponse
    await down.waitForSpans(30);
    const jobs = down.spans.filter((s) => s.attributes["job.name"]);
    expect(jobs).toHaveLength(3);
    for (const job of jobs) expect(job.attributes["carbon.co2e.grams"]).toBeGreaterThan(0);
    expect(g.stats()).toMatchObject({ receivedSpans: 30, acceptedSpans: 30, jobSpans: 3, enrichedSpans: 3 });
  });

  it("accepts gzip-compressed messages (grpc-encoding: gzip)", async () => {
    const down = await sink();
    const g = await grpcGateway({ forwardUrl: down.url });
    const call = client(g, { "grpc.default_compression_algorithm": grpc.compressionAlgorithms.gzip });
    expect((await call(makeExportRequest({ spans: 12, jobEvery: 4 }))).code).toBe(grpc.status.OK);
    await down.waitForSpans(12);
    expect(down.spans.filter((s) => s.attributes["carbon.co2e.grams"] !== undefined)).toHaveLength(3);
  });

  it("answers malformed protobuf with INVALID_ARGUMENT naming the problem, and keeps serving", async () => {
    const down = await sink();
    const g = await grpcGateway({ forwardUrl: down.url });
    const call = client(g);
    for (const bad of [
      Uint8Array.of(0x0a, 0x05, 0x01), // length 5, 1 byte present
      Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), // endless varint
      Buffer.from("not protobuf at all"),
    ]) {
      const res = await call(bad);
      expect(res.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(res.details).toMatch(/malformed protobuf at byte \d+/);
    }
    expect((await call(makeExportRequest({ spans: 3 }))).code).toBe(grpc.status.OK);
    await down.waitForSpans(3);
  });

  it("reports spans refused one by one in partial_success", async () => {
    const down = await sink();
    const g = await grpcGateway({ forwardUrl: down.url });
    const Req = otlpType("ExportTraceServiceRequest");
    const span = (traceId: Buffer, name: string) => ({
      traceId,
      spanId: Buffer.from("b7ad6b7169203331", "hex"),
      name,
      startTimeUnixNano: "1",
      endTimeUnixNano: "2",
    });
    const body = Req.encode(
      Req.fromObject({
        resourceSpans: [
          {
            scopeSpans: [
              {
                spans: [
                  span(Buffer.from("0af7651916cd43dd8448eb211c80319c", "hex"), "ok"),
                  span(Buffer.alloc(0), "no-trace-id"),
                ],
              },
            ],
          },
        ],
      }),
    ).finish();
    const res = await client(g)(body);
    expect(res.code).toBe(grpc.status.OK);
    const decoded = otlpType("ExportTraceServiceResponse").decode(res.body!) as unknown as {
      partialSuccess: { rejectedSpans: { toString(): string }; errorMessage: string };
    };
    expect(decoded.partialSuccess.rejectedSpans.toString()).toBe("1");
    expect(decoded.partialSuccess.errorMessage).toMatch(/trace_id/);
    await down.waitForSpans(1);
    expect(down.spans.map((s) => s.name)).toEqual(["ok"]);
  });

  it("checks the bearer token in the authorization metadata", async () => {
    const down = await sink();
    const g = await grpcGateway({ forwardUrl: down.url, bearerTokenEnv: "GW_TOKEN" }, { GW_TOKEN: "s3cret" });
    const call = client(g);
    const body = makeExportRequest({ spans: 2 });
    expect((await call(body)).code).toBe(grpc.status.UNAUTHENTICATED);
    const wrong = new grpc.Metadata();
    wrong.set("authorization", "Bearer nope");
    expect((await call(body, wrong)).code).toBe(grpc.status.UNAUTHENTICATED);
    const right = new grpc.Metadata();
    right.set("authorization", "Bearer s3cret");
    expect((await call(body, right)).code).toBe(grpc.status.OK);
    await down.waitForSpans(2);
    expect(down.spans).toHaveLength(2);
  });

  it("answers UNAVAILABLE with RetryInfo when the forward queue is full, RESOURCE_EXHAUSTED without it when a request can never fit", async () => {
    // A downstream that refuses connections: forwarded batches stay queued and are retried.
    const deadPort = await freePort();
    const g = await grpcGateway({
      forwardUrl: `http://127.0.0.1:${deadPort}/v1/traces`,
      forwardQueueSpans: 30,
      shutdownTimeoutMs: 300,
    });
    const call = client(g);
    expect((await call(makeExportRequest({ spans: 20 }))).code).toBe(grpc.status.OK);
    const full = await call(makeExportRequest({ spans: 20, seed: 2 }));
    expect(full.code).toBe(grpc.status.UNAVAILABLE);
    expect(retryDelaySeconds(full.trailers)).toBe(1);
    const never = await call(makeExportRequest({ spans: 31, seed: 3 }));
    expect(never.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(never.details).toMatch(/more than the queue of 30/);
    expect(retryDelaySeconds(never.trailers)).toBeUndefined();
    expect(g.stats()).toMatchObject({ acceptedSpans: 20, refusedSpans: 51 });
  });

  it("holds gRPC requests to gateway.limits like HTTP ones, and counts calls by status", async () => {
    const down = await sink();
    const g = await grpcGateway({
      forwardUrl: down.url,
      limits: { maxSpansPerRequest: 10, maxAttributesPerSpan: 3 },
    });
    const call = client(g);
    const tooMany = await call(makeExportRequest({ spans: 11 }));
    expect(tooMany.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(tooMany.details).toContain("gateway.limits.maxSpansPerRequest");
    expect(retryDelaySeconds(tooMany.trailers)).toBeUndefined();
    // Job spans carry more than 3 attributes: refused one by one, the others forwarded.
    const res = await call(makeExportRequest({ spans: 10, jobEvery: 5 }));
    expect(res.code).toBe(grpc.status.OK);
    const decoded = otlpType("ExportTraceServiceResponse").decode(res.body!) as unknown as {
      partialSuccess: { rejectedSpans: { toString(): string }; errorMessage: string };
    };
    expect(Number(decoded.partialSuccess.rejectedSpans.toString())).toBeGreaterThan(0);
    expect(decoded.partialSuccess.errorMessage).toContain("gateway.limits.maxAttributesPerSpan");
    expect(g.stats().grpcCallsByStatus).toEqual({ RESOURCE_EXHAUSTED: 1, OK: 1 });
    expect(g.stats().requestsByCode).toEqual({});
    // The same on /metrics, apart from the HTTP answers.
    const text = await (await fetch(g.metricsUrl)).text();
    const grpcCalls = (code: string) => sampleValue(text, sc.PROM_GATEWAY_GRPC_REQUESTS, { grpc_code: code });
    expect(grpcCalls("OK")).toBe(1);
    expect(grpcCalls("RESOURCE_EXHAUSTED")).toBe(1);
    expect(text).not.toContain(`${sc.PROM_GATEWAY_REQUESTS}{`);
  });

  it("shares the request slots with OTLP/HTTP (gateway.maxConcurrentRequests)", async () => {
    const g = await grpcGateway({ maxConcurrentRequests: 1 });
    // An HTTP request whose body never ends holds the only slot.
    const held = httpRequest(`${g.url}/v1/traces`, {
      method: "POST",
      headers: { "content-type": "application/x-protobuf" },
    });
    held.on("error", () => {});
    held.write(makeExportRequest({ spans: 2 }).subarray(0, 10));
    cleanups.push(async () => held.destroy());
    await expect.poll(() => g.stats().inflightRequests).toBe(1);
    const busy = await client(g)(makeExportRequest({ spans: 1 }));
    expect(busy.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(retryDelaySeconds(busy.trailers)).toBe(1);
  });

  it("refuses a message larger than decompressedLimitBytes with RESOURCE_EXHAUSTED", async () => {
    const g = await grpcGateway({ decompressedLimitBytes: 4096 });
    const res = await client(g)(makeExportRequest({ spans: 100 }));
    expect(res.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(g.stats().receivedSpans).toBe(0);
  });

  it("receives from the OpenTelemetry JS OTLP/gRPC exporter (gzip)", async () => {
    const down = await sink();
    const g = await grpcGateway({ forwardUrl: down.url });
    const exporter = new OTLPTraceExporter({ url: `http://${g.grpcAddress}`, compression: "gzip" as never });
    const provider = new TracerProvider({
      resource: resourceFromAttributes({ "service.name": "js-grpc" }),
      spanProcessors: [new BatchSpanProcessor({ exporter })],
    });
    const tracer = provider.getTracer("t");
    const job = tracer.startSpan("train", {
      attributes: { "job.name": "train-model", "job.cpu.seconds": 4 },
    });
    job.end();
    tracer.startSpan("plain").end();
    await provider.forceFlush();
    await provider.shutdown();
    await down.waitForSpans(2);
    const enriched = down.spans.find((s) => s.attributes["job.name"] === "train-model");
    expect(enriched?.attributes["carbon.co2e.grams"]).toBeGreaterThan(0);
    expect(enriched?.resource["service.name"]).toBe("js-grpc");
  });

  it("stops the gRPC listener on close", async () => {
    const g = await grpcGateway();
    const call = client(g);
    expect((await call(makeExportRequest({ spans: 1 }))).code).toBe(grpc.status.OK);
    await g.close();
    expect((await call(makeExportRequest({ spans: 1 }))).code).toBe(grpc.status.UNAVAILABLE);
  });
});
