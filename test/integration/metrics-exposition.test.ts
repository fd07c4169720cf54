// The sliced /metrics renderer against the exporter's own serializer: the same collection must
// give the same bytes, and rendering must hand the event loop back between pieces.
import { type Meter, ValueType } from "@opentelemetry/api";
import { PrometheusSerializer } from "@opentelemetry/exporter-prometheus";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { AggregationType, MeterProvider } from "@opentelemetry/sdk-metrics";
import { afterEach, describe, expect, it } from "vitest";
import { EXPOSITION_CONTENT_TYPE, SlicedExposition } from "../../src/metrics/exposition.ts";
import { createPrometheusReader, serveMetrics } from "../../src/metrics/prometheus.ts";
import { useCleanups } from "../helpers/cleanups.ts";
import { parseExposition } from "../helpers/exposition.ts";

const cleanups = useCleanups();
let provider: MeterProvider | undefined;
afterEach(async () => {
  await provider?.shutdown();
  provider = undefined;
});

function setup(views: ConstructorParameters<typeof MeterProvider>[0] = {}) {
  const exporter = createPrometheusReader();
  provider = new MeterProvider({
    resource: resourceFromAttributes({ "service.name": 'exposition "test"', "service.version": "1.0" }),
    readers: [exporter],
    ...views,
  });
  return { exporter, provider };
}

/** What the exporter's request handler writes for one collection. */
async function libraryText(exporter: ReturnType<typeof createPrometheusReader>): Promise<string> {
  const { resourceMetrics } = await exporter.collect();
  return new PrometheusSerializer().serialize(resourceMetrics);
}

/** Every instrument kind, hostile label values, units, escapes, and a name two meters share. */
function recordEverything(meter: Meter, other: Meter, series: number): void {
  const counter = meter.createCounter("co2e.test-requests", { description: 'counted "things"\nline 2 \\' });
  const already = meter.createCounter("co2e_things_total", { unit: "By" });
  const upDown = meter.createUpDownCounter("co2e_queue", { description: "up and down" });
  const gauge = meter.createGauge("co2e_level", { valueType: ValueType.DOUBLE });
  const histogram = meter.createHistogram("co2e_sizes", {
    description: "sizes",
    unit: "g",
    advice: { explicitBucketBoundaries: [1e-6, 0.003, 1, 1e4] },
  });
  const bare = meter.createHistogram("co2e_bare", { advice: { explicitBucketBoundaries: [] } });
  const exponential = meter.createHistogram("co2e_exponential");
  for (let i = 0; i < series; i++) {
    const attrs = {
      job_name: `job "${i}" \\ back\nslash é`,
      "service.name": `svc-${i % 3}`,
      number: i,
      flag: i % 2 === 0,
      list: ["a", `b${i}`],
    };
    counter.add(i + 0.5, attrs);
    already.add(i, attrs);
    upDown.add(-i, { job_name: `j${i}` });
    gauge.record(i === 0 ? Number.POSITIVE_INFINITY : i / 3, { job_name: `j${i}` });
    histogram.record(10 ** ((i % 12) - 6), attrs);
    histogram.record(5e4, attrs);
    bare.record(i, {});
    exponential.record(i + 1, { job_name: `j${i % 4}` });
  }
  other.createCounter("co2e.test-requests", { description: "the same family from another meter" }).add(7);
}

describe("SlicedExposition", () => {
  it("writes the exporter's text byte for byte, in small pieces", async () => {
    const { exporter, provider } = setup({
      views: [
        {
          instrumentName: "co2e_exponential",
          aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM },
        },
      ],
    });
    recordEverything(
      provider.getMeter("meter-a", "1.2.3", { schemaUrl: "https://example.test/schema" }),
      provider.getMeter("meter-b"),
      40,
    );
    const expected = await libraryText(exporter);
    for (const linesPerPiece of [1, 7, 10_000]) {
      const text = await new SlicedExposition(exporter, { linesPerPiece, sliceMs: 0 }).render();
      expect(text).toBe(expected);
    }
    // The comparison covered what it claims to.
    expect(expected).toContain("# UNIT co2e_sizes g");
    expect(expected).toContain('le="+Inf"');
    expect(expected).toContain('otel_scope_schema_url="https://example.test/schema"');
    expect(expected).toContain("co2e_test_requests_total{");
    expect(expected).toContain("+Inf\n");
    expect(expected).toContain('co2e_things_total{job_name="job \\"1\\" \\\\ back\\nslash é"');
    expect(parseExposition(expected).length).toBeGreaterThan(40 * 10);
  });

  it("writes target_info and the library's placeholder when nothing is registered", async () => {
    const { exporter } = setup();
    const text = await new SlicedExposition(exporter).render();
    expect(text).toBe(await libraryText(exporter));
    expect(text).toContain("# no registered metrics");
  });

  it("hands the event loop back between pieces, and concurrent scrapes share one render", async () => {
    const { exporter, provider } = setup();
    const counter = provider.getMeter("m").createCounter("co2e_many");
    for (let i = 0; i < 2_000; i++) counter.add(1, { job_name: `job-${i}` });
    const exposition = new SlicedExposition(exporter, { linesPerPiece: 50, sliceMs: 0 });
    let turns = 0;
    let rendering = true;
    const spin = () => {
      if (!rendering) return;
      turns++;
      setImmediate(spin);
    };
    setImmediate(spin);
    const first = exposition.renderBody();
    const second = exposition.renderBody();
    expect(second).toBe(first);
    const text = (await first).toString("utf8");
    rendering = false;
    // 2,000 lines in pieces of 50: the loop ran between most of them.
    expect(turns).toBeGreaterThanOrEqual(20);
    expect(parseExposition(text).filter((s) => s.name === "co2e_many_total")).toHaveLength(2_000);
    // A later scrape renders afresh.
    counter.add(1, { job_name: "job-new" });
    expect(await exposition.render()).toContain('job_name="job-new"');
  });

  it("answers 500 naming the failure when the collection fails, 200 with the text otherwise", async () => {
    const failing = new SlicedExposition({ collect: () => Promise.reject(new Error("collector broke")) });
    const { exporter, provider } = setup();
    provider.getMeter("m").createCounter("co2e_served").add(3);
    const server = await serveMetrics(exporter, "127.0.0.1", 0);
    cleanups.push(() => server.close());
    const ok = await fetch(server.url);
    expect(ok.status).toBe(200);
    expect(ok.headers.get("content-type")).toBe(EXPOSITION_CONTENT_TYPE);
    expect(await ok.text()).toContain("co2e_served_total{");

    const { createServer } = await import("node:http");
    const broken = createServer((req, res) => failing.handle(req, res));
    await new Promise<void>((r) => broken.listen(0, "127.0.0.1", r));
    cleanups.push(() => new Promise<void>((r) => broken.close(() => r())));
    const port = (broken.address() as { port: number }).port;
    const bad = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(bad.status).toBe(500);
    expect(await bad.text()).toContain("collector broke");
  });
});
