/**
 * The OTLP codec against the real OTel JS exporters: the exact bytes (and JSON) that
 * @opentelemetry/exporter-trace-otlp-proto / -otlp-http send are captured with a loopback server
 * and decoded by the gateway's scanner and by the reference protobufjs schema; job spans are
 * rewritten with carbon.* attributes and everything else is forwarded byte for byte.
 */
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { OTLPTraceExporter as JsonExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as ProtoExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { SimpleSpanProcessor, type SpanExporter, TracerProvider } from "@opentelemetry/sdk-trace";
import { describe, expect, it } from "vitest";
import { isCo2eError } from "../../src/errors.ts";
import {
  encodeForward,
  encodeResponseJson,
  encodeResponseProto,
  encodeSpanAttributes,
  frameRequest,
} from "../../src/gateway/otlp-encode.ts";
import { jsonToProto } from "../../src/gateway/otlp-json.ts";
import { REJECTED, scanRequest } from "../../src/gateway/otlp-proto.ts";
import { otlpType } from "../../src/gateway/schema.ts";
import { makeExportRequest, plainAttributes, spansOf } from "../helpers/otlp-sink.ts";

interface Captured {
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** Sends a few spans through a real exporter and returns what reached a loopback server. */
async function capture(make: (url: string) => SpanExporter): Promise<Captured> {
  const got: Captured[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      got.push({ headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(200, { "content-type": req.headers["content-type"] ?? "" });
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`;
    const provider = new TracerProvider({
      resource: resourceFromAttributes({
        "service.name": "billing",
        "cloud.provider": "aws",
        "cloud.region": "eu-west-1",
      }),
      spanProcessors: [new SimpleSpanProcessor({ exporter: make(url) })],
    });
    const tracer = provider.getTracer("capture-test", "1.2.3");
    const job = tracer.startSpan("nightly-report", {
      kind: SpanKind.INTERNAL,
      attributes: {
        "job.name": "nightly-report",
        "job.cpu.seconds": 12.5,
        "job.memory.avg_bytes": 2 * 1024 ** 3,
        "job.functional_units": 40,
        "carbon.energy.kwh": -1, // stale value from a client: must be replaced, not duplicated
        tags: ["a", "b"],
        flag: true,
      },
    });
    job.addEvent("checkpoint", { step: 3 });
    job.setStatus({ code: SpanStatusCode.ERROR, message: "partial failure" });
    job.end();
    const plain = tracer.startSpan("GET /health", {
      kind: SpanKind.SERVER,
      attributes: { "http.response.status_code": 200, ratio: 0.25 },
      links: [{ context: job.spanContext(), attributes: { why: "follows" } }],
    });
    plain.end();
    await provider.forceFlush();
    await provider.shutdown();
  } finally {
    server.close();
  }
  expect(got.length).toBeGreaterThan(0);
  // SimpleSpanProcessor sends one request per span: merge them into one request.
  return { headers: got[0]!.headers, body: Buffer.concat(got.map((g) => g.body)) };
}

/** JSON with byte arrays as hex, whether protobufjs gave a Buffer or a Uint8Array. */
function normalise(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v instanceof Uint8Array
      ? Buffer.from(v).toString("hex")
      : (v as { type?: string })?.type === "Buffer"
        ? Buffer.from((v as { data: number[] }).data).toString("hex")
        : v,
  );
}

async function captureMany(make: (url: string) => SpanExporter): Promise<Captured> {
  return capture(make);
}

describe("OTLP protobuf from @opentelemetry/exporter-trace-otlp-proto", () => {
  it("decodes the exporter's exact bytes (sent chunked) with the scanner and the reference schema", async () => {
    const { headers, body } = await captureMany((url) => new ProtoExporter({ url }));
    expect(headers["content-type"]).toBe("application/x-protobuf");
    expect(headers["content-length"]).toBeUndefined(); // the reason limits are enforced while reading
    const req = scanRequest(body);
    expect(req.spanCount).toBe(2);
    expect(req.rejectedSpans).toBe(0);
    expect(req.jobSpans).toHaveLength(1);
    const job = req.jobSpans[0]!;
    expect(job.attributes).toMatchObject({
      "job.name": "nightly-report",
      "job.cpu.seconds": 12.5,
      "job.memory.avg_bytes": 2 * 1024 ** 3,
      tags: ["a", "b"],
      flag: true,
    });
    expect(job.isError).toBe(true);
    expect(job.endMs).toBeGreaterThanOrEqual(job.startMs);
    expect(Math.abs(job.endMs - Date.now())).toBeLessThan(60_000);
    // The reference schema agrees on every span.
    const ref = spansOf(body);
    expect(ref.map((s) => s.name).sort()).toEqual(["GET /health", "nightly-report"]);
    expect(ref.find((s) => s.name === "nightly-report")!.resource["cloud.region"]).toBe("eu-west-1");
  });

  it("forwards unchanged requests byte for byte and rewrites only the job span", async () => {
    const { body } = await captureMany((url) => new ProtoExporter({ url }));
    const untouched = scanRequest(body);
    untouched.jobSpans.length = 0;
    for (const rs of untouched.resources) for (const s of rs.scopes) s.special.clear();
    expect(Buffer.from(frameRequest(encodeForward(untouched))).equals(body)).toBe(true);

    const req = scanRequest(body);
    req.jobSpans[0]!.added = {
      "carbon.energy.kwh": 0.5,
      "carbon.intensity.zone": "IE",
      "carbon.model": "tdp",
    };
    const out = frameRequest(encodeForward(req));
    const before = spansOf(body);
    const after = spansOf(out);
    expect(after).toHaveLength(2);
    const plainBefore = before.find((s) => s.name === "GET /health")!;
    const plainAfter = after.find((s) => s.name === "GET /health")!;
    expect(Buffer.from(plainAfter.bytes).equals(Buffer.from(plainBefore.bytes))).toBe(true);
    const job = after.find((s) => s.name === "nightly-report")!;
    expect(job.attributes["carbon.energy.kwh"]).toBe(0.5);
    expect(job.attributes["carbon.intensity.zone"]).toBe("IE");
    expect(job.attributes["job.cpu.seconds"]).toBe(12.5);
    const keys = (job.raw.attributes as { key: string }[]).map((kv) => kv.key);
    expect(keys.filter((k) => k === "carbon.energy.kwh")).toHaveLength(1);
    // Everything but the attributes is as received (ids, times, events, status).
    const jobBefore = before.find((s) => s.name === "nightly-report")!;
    for (const field of [
      "traceId",
      "spanId",
      "startTimeUnixNano",
      "endTimeUnixNano",
      "events",
      "status",
      "kind",
    ]) {
      expect(normalise(job.raw[field])).toBe(normalise(jobBefore.raw[field]));
    }
  });

  it("writes every added number as double_value (carbon.* are doubles), whole or not", () => {
    const bytes = encodeSpanAttributes({
      s: "ü",
      i: 3,
      zero: 0,
      d: 0.5,
      b: false,
      n: -2,
      big: 2 ** 60,
      arr: [1, 2],
    });
    const Span = otlpType("Span");
    // fields 9 alone form a valid Span message
    const decoded = Span.decode(bytes) as unknown as {
      attributes: { key: string; value: Record<string, unknown> }[];
    };
    const byKey = Object.fromEntries(decoded.attributes.map((kv) => [kv.key, kv.value]));
    for (const key of ["i", "zero", "d", "n", "big"]) {
      expect(Object.hasOwn(byKey[key]!, "doubleValue"), key).toBe(true);
      expect(Object.hasOwn(byKey[key]!, "intValue"), key).toBe(false);
    }
    const arr = byKey.arr!.arrayValue as { values: Record<string, unknown>[] };
    expect(arr.values.every((v) => Object.hasOwn(v, "doubleValue"))).toBe(true);
    expect(Object.hasOwn(byKey.b!, "boolValue")).toBe(true);
    expect(Object.hasOwn(byKey.s!, "stringValue")).toBe(true);
    expect(plainAttributes(decoded.attributes as never)).toEqual({
      s: "ü",
      i: 3,
      zero: 0,
      d: 0.5,
      b: false,
      n: -2,
      big: 2 ** 60,
      arr: [1, 2],
    });
  });
});

describe("OTLP JSON from @opentelemetry/exporter-trace-otlp-http", () => {
  it("converts the exporter's JSON into the same spans as protobuf", async () => {
    const { headers, body } = await captureMany((url) => new JsonExporter({ url }));
    expect(headers["content-type"]).toContain("application/json");
    // Several JSON documents were concatenated by capture(); convert each.
    const docs = body
      .toString("utf8")
      .split(/(?<=\})(?=\{"resourceSpans")/)
      .map((text) => jsonToProto(text));
    const spans = docs.flatMap((d) => spansOf(d));
    expect(spans.map((s) => s.name).sort()).toEqual(["GET /health", "nightly-report"]);
    const job = spans.find((s) => s.name === "nightly-report")!;
    expect(job.attributes["job.memory.avg_bytes"]).toBe(2 * 1024 ** 3);
    expect(job.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(job.resource["service.name"]).toBe("billing");
    const req = scanRequest(docs.find((d) => scanRequest(d).jobSpans.length)!);
    expect(req.jobSpans[0]!.isError).toBe(true);
  });

  it("accepts int64 as string or number and rejects bad ids per span, not per request", () => {
    const now = Date.now() * 1e6;
    const doc = {
      resourceSpans: [
        {
          resource: { attributes: [{ key: "service.name", value: { stringValue: "py" } }] },
          scopeSpans: [
            {
              scope: { name: "s" },
              spans: [
                {
                  traceId: "0af7651916cd43dd8448eb211c80319c",
                  spanId: "b7ad6b7169203331",
                  name: "a",
                  startTimeUnixNano: String(now),
                  endTimeUnixNano: now,
                  attributes: [
                    { key: "job.name", value: { stringValue: "j" } },
                    { key: "n", value: { intValue: "42" } },
                  ],
                },
                { traceId: "xyz", spanId: "b7ad6b7169203331", name: "bad-trace" },
                {
                  traceId: "0af7651916cd43dd8448eb211c80319c",
                  spanId: "0000000000000000",
                  name: "zero-span",
                },
              ],
            },
          ],
        },
      ],
    };
    const req = scanRequest(jsonToProto(JSON.stringify(doc)));
    expect(req.spanCount).toBe(3);
    expect(req.rejectedSpans).toBe(2);
    expect(req.jobSpans[0]!.attributes.n).toBe(42);
    expect(req.resources[0]!.scopes[0]!.special.get(1)).toBe(REJECTED);
    const out = spansOf(frameRequest(encodeForward(req)));
    expect(out.map((s) => s.name)).toEqual(["a"]);
  });

  it("names the JSON path of a type error", () => {
    expect(() => jsonToProto('{"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":"SERVER"}]}]}]}')).toThrow(
      /resourceSpans\[0\]\.scopeSpans\[0\]\.spans\[0\]\.kind/,
    );
    expect(() => jsonToProto("{not json")).toThrow(/invalid JSON/);
  });
});

describe("malformed protobuf", () => {
  it("reports the byte offset and field of every truncation, never crashes", () => {
    const bytes = makeExportRequest({ spans: 4, jobEvery: 2 });
    let errors = 0;
    for (let cut = 1; cut < bytes.length; cut++) {
      try {
        scanRequest(bytes.subarray(0, cut));
      } catch (error) {
        expect(isCo2eError(error, "CO2E_ERR_OTLP_DECODE")).toBe(true);
        expect((error as Error).message).toMatch(/^malformed protobuf at byte \d+ \(/);
        errors++;
      }
    }
    // One ResourceSpans: every cut inside it is an error.
    expect(errors).toBe(bytes.length - 1);
  });

  it("rejects wrong wire types with the field name", () => {
    // resource_spans (field 1) sent as a varint
    expect(() => scanRequest(Uint8Array.from([0x08, 0x01]))).toThrow(
      /\(resource_spans\): wire type 0, expected 2/,
    );
    // a span whose start time is a string
    const span = Uint8Array.from([0x3a, 0x01, 0x41]);
    const scope = Uint8Array.from([0x12, span.length, ...span]);
    const rs = Uint8Array.from([0x12, scope.length, ...scope]);
    expect(() => scanRequest(Uint8Array.from([0x0a, rs.length, ...rs]))).toThrow(
      /start_time_unix_nano\): wire type 2/,
    );
  });
});

describe("ExportTraceServiceResponse", () => {
  it("is empty on success and carries partial_success otherwise, in both encodings", () => {
    expect(encodeResponseProto(0, "")).toHaveLength(0);
    expect(encodeResponseJson(0, "")).toBe("{}");
    const Res = otlpType("ExportTraceServiceResponse");
    const decoded = Res.toObject(Res.decode(encodeResponseProto(3, "invalid trace_id")), { longs: String });
    expect(decoded).toEqual({ partialSuccess: { rejectedSpans: "3", errorMessage: "invalid trace_id" } });
    expect(JSON.parse(encodeResponseJson(3, "x"))).toEqual({
      partialSuccess: { rejectedSpans: "3", errorMessage: "x" },
    });
  });
});

describe("job span detection in the scanner", () => {
  it("follows isJobSpan: only a string job.name makes a job span", () => {
    const doc = (value: Record<string, unknown>) =>
      JSON.stringify({
        resourceSpans: [
          {
            scopeSpans: [
              {
                spans: [
                  {
                    traceId: "0af7651916cd43dd8448eb211c80319c",
                    spanId: "b7ad6b7169203331",
                    name: "s",
                    attributes: [{ key: "job.name", value }],
                  },
                ],
              },
            ],
          },
        ],
      });
    expect(scanRequest(jsonToProto(doc({ stringValue: "nightly" }))).jobSpans).toHaveLength(1);
    for (const value of [{ intValue: "7" }, { boolValue: true }, { arrayValue: { values: [] } }]) {
      const req = scanRequest(jsonToProto(doc(value)));
      expect(req.jobSpans, JSON.stringify(value)).toHaveLength(0);
      expect(req.spanCount).toBe(1);
    }
  });
});
