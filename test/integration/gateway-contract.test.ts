/**
 * What the gateway promises on the wire and on /metrics, on real servers on 127.0.0.1: error
 * bodies are google.rpc.Status in the request's encoding, the carbon.* attributes it adds are
 * always double_value (the client's own attributes keep their types), co2e_gateway_requests_total
 * counts only the OTLP path, and target_info names the gateway.
 */
import { readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { describe, expect, it } from "vitest";
import { otlpType } from "../../src/gateway/schema.ts";
import type { Gateway } from "../../src/gateway/server.ts";
import * as sc from "../../src/semconv.ts";
import { sampleValue } from "../helpers/exposition.ts";
import { gatewayHarness } from "../helpers/gateway.ts";
import { makeExportRequest, type SinkSpan } from "../helpers/otlp-sink.ts";

const { gateway, sink } = gatewayHarness();

const PROTO = "application/x-protobuf";
const JSON_TYPE = "application/json";

interface Answer {
  status: number;
  contentType: string;
  body: Buffer;
}

async function call(
  g: Gateway,
  path: string,
  init: { method?: string; body?: Uint8Array | string; headers?: Record<string, string> },
): Promise<Answer> {
  const res = await fetch(`${g.url}${path}`, { method: init.method ?? "POST", ...init });
  return {
    status: res.status,
    contentType: res.headers.get("content-type") ?? "",
    body: Buffer.from(await res.arrayBuffer()),
  };
}

/** The Status in an answer, decoded according to the encoding the request used. */
function status(answer: Answer, encoding: "protobuf" | "json"): { code: number; message: string } {
  if (encoding === "json") {
    expect(answer.contentType).toBe(JSON_TYPE);
    return JSON.parse(answer.body.toString("utf8")) as { code: number; message: string };
  }
  expect(answer.contentType).toBe(PROTO);
  const decoded = otlpType("RpcStatus").decode(answer.body) as unknown as { code: number; message: string };
  return { code: decoded.code, message: decoded.message };
}

/** Malformed bodies in each encoding. */
const MALFORMED = { protobuf: Uint8Array.from([0x0a, 0x05, 0x12, 0x10]), json: "{" };
const CONTENT_TYPE = { protobuf: PROTO, json: JSON_TYPE };

describe("gateway error bodies", () => {
  for (const encoding of ["protobuf", "json"] as const) {
    it(`answer 400, 401, 404, 405, 413, 415, 429 and 503 with a google.rpc.Status in ${encoding}`, async () => {
      const ct = { "content-type": CONTENT_TYPE[encoding] };
      const down = await sink({ delayMs: 400 });
      const g = await gateway(
        {
          forwardUrl: down.url,
          forwardQueueSpans: 5,
          forwardConcurrency: 1,
          bodyLimitBytes: 4096,
          bearerTokenEnv: "GW_TOKEN",
          maxConcurrentRequests: 1,
        },
        {},
        { GW_TOKEN: "t" },
      );
      const auth = { ...ct, authorization: "Bearer t" };
      const ok = makeExportRequest({ spans: 5, seed: 1 });
      const expectStatus = async (
        httpStatus: number,
        grpcCode: number,
        message: RegExp,
        answer: Promise<Answer>,
      ) => {
        const a = await answer;
        expect(a.status, a.body.toString()).toBe(httpStatus);
        expect(status(a, encoding), `HTTP ${httpStatus}`).toEqual({
          code: grpcCode,
          message: expect.stringMatching(message),
        });
      };
      await expectStatus(
        400,
        3,
        /malformed|invalid JSON/,
        call(g, "/v1/traces", { body: MALFORMED[encoding], headers: auth }),
      );
      await expectStatus(
        401,
        16,
        /bearer token/,
        call(g, "/v1/traces", { body: MALFORMED[encoding], headers: ct }),
      );
      await expectStatus(404, 5, /POST \/v1\/traces/, call(g, "/nope", { body: "x", headers: auth }));
      await expectStatus(
        405,
        12,
        /use POST/,
        call(g, "/v1/traces", { method: "PUT", body: "x", headers: auth }),
      );
      await expectStatus(
        413,
        8,
        /exceeds gateway.bodyLimitBytes \(4096 bytes\)/,
        call(g, "/v1/traces", { body: new Uint8Array(8192), headers: auth }),
      );
      await expectStatus(
        415,
        3,
        /content-encoding "br"/,
        call(g, "/v1/traces", { body: "x", headers: { ...auth, "content-encoding": "br" } }),
      );
      // Queue of 5 spans, downstream slow: the second batch of 5 does not fit → 503.
      expect(
        (await call(g, "/v1/traces", { body: ok, headers: { ...auth, "content-type": PROTO } })).status,
      ).toBe(200);
      await expectStatus(
        503,
        14,
        /queue full/,
        call(g, "/v1/traces", {
          body:
            encoding === "protobuf" ? makeExportRequest({ spans: 5, seed: 2 }) : JSON.stringify(jsonDoc(5)),
          headers: auth,
        }),
      );
      // Hold the one request slot open with an unfinished chunked body → 429 for the next. (Once the
      // queue has drained: while it is full a request is refused before its body is read.)
      await expect.poll(() => g.stats().pendingSpans).toBe(0);
      const held = httpRequest(`${g.url}/v1/traces`, { method: "POST", headers: auth });
      held.on("error", () => {});
      held.on("response", (r) => r.resume());
      held.write(new Uint8Array(0));
      held.flushHeaders();
      await expect.poll(() => g.stats().inflightRequests).toBe(1);
      await expectStatus(429, 8, /too many concurrent/, call(g, "/v1/traces", { body: "x", headers: auth }));
      held.destroy();
    });
  }

  it("answers in plain text when the request names neither OTLP encoding", async () => {
    const g = await gateway();
    const unknownType = await call(g, "/v1/traces", { body: "x", headers: { "content-type": "text/plain" } });
    expect(unknownType.status).toBe(415);
    expect(unknownType.contentType).toMatch(/^text\/plain/);
    expect(unknownType.body.toString()).toMatch(/application\/x-protobuf or application\/json/);
    const get = await call(g, "/v1/traces", { method: "GET" });
    expect(get.status).toBe(405);
    expect(get.contentType).toMatch(/^text\/plain/);
  });
});

function jsonDoc(spans: number, attributes: unknown[] = []) {
  return {
    resourceSpans: [
      {
        resource: {
          attributes: [
            { key: "service.name", value: { stringValue: "json-svc" } },
            { key: "cloud.provider", value: { stringValue: "aws" } },
          ],
        },
        scopeSpans: [
          {
            spans: Array.from({ length: spans }, (_, i) => ({
              traceId: "0af7651916cd43dd8448eb211c80319c",
              spanId: (i + 1).toString(16).padStart(16, "0"),
              name: `s${i}`,
              startTimeUnixNano: String(BigInt(Date.now() - 60_000) * 1_000_000n),
              endTimeUnixNano: String(BigInt(Date.now()) * 1_000_000n),
              attributes,
            })),
          },
        ],
      },
    ],
  };
}

/** The wire type of each attribute of a forwarded span: "intValue", "doubleValue", … */
function wireTypes(span: SinkSpan): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of span.raw.attributes as { key: string; value: Record<string, unknown> }[]) {
    const field = ["stringValue", "boolValue", "intValue", "doubleValue", "arrayValue"].find(
      (f) => Object.hasOwn(kv.value, f) && kv.value[f] !== undefined && kv.value[f] !== null,
    );
    out[kv.key] = field ?? "none";
  }
  return out;
}

/** Every carbon.* number the gateway added is a double_value; at least one is a whole number. */
function expectCarbonNumbersAreDoubles(span: SinkSpan): void {
  const types = wireTypes(span);
  const carbonNumbers = Object.entries(span.attributes).filter(
    ([key, v]) => key.startsWith("carbon.") && typeof v === "number",
  );
  expect(carbonNumbers.length).toBeGreaterThan(5);
  // carbon.energy.gpu_kwh is 0 without a GPU: a whole number the old encoder wrote as int_value.
  expect(span.attributes[sc.ATTR_CARBON_ENERGY_GPU_KWH]).toBe(0);
  for (const [key] of carbonNumbers) expect(types[key], key).toBe("doubleValue");
}

describe("gateway attribute types on forwarded spans", () => {
  it("adds carbon.* numbers as double_value and leaves the client's types alone (protobuf in)", async () => {
    const down = await sink();
    const g = await gateway({ forwardUrl: down.url });
    const answer = await call(g, "/v1/traces", {
      body: makeExportRequest({ spans: 1, jobEvery: 1 }),
      headers: { "content-type": PROTO },
    });
    expect(answer.status).toBe(200);
    await down.waitForSpans(1);
    const job = down.spans[0]!;
    expectCarbonNumbersAreDoubles(job);
    const types = wireTypes(job);
    // As makeExportRequest sent them.
    expect(types[sc.ATTR_JOB_MEMORY_AVG_BYTES]).toBe("intValue");
    expect(types["http.response.status_code"]).toBe("intValue");
    expect(types[sc.ATTR_JOB_CPU_SECONDS]).toBe("doubleValue");
  });

  it("does the same for a request sent as OTLP JSON", async () => {
    const down = await sink();
    const g = await gateway({ forwardUrl: down.url });
    const doc = jsonDoc(1, [
      { key: sc.ATTR_JOB_NAME, value: { stringValue: "nightly" } },
      { key: sc.ATTR_JOB_CPU_SECONDS, value: { intValue: "30" } },
      { key: sc.ATTR_JOB_FUNCTIONAL_UNITS, value: { intValue: 10 } },
    ]);
    const answer = await call(g, "/v1/traces", {
      body: JSON.stringify(doc),
      headers: { "content-type": JSON_TYPE },
    });
    expect(answer.status).toBe(200);
    await down.waitForSpans(1);
    const job = down.spans[0]!;
    expectCarbonNumbersAreDoubles(job);
    const types = wireTypes(job);
    expect(types[sc.ATTR_JOB_CPU_SECONDS]).toBe("intValue");
    expect(types[sc.ATTR_JOB_FUNCTIONAL_UNITS]).toBe("intValue");
    expect(job.attributes[sc.ATTR_JOB_CPU_SECONDS]).toBe(30);
  });
});

describe("gateway self-metrics", () => {
  it("co2e_gateway_requests_total counts only requests to the OTLP path", async () => {
    const g = await gateway();
    expect((await call(g, "/healthz", { method: "GET" })).status).toBe(200);
    expect((await call(g, "/readyz", { method: "GET" })).status).toBe(200);
    expect((await call(g, "/readyz", { method: "GET" })).status).toBe(200);
    expect((await call(g, "/nope", { method: "GET" })).status).toBe(404);
    expect((await call(g, "/v1/traces", { method: "GET" })).status).toBe(405);
    const ok = await call(g, "/v1/traces", {
      body: makeExportRequest({ spans: 2 }),
      headers: { "content-type": PROTO },
    });
    expect(ok.status).toBe(200);
    const text = await (await fetch(g.metricsUrl)).text();
    expect(sampleValue(text, sc.PROM_GATEWAY_REQUESTS, { code: "200" })).toBe(1);
    expect(sampleValue(text, sc.PROM_GATEWAY_REQUESTS, { code: "405" })).toBe(1);
    expect(sampleValue(text, sc.PROM_GATEWAY_REQUESTS, { code: "404" })).toBeUndefined();
    expect(g.stats().requestsByCode).toEqual({ 200: 1, 405: 1 });
  });

  it("target_info names the gateway: service_name co2e-collector and the package version", async () => {
    const g = await gateway();
    const text = await (await fetch(g.metricsUrl)).text();
    const version = (
      JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }
    ).version;
    const targetInfo = text.split("\n").find((line) => line.startsWith("target_info{"));
    expect(targetInfo).toBeDefined();
    expect(targetInfo).toContain('service_name="co2e-collector"');
    expect(targetInfo).toContain(`service_version="${version}"`);
    expect(targetInfo).not.toContain("unknown_service");
  });
});
