/**
 * Live intensity at span level: the real OTel SDK (TracerProvider, CarbonSpanProcessor first,
 * then SimpleSpanProcessor → InMemorySpanExporter) with the live provider from
 * createIntensityProvider against the Electricity Maps emulator:
 * - 10,000 job spans over 3 zones: every span exported with carbon.intensity.source, at most one
 *   request per zone per TTL;
 * - an outage mid-run (hang, then 500s): no span lost, span.end() never waits on the network,
 *   spans say static with a fallback reason during the outage and electricitymaps after it;
 * - the token is searched for in everything emitted (span attributes, /metrics, logs, console,
 *   `co2e intensity --json` during a fault) and found nowhere.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DiagLogLevel } from "@opentelemetry/api";
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config.ts";
import { createIntensityProvider } from "../../src/intensity/index.ts";
import { LiveIntensityProvider } from "../../src/intensity/live.ts";
import { staticIntensity } from "../../src/intensity/static.ts";
import type { IntensityProvider } from "../../src/intensity/types.ts";
import { createPrometheusMetrics, type PrometheusMetrics } from "../../src/metrics/prometheus.ts";
import { CarbonSpanProcessor } from "../../src/processor/carbon-span-processor.ts";
import * as sc from "../../src/semconv.ts";
import { runCli } from "../helpers/cli.ts";
import { captureDiag } from "../helpers/diag.ts";
import { expectOneRequestPerZonePerTtl } from "../helpers/em-assertions.ts";
import { type Emulator, startEmulator } from "../helpers/em-emulator.ts";

const TOKEN = "spans-tok-3c9a-SECRET-e41f";
const ZONES = ["DE", "FR", "PL"] as const;
const LIVE: Record<string, number> = { DE: 302, FR: 41, PL: 655 };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Everything the process emitted besides spans and /metrics: logger, console, stdio, diag. */
const emitted: string[] = [];
const capture = (msg: string) => emitted.push(msg);
/** Serialised exported spans of every test, searched for the token at the end. */
const spanDumps: string[] = [];
let metricsText = "";
let cliOutput = "";

let em: Emulator;
let prom: PrometheusMetrics;
let dir: string;
const restore: Array<() => void> = [];

/** What an exporter sends of a span (the SDK object itself is circular through its processor). */
function dump(span: ReadableSpan): string {
  return JSON.stringify({
    name: span.name,
    kind: span.kind,
    context: span.spanContext(),
    parent: span.parentSpanContext,
    startTime: span.startTime,
    endTime: span.endTime,
    status: span.status,
    attributes: span.attributes,
    events: span.events,
    links: span.links,
    resource: span.resource.attributes,
    scope: span.instrumentationScope,
  });
}

function setup(intensity: Record<string, unknown>) {
  const config = parseConfig({
    zone: "DE",
    sampler: { intervalMs: 1000 },
    intensity: { provider: "electricitymaps", baseUrl: em.url, retries: 1, ...intensity },
  });
  const provider: IntensityProvider = createIntensityProvider(config, {
    env: { ELECTRICITYMAPS_API_TOKEN: TOKEN },
    observer: prom.metrics.intensityObserver,
    logger: capture,
  });
  expect(provider).toBeInstanceOf(LiveIntensityProvider);
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new TracerProvider({
    spanProcessors: [
      new CarbonSpanProcessor({ config, provider, metrics: prom.metrics, logicalCores: 4 }),
      new SimpleSpanProcessor({ exporter }),
    ],
  });
  const tracer = tracerProvider.getTracer("intensity-spans-test");
  let created = 0;
  const endMs: number[] = [];
  /** One job span in `zone`, started and ended at once; returns how long end() took, ms. */
  function job(zone: string): void {
    const span = tracer.startSpan("nightly-batch", {
      attributes: { [sc.ATTR_JOB_NAME]: "nightly-batch", [sc.ATTR_CARBON_ZONE]: zone },
    });
    created++;
    const t = performance.now();
    span.end();
    endMs.push(performance.now() - t);
  }
  async function close(): Promise<ReadableSpan[]> {
    await tracerProvider.forceFlush();
    const spans = exporter.getFinishedSpans();
    for (const span of spans) spanDumps.push(dump(span));
    await tracerProvider.shutdown();
    await provider.close();
    return spans;
  }
  return { job, close, endMs, created: () => created };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const source = (s: ReadableSpan) => s.attributes[sc.ATTR_CARBON_INTENSITY_SOURCE];
const reason = (s: ReadableSpan) => s.attributes[sc.ATTR_CARBON_INTENSITY_FALLBACK_REASON];
const zoneOf = (s: ReadableSpan) => String(s.attributes[sc.ATTR_CARBON_INTENSITY_ZONE]);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "co2e-intensity-spans-"));
  em = await startEmulator({
    token: TOKEN,
    zones: Object.fromEntries(ZONES.map((z) => [z, { latest: LIVE[z]! }])),
  });
  prom = await createPrometheusMetrics({ host: "127.0.0.1", port: 0, jobNameLimit: 50, warn: capture });
  // Capture console, stdout/stderr and the OTel diag logger (where the processor reports).
  for (const method of ["log", "warn", "error", "info", "debug"] as const) {
    const original = console[method];
    console[method] = (...args: unknown[]) => {
      emitted.push(args.map(String).join(" "));
      original.apply(console, args);
    };
    restore.push(() => {
      console[method] = original;
    });
  }
  for (const stream of [process.stdout, process.stderr]) {
    const original = stream.write;
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      emitted.push(String(chunk));
      return (original as (...a: unknown[]) => boolean).call(stream, chunk, ...rest);
    }) as typeof stream.write;
    restore.push(() => {
      stream.write = original;
    });
  }
  const diagLog = captureDiag(DiagLogLevel.ALL, emitted);
  restore.push(() => diagLog.stop());
});

afterAll(async () => {
  for (const undo of restore.splice(0).reverse()) undo();
  await prom.shutdown();
  await em.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("job spans with live intensity (real SDK, emulator)", () => {
  it("10,000 job spans over 3 zones: all exported with carbon.intensity.source, ≤ one request per zone per TTL", async () => {
    em.resetRequests();
    const ttlMs = 250;
    const run = setup({ cacheTtlSeconds: ttlMs / 1000, timeoutMs: 500 });
    const t0 = Date.now();
    // 100 rounds of 100 spans, ~1.5 s in all, so the cache expires several times.
    for (let round = 0; round < 100; round++) {
      for (let i = 0; i < 100; i++) run.job(ZONES[(round * 100 + i) % 3]!);
      await sleep(10);
    }
    const elapsedMs = Date.now() - t0;
    const spans = await run.close();

    expect(run.created()).toBe(10_000);
    expect(spans).toHaveLength(10_000);
    expect(spans.every((s) => typeof source(s) === "string")).toBe(true);
    expect(spans.every((s) => s.attributes[sc.ATTR_CARBON_ERROR] === undefined)).toBe(true);
    const live = spans.filter((s) => source(s) === sc.INTENSITY_SOURCE.electricityMaps);
    // Only the first spans of each zone, ended before its first answer arrived, may be
    // cache-cold; from then on every span is live.
    expect(live.length).toBeGreaterThan(9_000);
    for (const s of live) expect(s.attributes[sc.ATTR_CARBON_INTENSITY]).toBe(LIVE[zoneOf(s)]);
    for (const zone of ZONES) {
      const ofZone = spans.filter((s) => zoneOf(s) === zone);
      const firstLive = ofZone.findIndex((s) => source(s) === sc.INTENSITY_SOURCE.electricityMaps);
      expect(firstLive).toBeGreaterThanOrEqual(0);
      for (const s of ofZone.slice(0, firstLive)) expect(reason(s)).toBe("cache-cold");
      expect(ofZone.slice(firstLive).every((s) => source(s) === sc.INTENSITY_SOURCE.electricityMaps)).toBe(
        true,
      );
    }
    expectOneRequestPerZonePerTtl(em, ZONES, ttlMs, elapsedMs);
    // Zone-less: the one /zones request of the provider's lifetime.
    expect(em.requests.filter((r) => r.zone === undefined).map((r) => r.endpoint)).toEqual(["zones"]);
    // onEnding only reads memory: end() stays far below any network timeout.
    expect(percentile(run.endMs, 99)).toBeLessThan(1);
    expect(Math.max(...run.endMs)).toBeLessThan(100); // room for a GC pause on a shared machine
    console.log(
      `10k spans: end() p50 ${percentile(run.endMs, 50).toFixed(3)} ms, p99 ${percentile(run.endMs, 99).toFixed(3)} ms, ` +
        `max ${Math.max(...run.endMs).toFixed(2)} ms; ${10_000 - live.length} cache-cold; ` +
        `requests ${em.requests.length} in ${elapsedMs} ms`,
    );
  });

  it("an outage mid-run (hang, then 500s): no span lost, end() never waits, static with a reason, then live again", async () => {
    em.resetRequests();
    const timeoutMs = 300;
    const run = setup({
      cacheTtlSeconds: 0.1,
      timeoutMs,
      breakerFailures: 3,
      breakerResetSeconds: 0.2,
    });
    const phases: Array<{ name: string; ms: number; fault?: () => void }> = [
      { name: "healthy", ms: 500 },
      { name: "hang", ms: 1500, fault: () => em.addFault({ type: "hang" }) },
      { name: "500", ms: 1500, fault: () => em.addFault({ type: "status", status: 500 }) },
      { name: "recovered", ms: 1200 },
    ];
    const ranges: Record<string, [number, number]> = {};
    for (const phase of phases) {
      em.clearFaults();
      phase.fault?.();
      const first = run.created();
      const end = Date.now() + phase.ms;
      while (Date.now() < end) {
        for (const zone of ZONES) for (let i = 0; i < 5; i++) run.job(zone);
        await sleep(5);
      }
      ranges[phase.name] = [first, run.created()];
    }
    em.clearFaults();
    const spans = await run.close();

    // No span lost.
    expect(run.created()).toBeGreaterThan(1000);
    expect(spans).toHaveLength(run.created());
    expect(spans.every((s) => typeof source(s) === "string")).toBe(true);
    // No span delayed: end() never waits for the hanging API (timeout 300 ms).
    expect(percentile(run.endMs, 99)).toBeLessThan(1);
    expect(Math.max(...run.endMs)).toBeLessThan(100); // room for a GC pause on a shared machine
    const phase = (name: string) => spans.slice(...ranges[name]!);
    for (const name of ["hang", "500"]) {
      const tail = phase(name).slice(-100);
      expect(tail).toHaveLength(100);
      for (const s of tail) {
        expect(source(s)).toBe(sc.INTENSITY_SOURCE.static);
        expect(s.attributes[sc.ATTR_CARBON_INTENSITY]).toBe(staticIntensity(zoneOf(s)).gramsPerKwh);
        expect(["timeout", "http-500", "circuit-open", "stale"]).toContain(reason(s));
      }
    }
    expect(phase("hang").some((s) => reason(s) === "timeout")).toBe(true);
    expect(phase("500").some((s) => reason(s) === "http-500" || reason(s) === "circuit-open")).toBe(true);
    for (const s of phase("healthy").slice(-50).concat(phase("recovered").slice(-100))) {
      expect(source(s)).toBe(sc.INTENSITY_SOURCE.electricityMaps);
      expect(s.attributes[sc.ATTR_CARBON_INTENSITY]).toBe(LIVE[zoneOf(s)]);
      expect(reason(s)).toBeUndefined();
    }
    console.log(
      `outage: ${run.created()} spans, end() p99 ${percentile(run.endMs, 99).toFixed(3)} ms, max ${Math.max(...run.endMs).toFixed(2)} ms`,
    );
  });

  it("co2e intensity --json during a fault: static with a reason, exit 0", async () => {
    em.resetRequests();
    em.addFault({ type: "status", status: 500 });
    const configFile = join(dir, "fast.yaml");
    writeFileSync(configFile, "intensity:\n  timeoutMs: 600\n  retries: 1\n");
    const result = await runCli(["intensity", "--zone", "DE", "--json", "--config", configFile], {
      env: { ELECTRICITYMAPS_BASE_URL: em.url, ELECTRICITYMAPS_API_TOKEN: TOKEN },
    });
    em.clearFaults();
    cliOutput = result.stdout + result.stderr;
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      zone: "DE",
      source: "static",
      fallbackReason: "http-500",
    });
    expect(em.requests.some((r) => r.headers["auth-token"] === TOKEN)).toBe(true);
  });

  it("the token appears nowhere: spans, /metrics, logs, console, CLI output", async () => {
    const res = await fetch(prom.url);
    expect(res.status).toBe(200);
    metricsText = await res.text();
    // The scrape saw this run: live and static intensity, and the failed requests of the outage.
    expect(metricsText).toMatch(/co2e_grid_intensity_grams_per_kwh\{[^}]*source="electricitymaps"/);
    expect(metricsText).toMatch(/co2e_grid_intensity_grams_per_kwh\{[^}]*source="static"/);
    expect(metricsText).toMatch(/co2e_intensity_requests_total\{[^}]*outcome="timeout"/);
    expect(metricsText).toMatch(/co2e_intensity_requests_total\{[^}]*outcome="http_error"/);
    expect(metricsText).toMatch(/co2e_job_runs_total\{[^}]*job_name="nightly-batch"/);

    // The token was really in play: sent with every request.
    expect(em.requests.length).toBeGreaterThan(0);
    expect(spanDumps.length).toBeGreaterThan(11_000);
    expect(spanDumps.join("\n")).toContain(sc.ATTR_CARBON_INTENSITY_FALLBACK_REASON);
    expect(cliOutput).toContain("http-500");

    const haystacks: Record<string, string> = {
      spans: spanDumps.join("\n"),
      metrics: metricsText,
      logs: emitted.join("\n"),
      cli: cliOutput,
    };
    for (const [where, text] of Object.entries(haystacks)) {
      expect(text.includes(TOKEN), `token found in ${where}`).toBe(false);
      expect(text.includes(TOKEN.slice(5, 19)), `part of the token found in ${where}`).toBe(false);
    }
  });
});
