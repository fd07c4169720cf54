/**
 * Gateway behaviour around enrichment, on real servers on 127.0.0.1: per-span intensity windows
 * and the best-hour counterfactual against the Electricity Maps emulator, spans enriched
 * upstream (forwarded unchanged, counted once or not at all), a bare --forward origin, and the
 * gateway's own metrics on /metrics.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { otlpType } from "../../src/gateway/schema.ts";
import type { Gateway } from "../../src/gateway/server.ts";
import { MAX_JOB_DURATION_MS } from "../../src/gateway/span-timing.ts";
import * as sc from "../../src/semconv.ts";
import { hourlyRows, startEmulator } from "../helpers/em-emulator.ts";
import { sampleValue } from "../helpers/exposition.ts";
import { gatewayHarness } from "../helpers/gateway.ts";
import { makeExportRequest, spansOf } from "../helpers/otlp-sink.ts";

const HOUR_MS = 3_600_000;
const TOKEN = "gw-enrich-token";

const { cleanups, gateway, sink } = gatewayHarness();

type JsonValue = { stringValue: string } | { doubleValue: number } | { boolValue: boolean };

function value(v: string | number | boolean): JsonValue {
  if (typeof v === "string") return { stringValue: v };
  if (typeof v === "boolean") return { boolValue: v };
  return { doubleValue: v };
}

let spanSeq = 0;
/** One OTLP/JSON span; times in epoch ms. */
function span(
  name: string,
  attributes: Record<string, string | number | boolean>,
  startMs: number,
  endMs: number,
) {
  spanSeq++;
  return {
    traceId: "0af7651916cd43dd8448eb211c80319c",
    spanId: spanSeq.toString(16).padStart(16, "0"),
    name,
    startTimeUnixNano: `${BigInt(Math.round(startMs)) * 1_000_000n}`,
    endTimeUnixNano: `${BigInt(Math.round(endMs)) * 1_000_000n}`,
    attributes: Object.entries(attributes).map(([key, v]) => ({ key, value: value(v) })),
  };
}

function request(serviceName: string, spans: ReturnType<typeof span>[]): string {
  return JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: [{ key: "service.name", value: { stringValue: serviceName } }] },
        scopeSpans: [{ spans }],
      },
    ],
  });
}

/** The same request as OTLP protobuf, encoded with the reference schema. */
function protoRequest(serviceName: string, spans: ReturnType<typeof span>[]): Uint8Array {
  const Req = otlpType("ExportTraceServiceRequest");
  const pbSpans = spans.map((s) => ({
    ...s,
    traceId: Buffer.from(s.traceId, "hex"),
    spanId: Buffer.from(s.spanId, "hex"),
  }));
  const message = Req.fromObject({
    resourceSpans: [
      {
        resource: { attributes: [{ key: "service.name", value: { stringValue: serviceName } }] },
        scopeSpans: [{ spans: pbSpans }],
      },
    ],
  });
  return Req.encode(message).finish();
}

async function post(g: Gateway, body: string | Uint8Array): Promise<number> {
  const res = await fetch(`${g.url}/v1/traces`, {
    method: "POST",
    body,
    headers: { "content-type": typeof body === "string" ? "application/json" : "application/x-protobuf" },
  });
  await res.arrayBuffer();
  return res.status;
}

// 1,800 CPU seconds stays plausible for the 1 s spans below: at most (1 s + 1 s slack) × 1,024 cores.
const JOB_INPUTS = { [sc.ATTR_JOB_CPU_SECONDS]: 1800, [sc.ATTR_CARBON_ZONE]: "DE" };

describe("gateway: intensity per span", () => {
  it("gives two job spans of one request at different hours their own intensity and best hour", async () => {
    const nowHour = Math.floor(Date.now() / HOUR_MS) * HOUR_MS;
    const firstRowMs = nowHour - 23 * HOUR_MS;
    // Hour i of the last 24 h has 100 + 10·i g/kWh: every hour differs.
    const values = Array.from({ length: 24 }, (_, i) => 100 + 10 * i);
    const em = await startEmulator({
      token: TOKEN,
      zones: { DE: { history: hourlyRows(values, firstRowMs) } },
    });
    cleanups.push(() => em.close());
    const down = await sink();
    const g = await gateway(
      { forwardUrl: down.url, intensityWaitMs: 5_000 },
      { intensity: { provider: "electricitymaps", baseUrl: em.url, timeoutMs: 3_000, retries: 0 } },
      { ELECTRICITYMAPS_API_TOKEN: TOKEN },
    );
    // Inside hours 5 and 20 (not touching their edges).
    const hour = (i: number) => firstRowMs + i * HOUR_MS;
    const early = span(
      "early",
      { [sc.ATTR_JOB_NAME]: "early", ...JOB_INPUTS },
      hour(5) + 600_000,
      hour(5) + 3_000_000,
    );
    const late = span(
      "late",
      { [sc.ATTR_JOB_NAME]: "late", ...JOB_INPUTS },
      hour(20) + 600_000,
      hour(20) + 3_000_000,
    );
    expect(await post(g, request("etl", [early, late]))).toBe(200);
    await down.waitForSpans(2);
    const byName = Object.fromEntries(down.spans.map((s) => [s.name, s.attributes]));
    expect(byName.early![sc.ATTR_CARBON_INTENSITY_SOURCE]).toBe("electricitymaps");
    expect(byName.early![sc.ATTR_CARBON_INTENSITY]).toBe(150);
    expect(byName.late![sc.ATTR_CARBON_INTENSITY]).toBe(300);
    // Best hour: the lowest row starting within ±12 h of each window, times the job's energy:
    // hour 0 for the early job; hour 9 for the late one (hour 8 starts 12 h 10 min before it).
    const kwh = (a: typeof byName.early) => a![sc.ATTR_CARBON_ENERGY_KWH] as number;
    expect(byName.early![sc.ATTR_CARBON_CO2E_GRAMS_AT_BEST_HOUR]).toBeCloseTo(kwh(byName.early) * 100, 9);
    expect(byName.late![sc.ATTR_CARBON_CO2E_GRAMS_AT_BEST_HOUR]).toBeCloseTo(kwh(byName.late) * 190, 9);
    const text = await (await fetch(g.metricsUrl)).text();
    expect(sampleValue(text, sc.PROM_JOB_CARBON_BEST_HOUR, { job_name: "late" })).toBeCloseTo(
      kwh(byName.late) * 190,
      9,
    );
  });
});

describe("gateway: untrustworthy span timestamps", () => {
  const DAY_MS = 86_400_000;
  const cases = [
    {
      name: "unset-start",
      start: () => 0,
      end: (now: number) => now,
      why: /start_time_unix_nano is unset/,
    },
    { name: "reversed", start: (now: number) => now, end: (now: number) => now - 5_000, why: /before start/ },
    {
      name: "forty-days",
      start: (now: number) => now - 40 * DAY_MS,
      end: (now: number) => now,
      why: /40\.0 days exceeds the limit of 30 days/,
    },
  ];

  for (const encoding of ["json", "protobuf"] as const) {
    it(`${encoding}: marks the span with carbon.error, forwards it, and neither enriches nor counts it`, async () => {
      expect(MAX_JOB_DURATION_MS).toBe(30 * DAY_MS);
      const down = await sink();
      const g = await gateway({ forwardUrl: down.url });
      const now = Date.now();
      const spans = cases.map((c) =>
        span(c.name, { [sc.ATTR_JOB_NAME]: c.name, ...JOB_INPUTS }, c.start(now), c.end(now)),
      );
      spans.push(span("normal", { [sc.ATTR_JOB_NAME]: "normal", ...JOB_INPUTS }, now - 2_000, now));
      const body = encoding === "json" ? request("ts", spans) : protoRequest("ts", spans);
      expect(await post(g, body)).toBe(200);
      await down.waitForSpans(spans.length);
      const byName = Object.fromEntries(down.spans.map((s) => [s.name, s.attributes]));
      for (const c of cases) {
        const attributes = byName[c.name]!;
        expect(attributes[sc.ATTR_CARBON_ERROR]).toMatch(/^invalid span timestamps: /);
        expect(attributes[sc.ATTR_CARBON_ERROR]).toMatch(c.why);
        expect(attributes[sc.ATTR_CARBON_CO2E_GRAMS]).toBeUndefined();
        expect(attributes[sc.ATTR_CARBON_ENERGY_KWH]).toBeUndefined();
      }
      expect(byName.normal![sc.ATTR_CARBON_ERROR]).toBeUndefined();
      expect(byName.normal![sc.ATTR_CARBON_CO2E_GRAMS]).toBeGreaterThan(0);
      const text = await (await fetch(g.metricsUrl)).text();
      for (const c of cases)
        expect(sampleValue(text, sc.PROM_JOB_RUNS, { job_name: c.name })).toBeUndefined();
      expect(sampleValue(text, sc.PROM_JOB_RUNS, { job_name: "normal" })).toBe(1);
      expect(g.stats()).toMatchObject({ jobSpans: 4, enrichedSpans: 1 });
    });
  }

  it("does not count a span enriched upstream whose timestamps are unset", async () => {
    const down = await sink();
    const g = await gateway({ forwardUrl: down.url });
    const now = Date.now();
    const upstream = {
      [sc.ATTR_JOB_NAME]: "upstream",
      [sc.ATTR_CARBON_CO2E_GRAMS]: 2,
      [sc.ATTR_CARBON_INTENSITY_ZONE]: "FR",
      [sc.ATTR_CARBON_INTENSITY_SOURCE]: "static",
    };
    const spans = [
      span("bad", upstream, 0, now),
      span("good", { ...upstream, [sc.ATTR_JOB_NAME]: "ok" }, now - 1_000, now),
    ];
    expect(await post(g, protoRequest("up", spans))).toBe(200);
    await down.waitForSpans(2);
    const byName = Object.fromEntries(down.spans.map((s) => [s.name, s.attributes]));
    expect(byName.bad).toEqual({
      ...upstream,
      [sc.ATTR_CARBON_ERROR]: expect.stringMatching(/^invalid span timestamps: /),
    });
    expect(byName.good).toEqual({ ...upstream, [sc.ATTR_JOB_NAME]: "ok" });
    const text = await (await fetch(g.metricsUrl)).text();
    expect(sampleValue(text, sc.PROM_JOB_RUNS, { job_name: "upstream" })).toBeUndefined();
    expect(sampleValue(text, sc.PROM_JOB_RUNS, { job_name: "ok" })).toBe(1);
  });
});

describe("gateway: spans enriched upstream", () => {
  const enriched = {
    [sc.ATTR_JOB_NAME]: "wrapped",
    [sc.ATTR_JOB_CPU_SECONDS]: 3600,
    [sc.ATTR_JOB_FUNCTIONAL_UNITS]: 4,
    // As `co2e run` in France would have written them: the gateway's zone is DE.
    [sc.ATTR_CARBON_ENERGY_KWH]: 0.05,
    [sc.ATTR_CARBON_ENERGY_CPU_KWH]: 0.04,
    [sc.ATTR_CARBON_ENERGY_MEMORY_KWH]: 0.01,
    [sc.ATTR_CARBON_PUE]: 1,
    [sc.ATTR_CARBON_INTENSITY]: 40,
    [sc.ATTR_CARBON_INTENSITY_ZONE]: "FR",
    [sc.ATTR_CARBON_INTENSITY_SOURCE]: "static",
    [sc.ATTR_CARBON_INTENSITY_METHOD]: "yearly-average",
    [sc.ATTR_CARBON_CO2E_GRAMS]: 2,
    [sc.ATTR_CARBON_EMBODIED_GRAMS]: 0.5,
    [sc.ATTR_CARBON_ATTRIBUTION]: "shared",
    [sc.ATTR_CARBON_MODEL]: "tdp",
  };

  it("forwards them unchanged and counts them once from their own attributes", async () => {
    const down = await sink();
    const g = await gateway({ forwardUrl: down.url });
    const now = Date.now();
    const sent = span("wrapped", enriched, now - 2_000, now);
    expect(await post(g, request("batch", [sent]))).toBe(200);
    await down.waitForSpans(1);
    expect(down.spans[0]!.attributes).toEqual(enriched);
    const text = await (await fetch(g.metricsUrl)).text();
    const job = { job_name: "wrapped", service_name: "batch" };
    expect(
      sampleValue(text, sc.PROM_JOB_RUNS, {
        ...job,
        zone: "FR",
        source: "static",
        attribution: "shared",
        status: "ok",
      }),
    ).toBe(1);
    expect(sampleValue(text, sc.PROM_JOB_CARBON, { ...job, scope: "operational", zone: "FR" })).toBe(2);
    expect(sampleValue(text, sc.PROM_JOB_CARBON, { ...job, scope: "embodied", zone: "FR" })).toBe(0.5);
    expect(sampleValue(text, sc.PROM_JOB_ENERGY, { ...job, component: "cpu" })).toBeCloseTo(0.04 * 3.6e6, 6);
    expect(sampleValue(text, sc.PROM_JOB_FUNCTIONAL_UNITS, job)).toBe(4);
    expect(sampleValue(text, sc.PROM_JOB_RUNS, { zone: "DE" })).toBeUndefined();
    expect(g.stats()).toMatchObject({ jobSpans: 1, enrichedSpans: 0 });
  });

  it("counts nothing for spans whose producer already recorded them", async () => {
    const down = await sink();
    const g = await gateway({ forwardUrl: down.url });
    const now = Date.now();
    const attributes = { ...enriched, [sc.ATTR_CARBON_METRICS_RECORDED]: true };
    const plain = span("plain", { [sc.ATTR_JOB_NAME]: "plain", ...JOB_INPUTS }, now - 1_000, now);
    expect(await post(g, request("sdk", [span("sdk", attributes, now - 2_000, now), plain]))).toBe(200);
    await down.waitForSpans(2);
    const byName = Object.fromEntries(down.spans.map((s) => [s.name, s.attributes]));
    expect(byName.sdk).toEqual(attributes);
    expect(byName.plain![sc.ATTR_CARBON_INTENSITY_ZONE]).toBe("DE");
    const text = await (await fetch(g.metricsUrl)).text();
    expect(sampleValue(text, sc.PROM_JOB_RUNS, { job_name: "wrapped" })).toBeUndefined();
    expect(sampleValue(text, sc.PROM_JOB_RUNS, { job_name: "plain" })).toBe(1);
    expect(g.stats()).toMatchObject({ jobSpans: 2, enrichedSpans: 1 });
  });

  it("forwards, without counting, an enriched span that lacks the figures, and says so once", async () => {
    const down = await sink();
    const logs: string[] = [];
    const g = await gateway({ forwardUrl: down.url }, {}, {}, logs);
    const now = Date.now();
    const broken = { [sc.ATTR_JOB_NAME]: "broken", [sc.ATTR_CARBON_CO2E_GRAMS]: 1 };
    const spans = [span("a", broken, now - 1_000, now), span("b", broken, now - 1_000, now)];
    expect(await post(g, request("x", spans))).toBe(200);
    await down.waitForSpans(2);
    expect(down.spans[0]!.attributes).toEqual(broken);
    expect(logs.filter((l) => l.includes("not counted"))).toHaveLength(1);
    const text = await (await fetch(g.metricsUrl)).text();
    expect(sampleValue(text, sc.PROM_JOB_RUNS, { job_name: "broken" })).toBeUndefined();
  });
});

describe("gateway: forward URL", () => {
  it("posts to /v1/traces when --forward has no path, and logs the URL it uses", async () => {
    const paths: string[] = [];
    let spans = 0;
    // A receiver like the Collector's: 404 anywhere but /v1/traces.
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        paths.push(req.url ?? "");
        if (req.url !== "/v1/traces") {
          res.writeHead(404).end();
          return;
        }
        spans += spansOf(Buffer.concat(chunks)).length;
        res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const logs: string[] = [];
    const g = await gateway({ forwardUrl: origin }, {}, {}, logs);
    expect(g.forwardUrl).toBe(`${origin}/v1/traces`);
    expect(logs).toContain(`forwarding to ${origin}/v1/traces`);
    const res = await fetch(`${g.url}/v1/traces`, {
      method: "POST",
      body: makeExportRequest({ spans: 5 }),
      headers: { "content-type": "application/x-protobuf" },
    });
    expect(res.status).toBe(200);
    await expect.poll(() => g.stats().forwardedSpans).toBe(5);
    expect(spans).toBe(5);
    expect(paths).toEqual(["/v1/traces"]);
    expect(g.stats().droppedSpans).toBe(0);
  });
});

describe("gateway: own metrics on /metrics", () => {
  it("serves co2e_gateway_requests_total, co2e_gateway_spans_total and co2e_gateway_forward_queue_spans", async () => {
    const down = await sink();
    const g = await gateway({ forwardUrl: down.url, forwardQueueSpans: 50 });
    const proto = { "content-type": "application/x-protobuf" };
    const ok = await fetch(`${g.url}/v1/traces`, {
      method: "POST",
      body: makeExportRequest({ spans: 10, jobEvery: 5 }),
      headers: proto,
    });
    expect(ok.status).toBe(200);
    const tooMany = await fetch(`${g.url}/v1/traces`, {
      method: "POST",
      body: makeExportRequest({ spans: 60, seed: 2 }),
      headers: proto,
    });
    expect(tooMany.status).toBe(413);
    const bad = await fetch(`${g.url}/v1/traces`, {
      method: "POST",
      body: "x",
      headers: { "content-type": "text/plain" },
    });
    expect(bad.status).toBe(415);
    await down.waitForSpans(10);
    await expect.poll(() => g.stats().forwardedSpans).toBe(10);
    const text = await (await fetch(g.metricsUrl)).text();
    expect(sampleValue(text, sc.PROM_GATEWAY_REQUESTS, { code: "200" })).toBe(1);
    expect(sampleValue(text, sc.PROM_GATEWAY_REQUESTS, { code: "413" })).toBe(1);
    expect(sampleValue(text, sc.PROM_GATEWAY_REQUESTS, { code: "415" })).toBe(1);
    const spans = (outcome: string) => sampleValue(text, sc.PROM_GATEWAY_SPANS, { outcome });
    expect(spans("received")).toBe(70);
    expect(spans("enriched")).toBe(2);
    expect(spans("forwarded")).toBe(10);
    expect(spans("dropped")).toBe(0);
    expect(spans("rejected")).toBe(60);
    expect(sampleValue(text, sc.PROM_GATEWAY_QUEUE, {})).toBe(0);
    expect(text).toContain(`# TYPE ${sc.PROM_GATEWAY_QUEUE} gauge`);
  });
});
