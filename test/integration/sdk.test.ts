import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { metrics, trace } from "@opentelemetry/api";
import { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace";
import { afterEach, describe, expect, it, vi } from "vitest";
import { parseConfig } from "../../src/config.ts";
import { withJob } from "../../src/job/job.ts";
import { type CarbonSdk, startCarbonSdk } from "../../src/sdk/start-carbon-sdk.ts";
import { traceExportersFromEnv } from "../../src/sdk/trace-exporters.ts";
import * as sc from "../../src/semconv.ts";
import { disableOtelGlobals } from "../helpers/otel-globals.ts";

const config = parseConfig({ zone: "SE" });

/** InMemorySpanExporter forgets its spans on shutdown; this one keeps them for the assertions. */
class KeepingExporter extends InMemorySpanExporter {
  override shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
const savedEnv = { ...process.env };
let sdk: CarbonSdk | undefined;

/** Shuts the SDK down and drops the API globals NodeSDK registered: the next start is clean. */
async function stopSdk(): Promise<void> {
  await sdk?.shutdown();
  sdk = undefined;
  disableOtelGlobals();
}

afterEach(async () => {
  await stopSdk();
  for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
  Object.assign(process.env, savedEnv);
});

/** One job under the preset with no zone configured, so the resource's cloud region decides. */
async function jobWithDetectedCloud(name: string): Promise<ReadableSpan | undefined> {
  const exporter = new KeepingExporter();
  sdk = startCarbonSdk({
    config: parseConfig({}),
    traceExporters: [exporter],
    prometheus: false,
    gpu: false,
  });
  withJob(name, () => 1);
  await stopSdk();
  return exporter.getFinishedSpans().find((s) => s.name === name);
}

/** The span's resource names the cloud and region, and its zone was resolved from them. */
function expectCloudZone(
  span: ReadableSpan | undefined,
  provider: string,
  region: string,
  zone: string,
): void {
  expect(span?.resource.attributes["cloud.provider"]).toBe(provider);
  expect(span?.resource.attributes["cloud.region"]).toBe(region);
  expect(span?.attributes[sc.ATTR_CARBON_ZONE_RESOLVED_BY]).toBe("cloud-region");
  expect(span?.attributes[sc.ATTR_CARBON_INTENSITY_ZONE]).toBe(zone);
}

async function scrapeText(url: string | undefined): Promise<string> {
  if (!url) throw new Error("no metrics url");
  const res = await fetch(url);
  expect(res.status).toBe(200);
  return res.text();
}

describe("startCarbonSdk", () => {
  it("puts the carbon processor ahead of the exporter and serves /metrics", async () => {
    const exporter = new KeepingExporter();
    sdk = startCarbonSdk({
      serviceName: "sdk-test",
      config,
      traceExporters: [exporter],
      prometheus: { host: "127.0.0.1", port: 0 },
      gpu: false,
    });
    await sdk.ready;
    await withJob("sdk-job", async () => new Promise((r) => setTimeout(r, 20)), { functionalUnits: 2 });
    await withJob("parent", () => withJob("child", () => 1));
    await sdk.processor?.forceFlush();
    const text = await scrapeText(sdk.metricsUrl);
    await sdk.shutdown(); // flushes the batch processor into the exporter
    const spans = exporter.getFinishedSpans();
    const job = spans.find((s) => s.name === "sdk-job");
    expect(job?.attributes[sc.ATTR_CARBON_INTENSITY_ZONE]).toBe("SE");
    expect(job?.resource.attributes["service.name"]).toBe("sdk-test");
    expect(typeof job?.attributes[sc.ATTR_CARBON_CO2E_GRAMS]).toBe("number");
    // Counted here already: a gateway downstream must not count it again.
    expect(job?.attributes[sc.ATTR_CARBON_METRICS_RECORDED]).toBe(true);
    const parent = spans.find((s) => s.name === "parent");
    const child = spans.find((s) => s.name === "child");
    expect(child?.parentSpanContext?.spanId).toBe(parent?.spanContext().spanId);
    expect(text).toMatch(
      /co2e_job_runs_total\{[^}]*job_name="sdk-job",service_name="sdk-test",status="ok",zone="SE",source="static",attribution="exclusive"[^}]*\} 1/,
    );
    expect(text).toMatch(/co2e_job_functional_units_total\{[^}]*job_name="sdk-job"[^}]*\} 2/);
    expect(text).toMatch(/co2e_grid_intensity_grams_per_kwh\{[^}]*zone="SE",source="static"/);
    // After shutdown the endpoint is gone.
    await expect(fetch(sdk.metricsUrl ?? "")).rejects.toThrow();
  });

  it("keeps service_name on the histograms of the jobs metrics.fullHistograms lists, not others", async () => {
    sdk = startCarbonSdk({
      serviceName: "sdk-test",
      config: parseConfig({ zone: "SE", metrics: { fullHistograms: ["full-*"] } }),
      traceExporters: ["none"],
      prometheus: { host: "127.0.0.1", port: 0 },
      gpu: false,
    });
    await sdk.ready;
    withJob("full-job", () => 1);
    withJob("plain-job", () => 1);
    const text = await scrapeText(sdk.metricsUrl);
    expect(text).toMatch(/co2e_job_carbon_per_run_grams_count\{job_name="full-job",service_name="sdk-test",/);
    expect(text).toMatch(/co2e_job_duration_seconds_count\{job_name="plain-job",otel_scope_name=/);
  });

  it("with OTEL_TRACES_EXPORTER=none the processor and the metrics still work", async () => {
    process.env.OTEL_TRACES_EXPORTER = "none";
    process.env.OTEL_EXPORTER_PROMETHEUS_PORT = "0";
    process.env.OTEL_EXPORTER_PROMETHEUS_HOST = "127.0.0.1";
    expect(traceExportersFromEnv()).toEqual(["none"]);
    sdk = startCarbonSdk({ config, gpu: false });
    await sdk.ready;
    expect(sdk.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const span = withJob("metrics-only", (s) => s);
    expect(
      (span as unknown as { attributes: Record<string, unknown> }).attributes[sc.ATTR_CARBON_CO2E_GRAMS],
    ).toBeTypeOf("number");
    const text = await scrapeText(sdk.metricsUrl);
    expect(text).toMatch(/co2e_job_runs_total\{[^}]*job_name="metrics-only"[^}]*\} 1/);
  });

  it("a bad OTEL_EXPORTER_PROMETHEUS_PORT is warned about once, naming the variable, and the config's port is used", async () => {
    const { DEFAULT_CONFIG_PATH } = await import("../../src/config.ts");
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    try {
      for (const bad of ["nine", "70000"]) {
        process.env.OTEL_EXPORTER_PROMETHEUS_PORT = bad;
        for (const given of [parseConfig({ prometheus: { port: 0 } }), DEFAULT_CONFIG_PATH, undefined]) {
          sdk = startCarbonSdk({ config: given, gpu: false, traceExporters: ["none"], prometheus: false });
          expect(sdk.config.prometheus.port).toBe(typeof given === "object" ? 0 : 9464);
          await stopSdk();
        }
      }
      const lines = warn.mock.calls
        .map((c) => String(c[0]))
        .filter((l) => l.includes("OTEL_EXPORTER_PROMETHEUS_PORT"));
      // Once per distinct message: "nine" and "70000", each with fallback 0 or 9464.
      expect(lines.length).toBe(4);
      expect(lines[0]).toMatch(/^otel-co2e: OTEL_EXPORTER_PROMETHEUS_PORT="nine" ignored .*using 0$/);
      expect(lines.some((l) => /"70000" ignored .*using 9464$/.test(l))).toBe(true);
    } finally {
      warn.mockRestore();
    }
  });

  it("an unknown CO2E_ZONE is said once on the console and jobs fall back to WORLD, still counted", async () => {
    process.env.CO2E_ZONE = "XX";
    process.env.OTEL_EXPORTER_PROMETHEUS_PORT = "0";
    process.env.OTEL_EXPORTER_PROMETHEUS_HOST = "127.0.0.1";
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    try {
      const exporter = new KeepingExporter();
      sdk = startCarbonSdk({ gpu: false, traceExporters: [exporter] });
      await sdk.ready;
      withJob("zone-xx", () => 1);
      const text = await scrapeText(sdk.metricsUrl);
      await stopSdk();
      sdk = startCarbonSdk({ gpu: false, traceExporters: ["none"], prometheus: false });
      const lines = warn.mock.calls.map((c) => String(c[0])).filter((l) => l.includes("CO2E_ZONE"));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/CO2E_ZONE="XX": unknown zone "XX"/);
      const span = exporter.getFinishedSpans().find((s) => s.name === "zone-xx");
      expect(span?.attributes[sc.ATTR_CARBON_INTENSITY_ZONE]).toBe("WORLD");
      expect(span?.attributes[sc.ATTR_CARBON_ZONE_RESOLVED_BY]).toBe("default");
      expect(span?.attributes[sc.ATTR_CARBON_ERROR]).toBeUndefined();
      expect(text).toMatch(/co2e_job_runs_total\{[^}]*job_name="zone-xx"[^}]*zone="WORLD"[^}]*\} 1/);
    } finally {
      warn.mockRestore();
    }
  });

  it("says once on the console when a tracer provider is already registered", async () => {
    const { TracerProvider } = await import("@opentelemetry/sdk-trace");
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    try {
      sdk = startCarbonSdk({ config, gpu: false, traceExporters: ["none"], prometheus: false });
      await stopSdk();
      expect(warn.mock.calls.flat().join("\n")).not.toMatch(/already registered/);
      trace.setGlobalTracerProvider(new TracerProvider());
      for (let i = 0; i < 2; i++) {
        sdk = startCarbonSdk({ config, gpu: false, traceExporters: ["none"], prometheus: false });
        await sdk.shutdown();
      }
      const lines = warn.mock.calls.map((c) => String(c[0])).filter((l) => l.includes("already registered"));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        /^otel-co2e: a global tracer provider is already registered.*Bring your own NodeSDK/,
      );
    } finally {
      warn.mockRestore();
    }
  });

  it("honours OTEL_METRICS_EXPORTER: none serves no /metrics, console adds a reader beside it", async () => {
    process.env.OTEL_EXPORTER_PROMETHEUS_PORT = "0";
    process.env.OTEL_EXPORTER_PROMETHEUS_HOST = "127.0.0.1";
    process.env.OTEL_METRICS_EXPORTER = "none";
    sdk = startCarbonSdk({ config, gpu: false, traceExporters: ["none"] });
    await sdk.ready;
    expect(sdk.metricsUrl).toBeUndefined();
    await stopSdk();

    process.env.OTEL_METRICS_EXPORTER = "console, prometheus";
    const log = vi.spyOn(console, "dir").mockImplementation(() => {});
    try {
      sdk = startCarbonSdk({ config, gpu: false, traceExporters: ["none"] });
      await sdk.ready;
      withJob("console-metrics", () => 1);
      expect(await scrapeText(sdk.metricsUrl)).toMatch(
        /co2e_job_runs_total\{[^}]*job_name="console-metrics"/,
      );
      await stopSdk(); // the periodic reader exports once more on shutdown
      const printed = JSON.stringify(log.mock.calls);
      expect(printed).toContain("co2e_job_runs");
    } finally {
      log.mockRestore();
    }
  });

  it("honours OTEL_SDK_DISABLED", async () => {
    process.env.OTEL_SDK_DISABLED = "true";
    sdk = startCarbonSdk({ config, prometheus: { host: "127.0.0.1", port: 0 } });
    await sdk.ready;
    expect(sdk.processor).toBeUndefined();
    expect(sdk.metricsUrl).toBeUndefined();
    // Jobs still run (the API is a no-op without an SDK) and return their value.
    expect(withJob("disabled", () => 42)).toBe(42);
  });

  it("OTEL_SDK_DISABLED=true never throws, not even on a bad port variable or a missing config file", async () => {
    process.env.OTEL_SDK_DISABLED = "true";
    process.env.OTEL_EXPORTER_PROMETHEUS_PORT = "abc";
    process.env.CO2E_CONFIG = "/nonexistent/co2e.yaml";
    for (const given of [config, "/nonexistent/other.yaml", undefined]) {
      const disabled = startCarbonSdk({ config: given, gpu: false });
      await disabled.ready;
      expect(disabled.processor).toBeUndefined();
      expect(disabled.metricsUrl).toBeUndefined();
      expect(disabled.config.prometheus.port).toBeTypeOf("number");
      await disabled.shutdown();
    }
    // A Config handed in comes back as it was.
    expect(startCarbonSdk({ config }).config).toBe(config);
    // Enabled, the bad port is ignored (with a warning) instead of stopping the service.
    delete process.env.OTEL_SDK_DISABLED;
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    sdk = startCarbonSdk({ config, gpu: false, traceExporters: ["none"], prometheus: false });
    expect(sdk.config.prometheus.port).toBe(config.prometheus.port);
    warn.mockRestore();
  });

  it("reads OTEL_TRACES_EXPORTER lists", () => {
    process.env.OTEL_TRACES_EXPORTER = "console,otlp";
    expect(traceExportersFromEnv()).toEqual(["console", "otlp"]);
    delete process.env.OTEL_TRACES_EXPORTER;
    expect(traceExportersFromEnv()).toEqual(["otlp"]);
  });

  it("detects cloud provider and region from the platform's variables", async () => {
    process.env.AWS_EXECUTION_ENV = "AWS_ECS_FARGATE";
    process.env.AWS_REGION = "eu-north-1";
    expectCloudZone(await jobWithDetectedCloud("in-cloud"), "aws", "eu-north-1", "SE-SE3");
  });

  it("OTEL_RESOURCE_ATTRIBUTES cloud.provider/cloud.region resolves the zone, and wins over the platform's variables", async () => {
    process.env.OTEL_RESOURCE_ATTRIBUTES = "cloud.provider=aws,cloud.region=eu-west-1";
    expectCloudZone(await jobWithDetectedCloud("otel-attrs"), "aws", "eu-west-1", "IE");

    // On Azure App Service the platform says West Europe (NL); the explicit attributes say GCP Belgium.
    process.env.WEBSITE_SITE_NAME = "my-app";
    process.env.REGION_NAME = "West Europe";
    process.env.OTEL_RESOURCE_ATTRIBUTES = "cloud.provider=gcp,cloud.region=europe-west1";
    expectCloudZone(await jobWithDetectedCloud("otel-attrs-win"), "gcp", "europe-west1", "BE");

    // Without OTEL_RESOURCE_ATTRIBUTES the Azure variables alone resolve West Europe.
    delete process.env.OTEL_RESOURCE_ATTRIBUTES;
    expectCloudZone(await jobWithDetectedCloud("azure-env"), "azure", "westeurope", "NL");
  });

  it("rejects ready (without crashing) when the port is taken", async () => {
    const first = startCarbonSdk({ config, prometheus: { host: "127.0.0.1", port: 0 }, gpu: false });
    await first.ready;
    const port = Number(new URL(first.metricsUrl ?? "").port);
    trace.disable();
    metrics.disable();
    sdk = startCarbonSdk({ config, prometheus: { host: "127.0.0.1", port }, gpu: false });
    await expect(sdk.ready).rejects.toThrow(/EADDRINUSE/);
    await first.shutdown();
  });

  it("says on the console, once, that a port held by another server is not its /metrics", async () => {
    const holder = createServer((_req, res) => res.end("someone else\n"));
    await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve));
    const port = (holder.address() as AddressInfo).port;
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    try {
      const exporter = new KeepingExporter();
      sdk = startCarbonSdk({
        config,
        traceExporters: [exporter],
        prometheus: { host: "127.0.0.1", port },
        gpu: false,
      });
      await expect(sdk.ready).rejects.toThrow(/EADDRINUSE/);
      const lines = warn.mock.calls.map((args) => args.map(String).join(" "));
      expect(lines.filter((l) => l.includes("/metrics"))).toEqual([
        `otel-co2e: cannot serve /metrics on 127.0.0.1:${port}: address already in use`,
      ]);
      expect(sdk.metricsUrl).toBeUndefined();
      // The service carries on: jobs are still enriched, and shutdown is clean.
      withJob("port-taken", () => 1);
      await sdk.shutdown();
      const span = exporter.getFinishedSpans().find((s) => s.name === "port-taken");
      expect(span?.attributes[sc.ATTR_CARBON_CO2E_GRAMS]).toBeTypeOf("number");
      // The other server still answers on its port.
      expect(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).toBe("someone else\n");
    } finally {
      warn.mockRestore();
      await new Promise<void>((resolve) => {
        holder.closeAllConnections();
        holder.close(() => resolve());
      });
    }
  });
});

describe("startCarbonSdk with a GPU", () => {
  it("adds job.gpu.joules from a (fake) nvidia-smi on PATH, and none without one", async () => {
    const { mkdtempSync, writeFileSync, chmodSync, rmSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const dir = mkdtempSync(join(tmpdir(), "fake-nvidia-smi-"));
    try {
      // 100 W on one GPU, a reading every 20 ms, whatever the arguments.
      const script = join(dir, "nvidia-smi");
      writeFileSync(script, '#!/bin/sh\nwhile true; do echo "0, 100.00"; sleep 0.02; done\n');
      chmodSync(script, 0o755);
      process.env.PATH = `${dir}:${process.env.PATH ?? ""}`;
      const exporter = new KeepingExporter();
      sdk = startCarbonSdk({
        config: parseConfig({ zone: "SE", sampler: { intervalMs: 20 } }),
        traceExporters: [exporter],
        prometheus: false,
      });
      await sdk.ready;
      await withJob("gpu-job", () => new Promise((r) => setTimeout(r, 300)));
      await sdk.shutdown();
      const span = exporter.getFinishedSpans().find((s) => s.name === "gpu-job");
      const joules = span?.attributes[sc.ATTR_JOB_GPU_JOULES] as number;
      // 100 W × 0.3 s = 30 J; sampling granularity and a loaded machine leave room.
      expect(joules).toBeGreaterThan(20);
      expect(joules).toBeLessThan(45);
      expect(span?.attributes[sc.ATTR_CARBON_ENERGY_GPU_KWH]).toBeCloseTo(joules / 3.6e6, 12);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("without nvidia-smi a job has no GPU attribute", async () => {
    process.env.PATH = "/nonexistent";
    const exporter = new KeepingExporter();
    sdk = startCarbonSdk({ config, traceExporters: [exporter], prometheus: false });
    await sdk.ready;
    withJob("no-gpu", () => 1);
    await sdk.shutdown();
    const span = exporter.getFinishedSpans().find((s) => s.name === "no-gpu");
    expect(span?.attributes[sc.ATTR_CARBON_CO2E_GRAMS]).toBeTypeOf("number");
    expect(span?.attributes[sc.ATTR_JOB_GPU_JOULES]).toBeUndefined();
  });
});
