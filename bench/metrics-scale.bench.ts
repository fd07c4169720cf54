/**
 * /metrics for a fleet: 200 jobs × 20 services (4,000 job × service pairs, one zone each) and
 * 500 × 20 (10,000 pairs), one run each, in two layouts built in this run:
 *   before — the old layout: duration and per-run histograms per job × service with the old
 *            buckets (20 and 22 bounds), rendered by the exporter's one-shot handler;
 *   after  — histograms per job_name with the 1-3 buckets (histogram-layout.ts), rendered in
 *            slices (exposition.ts).
 * Per layout: samples, bytes and render time per scrape (collect + serialize, median of 5), and
 * the longest event-loop stall during a render. Then a real gateway (startGateway) filled with
 * the 4,000-pair fleet over OTLP/JSON (in a child process), a client in a worker thread posting
 * 100 small OTLP requests per second, and its p99 latency without scrapes and during scrapes (a
 * second worker scraping /metrics every second, 15 × Prometheus' default rate), plus the longest
 * event-loop stall of the gateway in each phase.
 * Targets at 4,000 pairs (after): ≤ 40,000 samples, ≤ 5 MB, ≤ 100 ms render, and client p99 with
 * scrapes ≤ 50 ms above its p99 without.
 */
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import type { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import { AggregationType, MeterProvider, type ViewOptions } from "@opentelemetry/sdk-metrics";
import { parseConfig } from "../src/config.ts";
import type { JobRecord } from "../src/core/job-record.ts";
import { startGateway } from "../src/gateway/server.ts";
import { type CarbonMetrics, createCarbonMetrics } from "../src/metrics/carbon-metrics.ts";
import { SlicedExposition } from "../src/metrics/exposition.ts";
import { createPrometheusReader, serveMetrics } from "../src/metrics/prometheus.ts";
import { CARBON_METER_NAME, carbonMetricViews } from "../src/metrics/views.ts";
import * as sc from "../src/semconv.ts";
import { jobRecord } from "../test/helpers/job-record.ts";

const TARGET_SAMPLES = 40_000;
const TARGET_BYTES = 5 * 1024 * 1024;
const TARGET_RENDER_MS = 100;
const TARGET_P99_EXTRA_MS = 50;
const SERVICES = 20;
/** Rounds of (quiet phase, scraped phase), PHASE_MS each. */
const ROUNDS = 5;
const PHASE_MS = 2_500;
/** Scrape interval under load: 15 × as often as Prometheus' default of 15 s. */
const SCRAPE_EVERY_MS = 1_000;
/** The client's request interval: 100 OTLP requests per second. */
const CLIENT_EVERY_MS = 10;

/** The layout before histograms were per job_name: these bounds, per job × service. */
const OLD_BUCKETS: Record<string, number[]> = {
  [sc.METRIC_JOB_CARBON_PER_RUN_INSTRUMENT]: [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500,
    5000, 10000,
  ],
  [sc.METRIC_JOB_DURATION_INSTRUMENT]: [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600,
  ],
};

type Layout = "before" | "after";

interface Built {
  exporter: PrometheusExporter;
  metrics: CarbonMetrics;
  provider: MeterProvider;
}

/** A MeterProvider + exporter + our instruments in one of the two layouts. */
function build(layout: Layout, jobNameLimit: number): Built {
  const exporter = createPrometheusReader();
  const views: ViewOptions[] = carbonMetricViews(jobNameLimit).map((view) => {
    const boundaries = view.instrumentName ? OLD_BUCKETS[view.instrumentName] : undefined;
    return layout === "before" && boundaries
      ? { ...view, aggregation: { type: AggregationType.EXPLICIT_BUCKET_HISTOGRAM, options: { boundaries } } }
      : view;
  });
  const provider = new MeterProvider({ readers: [exporter], views });
  const metrics = createCarbonMetrics(provider.getMeter(CARBON_METER_NAME), {
    jobNameLimit,
    fullHistograms: layout === "before" ? ["*"] : [],
    warn: (msg) => console.log(`  warning: ${msg}`),
  });
  return { exporter, metrics, provider };
}

function fleetRecord(job: number, service: number, run: number): JobRecord {
  // Spread over the ranges that occur: 10 ms … 1 h, 10 µg … 10 kg.
  const durationSeconds = 0.01 * 10 ** (((job * 7 + run) % 25) / 4);
  const grams = 1e-5 * 10 ** (((job * 3 + service + run) % 36) / 4);
  return jobRecord({ jobName: `job-${job}`, serviceName: `service-${service}`, durationSeconds }, grams);
}

function samplesOf(text: string): number {
  let n = 0;
  for (const line of text.split("\n")) if (line !== "" && !line.startsWith("#")) n++;
  return n;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** The exporter's one-shot path: what its request handler does (collect, then serialize at once). */
async function renderOneShot(exporter: PrometheusExporter): Promise<string> {
  const { resourceMetrics } = await exporter.collect();
  return (
    exporter as unknown as { _serializer: { serialize(r: typeof resourceMetrics): string } }
  )._serializer.serialize(resourceMetrics);
}

interface RenderResult {
  samples: number;
  bytes: number;
  renderMs: number;
  stallMs: number;
}

async function measureRender(render: () => Promise<string>): Promise<RenderResult> {
  let text = await render(); // warm-up
  const times: number[] = [];
  const stalls: number[] = [];
  for (let i = 0; i < 5; i++) {
    (globalThis as { gc?: () => void }).gc?.();
    // The longest gap between two turns of the event loop while the render runs.
    let last = performance.now();
    let stall = 0;
    let rendering = true;
    const tick = () => {
      const now = performance.now();
      stall = Math.max(stall, now - last);
      last = now;
      if (rendering) setImmediate(tick);
    };
    setImmediate(tick);
    const start = performance.now();
    text = await render();
    times.push(performance.now() - start);
    await new Promise((r) => setImmediate(r));
    rendering = false;
    stalls.push(stall);
  }
  return {
    samples: samplesOf(text),
    bytes: Buffer.byteLength(text),
    renderMs: median(times),
    stallMs: median(stalls),
  };
}

function fmt(r: RenderResult): string {
  return (
    `${r.samples.toLocaleString("en-US").padStart(9)} samples ${(r.bytes / 1e6).toFixed(2).padStart(7)} MB ` +
    `${r.renderMs.toFixed(1).padStart(8)} ms render ${r.stallMs.toFixed(1).padStart(7)} ms max stall`
  );
}

// ---------------------------------------------------------------------------------------------
// Part 2: a real gateway under OTLP load. The gateway runs in a child process of its own (a fresh
// heap, as `co2e collector` has); the client and the scraper each run in a worker thread here, so
// neither waits for the other. Times are wall-clock (timeOrigin + now) to match them up across
// threads: "during scrapes" is every client request that overlaps a scrape.

interface WorkerData {
  kind: "client" | "scraper";
  url: string;
  ms: number;
}

/** [start, end] wall-clock ms of each request. */
type Spans = Array<[number, number]>;

const wallNow = () => performance.timeOrigin + performance.now();

function otlpJson(service: string, jobs: number[], runSeed: number): string {
  const now = BigInt(Date.now()) * 1_000_000n;
  const spans = jobs.map((job, i) => ({
    traceId: (runSeed * 1_000_003 + i + 1).toString(16).padStart(32, "0"),
    spanId: (runSeed * 10_007 + i + 1).toString(16).padStart(16, "0"),
    name: "job",
    kind: 1,
    startTimeUnixNano: (now - 2_000_000_000n).toString(),
    endTimeUnixNano: now.toString(),
    attributes: [
      { key: sc.ATTR_JOB_NAME, value: { stringValue: `job-${job}` } },
      { key: sc.ATTR_JOB_CPU_SECONDS, value: { doubleValue: 0.5 + (job % 10) } },
      { key: sc.ATTR_CARBON_ZONE, value: { stringValue: "DE" } },
    ],
    status: { code: 0 },
  }));
  return JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: [{ key: "service.name", value: { stringValue: service } }] },
        scopeSpans: [{ scope: { name: "bench" }, spans }],
      },
    ],
  });
}

async function postJson(url: string, body: string): Promise<number> {
  const res = await fetch(`${url}/v1/traces`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
  });
  await res.arrayBuffer();
  return res.status;
}

/**
 * Small OTLP requests at a fixed rate (open loop: one every CLIENT_EVERY_MS whether or not the
 * last one has been answered), each one job span of an existing pair (no new series). Latency
 * counts from the scheduled send time, so a stall delays every request scheduled during it, as it
 * would for a fleet of independent clients, not just the one request a closed-loop client has out.
 */
async function clientLoop(url: string, ms: number): Promise<Spans> {
  const spans: Spans = [];
  const pending: Promise<void>[] = [];
  const start = wallNow();
  for (let n = 0; n * CLIENT_EVERY_MS < ms; n++) {
    const scheduled = start + n * CLIENT_EVERY_MS;
    const wait = scheduled - wallNow();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const body = otlpJson(`service-${n % SERVICES}`, [n % 200], 1_000_000 + n);
    pending.push(
      postJson(url, body).then((status) => {
        spans.push([scheduled, wallNow()]);
        if (status !== 200) throw new Error(`client got HTTP ${status}`);
      }),
    );
  }
  await Promise.all(pending);
  return spans;
}

/** GET /metrics every SCRAPE_EVERY_MS (or back to back when slower) for `ms`. */
async function scrapeLoop(url: string, ms: number): Promise<Spans> {
  const spans: Spans = [];
  const until = performance.now() + ms;
  while (performance.now() < until) {
    const start = wallNow();
    const res = await fetch(url);
    await res.arrayBuffer();
    const end = wallNow();
    spans.push([start, end]);
    if (res.status !== 200) throw new Error(`scrape got HTTP ${res.status}`);
    await new Promise((r) => setTimeout(r, Math.max(0, SCRAPE_EVERY_MS - (end - start))));
  }
  return spans;
}

function runWorker(kind: WorkerData["kind"], url: string, ms: number): Promise<Spans> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), {
      workerData: { kind, url, ms } satisfies WorkerData,
    });
    worker.once("message", resolve);
    worker.once("error", reject);
  });
}

/** The child: a gateway recording into `layout`'s metrics, /metrics served the layout's way. */
async function serveGateway(layout: Layout): Promise<void> {
  const built = build(layout, 200);
  const config = parseConfig({
    zone: "DE",
    // The open-loop client keeps sending through a stall (the before layout stalls ≈ 0.6 s at
    // 100 requests/s): room for all of them, so latency is what is measured, not 429s.
    gateway: {
      listen: "127.0.0.1:0",
      metricsListen: "127.0.0.1:0",
      intensityWaitMs: 50,
      maxConcurrentRequests: 1024,
    },
  });
  const gateway = await startGateway(config, { env: {}, log: () => {}, metrics: built.metrics });
  let metricsUrl: string;
  if (layout === "before") {
    // What the exporter's own handler does: collect, then serialize everything at once.
    const server = createServer((req, res) => built.exporter.getMetricsRequestHandler(req, res));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    metricsUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
  } else metricsUrl = (await serveMetrics(built.exporter, "127.0.0.1", 0)).url;
  // Event-loop gaps over 2 ms, [wall-clock end, length], for the parent to match with its phases.
  const gaps: Spans = [];
  let last = performance.now();
  setInterval(() => {
    const now = performance.now();
    if (now - last > 2) gaps.push([wallNow(), now - last]);
    last = now;
  }, 1);
  console.log(JSON.stringify({ otlpUrl: gateway.url, metricsUrl }));
  // "gaps" on stdin: print them; end of stdin: exit.
  process.stdin.on("data", () => console.log(JSON.stringify(gaps)));
  process.stdin.once("end", () => process.exit(0));
}

type RoundResult = Omit<LoadResult, "extras">;

interface LoadResult {
  p99Quiet: number;
  p99During: number;
  during: number;
  scrapes: number;
  scrapeMs: number;
  /** Longest event-loop stall of the gateway without and with scrapes, ms. */
  stallQuiet: number;
  stallDuring: number;
  /** p99 during scrapes − p99 without, per round. */
  extras: number[];
}

async function measureLoad(layout: Layout): Promise<LoadResult> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), "--serve", layout], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  try {
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    const exited = new Promise<never>((_, reject) =>
      child.once("exit", (code) => reject(new Error(`gateway child exited ${code}`))),
    );
    /** The child's next stdout line. */
    const nextLine = async (): Promise<string> => {
      for (;;) {
        const end = out.indexOf("\n");
        if (end >= 0) {
          const line = out.slice(0, end);
          out = out.slice(end + 1);
          return line;
        }
        await Promise.race([exited, new Promise((r) => setTimeout(r, 10))]);
      }
    };
    const line = await nextLine();
    const { otlpUrl, metricsUrl } = JSON.parse(line) as { otlpUrl: string; metricsUrl: string };
    // The fleet: every service runs every job once.
    const jobs = Array.from({ length: 200 }, (_, j) => j);
    for (let s = 0; s < SERVICES; s++) {
      const status = await postJson(otlpUrl, otlpJson(`service-${s}`, jobs, s + 1));
      if (status !== 200) throw new Error(`fill got HTTP ${status}`);
    }
    const text = await fetch(metricsUrl).then((r) => r.text());
    const pairs = new Set(
      text
        .split("\n")
        .filter((l) => l.startsWith(`${sc.PROM_JOB_RUNS}{`))
        .map((l) => /job_name="([^"]*)".*service_name="([^"]*)"/.exec(l)?.slice(1).join("/")),
    ).size;
    if (pairs !== 200 * SERVICES) throw new Error(`fleet has ${pairs} pairs, expected ${200 * SERVICES}`);

    await runWorker("client", otlpUrl, 1_000); // warm-up: JIT, connection pool
    // Quiet and scraped phases alternate, so that CPU taken by other processes on the machine
    // falls on both alike; each figure is the median over the rounds.
    const rounds: RoundResult[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const quietFrom = wallNow();
      const quiet = await runWorker("client", otlpUrl, PHASE_MS);
      const quietTo = wallNow();
      const [loaded, scrapes] = await Promise.all([
        runWorker("client", otlpUrl, PHASE_MS),
        runWorker("scraper", metricsUrl, PHASE_MS),
      ]);
      child.stdin.write("gaps\n");
      const gaps = JSON.parse(await nextLine()) as Spans;
      const longest = (from: number, to: number) =>
        Math.max(0, ...gaps.filter(([end]) => end >= from && end <= to).map(([, gap]) => gap));
      const during = loaded
        .filter(([start, end]) => scrapes.some(([s, e]) => start < e && end > s))
        .map(([start, end]) => end - start);
      rounds.push({
        p99Quiet: quantile(
          quiet.map(([s, e]) => e - s),
          0.99,
        ),
        p99During: during.length ? quantile(during, 0.99) : Number.NaN,
        during: during.length,
        scrapes: scrapes.length,
        scrapeMs: median(scrapes.map(([s, e]) => e - s)),
        stallQuiet: longest(quietFrom, quietTo),
        stallDuring: longest(scrapes[0]![0], scrapes.at(-1)![1]),
      });
    }
    const mid = (key: keyof RoundResult) => median(rounds.map((r) => r[key]));
    return {
      p99Quiet: mid("p99Quiet"),
      p99During: mid("p99During"),
      during: rounds.reduce((n, r) => n + r.during, 0),
      scrapes: rounds.reduce((n, r) => n + r.scrapes, 0),
      scrapeMs: mid("scrapeMs"),
      stallQuiet: mid("stallQuiet"),
      stallDuring: mid("stallDuring"),
      extras: rounds.map((r) => r.p99During - r.p99Quiet),
    };
  } finally {
    child.stdin.end();
    child.kill();
  }
}

async function main(): Promise<void> {
  let ok = true;
  const fleets = [
    { jobs: 200, label: "4,000 pairs (200 jobs × 20 services)" },
    { jobs: 500, label: "10,000 pairs (500 jobs × 20 services)" },
  ];
  for (const fleet of process.env.BENCH_LOAD_ONLY ? [] : fleets) {
    console.log(`\n${fleet.label}`);
    const results: Partial<Record<Layout, RenderResult>> = {};
    for (const layout of ["before", "after"] as const) {
      const built = build(layout, fleet.jobs);
      for (let run = 0; run < 3; run++)
        for (let j = 0; j < fleet.jobs; j++)
          for (let s = 0; s < SERVICES; s++) built.metrics.recordJob(fleetRecord(j, s, run));
      const sliced = new SlicedExposition(built.exporter);
      const r = await measureRender(
        layout === "before" ? () => renderOneShot(built.exporter) : () => sliced.render(),
      );
      results[layout] = r;
      console.log(`  ${layout.padEnd(7)} ${fmt(r)}`);
      if (layout === "after") {
        const oneShot = await measureRender(() => renderOneShot(built.exporter));
        console.log(
          `  after layout, exporter's one-shot render (for comparison):\n          ${fmt(oneShot)}`,
        );
      }
      await built.provider.shutdown();
    }
    const b = results.before!;
    const a = results.after!;
    console.log(
      `  after / before: samples ${(a.samples / b.samples).toFixed(3)}, bytes ${(a.bytes / b.bytes).toFixed(3)}, ` +
        `render ${(a.renderMs / b.renderMs).toFixed(3)}, max stall ${(a.stallMs / b.stallMs).toFixed(3)}`,
    );
    if (fleet.jobs === 200) {
      const met = a.samples <= TARGET_SAMPLES && a.bytes <= TARGET_BYTES && a.renderMs <= TARGET_RENDER_MS;
      console.log(
        `  targets (≤ ${TARGET_SAMPLES} samples, ≤ 5 MB, ≤ ${TARGET_RENDER_MS} ms): ${met ? "met" : "MISSED"}`,
      );
      ok &&= met;
    }
  }

  console.log(
    `\nOTLP client p99 latency, gateway with the 4,000-pair fleet: ${ROUNDS} rounds of ${PHASE_MS / 1000} s ` +
      "without and with scrapes, medians over the rounds",
  );
  for (const layout of ["before", "after"] as const) {
    const r = await measureLoad(layout);
    const extra = r.p99During - r.p99Quiet;
    console.log(
      `  ${layout.padEnd(7)} p99 without scrapes ${r.p99Quiet.toFixed(1).padStart(6)} ms, during scrapes ` +
        `${r.p99During.toFixed(1).padStart(7)} ms (${r.during} requests overlapping ${r.scrapes} scrapes of ` +
        `${r.scrapeMs.toFixed(0)} ms median): +${extra.toFixed(1)} ms, ratio ${(r.p99During / r.p99Quiet).toFixed(2)}`,
    );
    console.log(
      `          gateway event loop, longest stall: ${r.stallQuiet.toFixed(1)} ms without scrapes, ` +
        `${r.stallDuring.toFixed(1)} ms during scrapes; p99 increase per round: ` +
        r.extras.map((x) => x.toFixed(0)).join(", "),
    );
    if (layout === "after") {
      const met = extra <= TARGET_P99_EXTRA_MS;
      console.log(`  target (≤ +${TARGET_P99_EXTRA_MS} ms): ${met ? "met" : "MISSED"}`);
      ok &&= met;
    }
  }
  console.log(ok ? "\ntargets met" : "\nTARGET MISSED");
  process.exitCode = ok ? 0 : 1;
}

if (!isMainThread) {
  const data = workerData as WorkerData;
  parentPort!.postMessage(await (data.kind === "client" ? clientLoop : scrapeLoop)(data.url, data.ms));
} else if (process.argv[2] === "--serve") await serveGateway(process.argv[3] as Layout);
else await main();
