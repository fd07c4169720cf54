/**
 * End to end: the demo service and the gateway run for real, job spans reach the gateway through
 * the real OTel SDK and OTLP/protobuf exporter, a real Prometheus scrapes both with the project's
 * prometheus.yml (targets rewritten to 127.0.0.1, 1 s scrapes) and loads the project's rules.
 * Then every query of every panel of every dashboard runs through Prometheus' HTTP API, with the
 * template variables set to "all" and then to one real job: no query may error, and every panel
 * returns data except the few listed in NO_DATA_EXPECTED, each with its reason.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { SpanStatusCode } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ATTR_CARBON_ZONE,
  ATTR_JOB_CPU_SECONDS,
  ATTR_JOB_FUNCTIONAL_UNITS,
  ATTR_JOB_MEMORY_AVG_BYTES,
  ATTR_JOB_MEMORY_PEAK_BYTES,
  ATTR_JOB_NAME,
  ATTR_JOB_NETWORK_BYTES_RECEIVED,
  ATTR_JOB_NETWORK_BYTES_SENT,
  PROM_JOB_RUNS,
} from "../../src/semconv.ts";
import {
  type Child,
  type DashboardPanel,
  freePort,
  IN_CI,
  loadDashboards,
  localPrometheusConfig,
  NODE_BIN,
  PROJECT_ROOT,
  promQuery,
  promQueryRange,
  type QueryResult,
  queryPanels,
  type RunningPrometheus,
  skipWithout,
  startChild,
  startPrometheus,
  stopChild,
  substituteVariables,
  waitFor,
} from "../helpers/prometheus.ts";

const DEMO_MAIN = join(PROJECT_ROOT, "src/demo/main.ts");
const GATEWAY_CLI = join(PROJECT_ROOT, "src/cli/collector.ts");

/**
 * Panels allowed to return no data in a fresh Prometheus fed by the demo and the gateway without
 * an Electricity Maps token. Their queries must still parse and run without error.
 */
const NO_DATA_EXPECTED: Record<string, string> = {
  "co2e-job-emissions/10":
    "compares with the same hour 7 days ago: a fresh Prometheus has no week-old samples",
  "co2e-job-emissions/11": "log split of the change vs 7 days ago: same reason",
  "co2e-job-emissions/29":
    "best-hour counterfactual exists only for runs with live Electricity Maps data (no token in tests)",
  "co2e-pipeline-health/2": "provider requests are counted only for a live provider (no token in tests)",
  "co2e-pipeline-health/3": "provider success ratio: same reason",
  "co2e-pipeline-health/18": "lists firing otel-co2e alerts; none fires in this short run",
};

const SPAN_SERVICE = "e2e-batch-service";
const SPAN_JOB = "e2e.nightly-report";
const SPAN_ZONE = "DE";

const noPrometheus = skipWithout("prometheus", "the Prometheus + dashboards end-to-end test");
const sourcesPresent = existsSync(DEMO_MAIN) && existsSync(GATEWAY_CLI);
if (!sourcesPresent) {
  console.warn(
    `\n!!! ${IN_CI ? "FAILING" : "SKIPPING"} the Prometheus + dashboards end-to-end test: ` +
      `src/demo/main.ts or src/cli/collector.ts is missing\n`,
  );
}
const skip = noPrometheus || (!sourcesPresent && !IN_CI);

const boards = loadDashboards().map(({ dashboard }) => dashboard);
const panelCases = boards.flatMap((dashboard) =>
  queryPanels(dashboard).map((panel) => ({
    key: `${dashboard.uid}/${panel.id}`,
    title: panel.title ?? "",
    panel,
  })),
);

describe.skipIf(skip)("dashboards against a real Prometheus scraping the demo and the gateway", () => {
  let demo: Child | undefined;
  let gateway: Child | undefined;
  let prometheus: RunningPrometheus | undefined;
  let tracer: TracerProvider | undefined;
  let spanTimer: NodeJS.Timeout | undefined;

  beforeAll(async () => {
    expect(sourcesPresent, "src/demo/main.ts and src/cli/collector.ts must exist").toBe(true);
    const demoPort = await freePort();
    const gatewayMetricsPort = await freePort();

    demo = startChild(NODE_BIN, [DEMO_MAIN], {
      OTEL_EXPORTER_PROMETHEUS_PORT: String(demoPort),
      OTEL_EXPORTER_PROMETHEUS_HOST: "127.0.0.1",
      CO2E_DEMO_INTERVAL_MS: "300",
      OTEL_TRACES_EXPORTER: "none",
      ELECTRICITYMAPS_API_TOKEN: "",
    });
    gateway = startChild(
      NODE_BIN,
      [
        join(PROJECT_ROOT, "bin/co2e.js"),
        "collector",
        "--listen",
        "127.0.0.1:0",
        "--metrics-listen",
        `127.0.0.1:${gatewayMetricsPort}`,
      ],
      { ELECTRICITYMAPS_API_TOKEN: "" },
    );
    const listening = await gateway.waitForOutput(/listening on (http:\/\/127\.0\.0\.1:\d+)/, 30_000);
    const gatewayUrl = listening[1]!;

    // Job spans from "another language's" SDK: the real OTel JS SDK and OTLP/protobuf exporter.
    tracer = new TracerProvider({
      resource: resourceFromAttributes({ "service.name": SPAN_SERVICE }),
      spanProcessors: [
        new SimpleSpanProcessor({ exporter: new OTLPTraceExporter({ url: `${gatewayUrl}/v1/traces` }) }),
      ],
    });
    const otelTracer = tracer.getTracer("e2e");
    let n = 0;
    const sendSpans = () => {
      n++;
      const job = otelTracer.startSpan("nightly report", {
        attributes: {
          [ATTR_JOB_NAME]: SPAN_JOB,
          [ATTR_JOB_CPU_SECONDS]: 2.5,
          [ATTR_JOB_MEMORY_AVG_BYTES]: 512 * 1024 * 1024,
          [ATTR_JOB_MEMORY_PEAK_BYTES]: 768 * 1024 * 1024,
          [ATTR_JOB_NETWORK_BYTES_SENT]: 10_000_000,
          [ATTR_JOB_NETWORK_BYTES_RECEIVED]: 50_000_000,
          [ATTR_JOB_FUNCTIONAL_UNITS]: 1000,
          [ATTR_CARBON_ZONE]: SPAN_ZONE,
        },
      });
      if (n % 5 === 0) job.setStatus({ code: SpanStatusCode.ERROR, message: "sample failure" });
      job.end();
      otelTracer.startSpan("not a job").end();
    };
    sendSpans();
    spanTimer = setInterval(sendSpans, 300);

    // Both /metrics endpoints answer before Prometheus starts, so its first scrapes count.
    for (const port of [demoPort, gatewayMetricsPort]) {
      await waitFor(
        `/metrics on 127.0.0.1:${port}`,
        async () => {
          if (demo?.process.exitCode != null) throw new Error(`demo exited:\n${demo.output()}`);
          const response = await fetch(`http://127.0.0.1:${port}/metrics`, {
            signal: AbortSignal.timeout(2_000),
          });
          const text = await response.text();
          return response.ok && text.includes(PROM_JOB_RUNS) ? true : undefined;
        },
        30_000,
      );
    }

    const config = localPrometheusConfig({
      "co2e-demo": `127.0.0.1:${demoPort}`,
      "co2e-gateway": `127.0.0.1:${gatewayMetricsPort}`,
    });
    const { stringify } = await import("yaml");
    prometheus = await startPrometheus(stringify(config));
    const url = prometheus.url;

    // Bounded wait until both targets have been scraped often enough for rate() over 1m.
    await waitFor(
      "rate(co2e_job_runs_total) > 0 from both scrape jobs",
      async () => {
        const { series } = await promQuery(url, `count by (job) (rate(${PROM_JOB_RUNS}[1m]) > 0)`);
        const jobs = new Set(series.map((s) => s.metric.job));
        return jobs.has("co2e-demo") && jobs.has("co2e-gateway") ? true : undefined;
      },
      45_000,
      500,
    );
    // A few more scrapes so the 1m windows hold several samples from both targets.
    await new Promise((r) => setTimeout(r, 3_000));
  }, 120_000);

  afterAll(async () => {
    if (spanTimer) clearInterval(spanTimer);
    await Promise.race([tracer?.shutdown(), new Promise((r) => setTimeout(r, 5_000))]).catch(() => {});
    await Promise.all([prometheus?.stop(), stopChild(demo), stopChild(gateway)]);
  }, 30_000);

  it("Prometheus loaded every rule group and scrapes both targets", async () => {
    const response = await fetch(`${prometheus!.url}/api/v1/rules`);
    const body = (await response.json()) as {
      data: {
        groups: Array<{ name: string; rules: Array<{ name: string; health: string; lastError?: string }> }>;
      };
    };
    const names = body.data.groups.map((g) => g.name).sort();
    expect(names).toEqual([
      "co2e-alerts",
      "co2e-live-zones",
      "co2e-per-job-1d-7d",
      "co2e-per-job-1h",
      "co2e-settings",
    ]);
    const alerts = body.data.groups
      .flatMap((g) => g.rules.map((r) => r.name))
      .filter((n) => n.startsWith("Co2e"));
    expect(alerts.sort()).toEqual([
      "Co2eCarbonBudgetExceeded",
      "Co2eCarbonPerRunRegression",
      "Co2eExporterDown",
      "Co2eIntensityOnFallback",
    ]);
    // No rule fails to evaluate against the real series (rules not yet evaluated are "unknown").
    const broken = body.data.groups.flatMap((g) => g.rules).filter((r) => r.health === "err");
    expect(broken.map((r) => `${r.name}: ${r.lastError}`)).toEqual([]);
    // The alert's targets, as co2e-settings.yml selects them.
    const up = await waitFor(
      "co2e_alert:target_up for both targets",
      async () => {
        const result = await promQuery(prometheus!.url, "co2e_alert:target_up");
        return result.series.length === 2 ? result : undefined;
      },
      10_000,
    );
    expect(up.series.map((s) => [s.metric.job, s.value?.[1]]).sort()).toEqual([
      ["co2e-demo", "1"],
      ["co2e-gateway", "1"],
    ]);
  });

  it("the template variables' label_values queries find values", async () => {
    for (const dashboard of boards) {
      for (const variable of dashboard.templating?.list ?? []) {
        if (variable.type !== "query") continue;
        const text = JSON.stringify(variable.query);
        const match = text.match(/label_values\(([^,]+),\s*([a-z_]+)\)/);
        expect(match, `${dashboard.uid} $${variable.name}`).not.toBeNull();
        const selector = substituteVariables(JSON.parse(`"${match![1]!}"`) as string, { job_name: ".*" });
        const response = await fetch(
          `${prometheus!.url}/api/v1/label/${match![2]}/values?${new URLSearchParams({ "match[]": selector })}`,
        );
        const body = (await response.json()) as { data: string[] };
        expect(body.data.length, `${dashboard.uid} $${variable.name}`).toBeGreaterThan(0);
      }
    }
    const jobs = await fetch(`${prometheus!.url}/api/v1/label/job_name/values`).then((r) => r.json());
    expect((jobs as { data: string[] }).data).toContain(SPAN_JOB);
  });

  const ALL = { job_name: ".*", service_name: ".*", zone: ".*" };
  const ONE = { job_name: SPAN_JOB, service_name: SPAN_SERVICE, zone: SPAN_ZONE };

  for (const [label, selection] of [
    ["all jobs", ALL],
    [`job ${SPAN_JOB}`, ONE],
  ] as const) {
    it.each(panelCases)(`$key $title (${label})`, async ({ key, panel }) => {
      const results = await runPanel(prometheus!.url, panel, selection);
      for (const { expr, result } of results) {
        expect(result.error, `query error in ${key}: ${expr}`).toBeUndefined();
      }
      const reason = NO_DATA_EXPECTED[key];
      if (reason !== undefined) return; // ran without error; data not expected (see NO_DATA_EXPECTED)
      for (const { expr, result } of results) {
        expect(hasData(result), `no data from ${key} "${panel.title}": ${expr}`).toBe(true);
      }
    });
  }
});

interface PanelQueryResult {
  expr: string;
  result: QueryResult;
}

/** Runs a panel's targets like Grafana would: instant for stat/bar/table/pie, range for time series. */
async function runPanel(
  url: string,
  panel: DashboardPanel,
  selection: Record<string, string>,
): Promise<PanelQueryResult[]> {
  const values = {
    ...selection,
    carbon_price: "50",
    // The board's default: the scrape jobs of the shipped prometheus.yml.
    scrape_job: "co2e-.*",
    __rate_interval: "1m",
    __interval: "1m",
    __range: "5m",
  };
  const out: PanelQueryResult[] = [];
  const nowS = Date.now() / 1000;
  for (const target of panel.targets ?? []) {
    const expr = substituteVariables(target.expr ?? "", values);
    const result = target.range
      ? await promQueryRange(url, expr, nowS - 120, nowS, 2)
      : await promQuery(url, expr);
    out.push({ expr, result });
  }
  return out;
}

/** At least one series with at least one finite value. */
function hasData(result: QueryResult): boolean {
  return result.series.some((s) => {
    const samples = s.values ?? (s.value ? [s.value] : []);
    return samples.some(([, v]) => Number.isFinite(Number(v)));
  });
}
