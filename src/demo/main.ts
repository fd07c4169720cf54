/**
 * `npm start`: a small service on the otel-co2e preset. Every CO2E_DEMO_INTERVAL_MS (default 2000)
 * it runs a round of sample jobs (a CPU-bound one alone, then a network-bound and a memory-heavy one
 * together, so they share the process), prints one line per finished job and serves Prometheus /metrics.
 *
 * Environment: OTEL_EXPORTER_PROMETHEUS_HOST/PORT (default 127.0.0.1:9464; 0 = any free port),
 * CO2E_DEMO_INTERVAL_MS, CO2E_DEMO_RUNS (stop after N rounds; default: until Ctrl-C),
 * OTEL_TRACES_EXPORTER (default none here), ELECTRICITYMAPS_API_TOKEN (live intensity), CO2E_ZONE.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { DEFAULT_ZONE } from "../intensity/zone.ts";
import { startCarbonSdk } from "../sdk/start-carbon-sdk.ts";
import { startDataServer } from "./data-server.ts";
import { cpuJob, memoryJob, networkJob } from "./jobs.ts";
import { JobLinePrinter } from "./printer.ts";

function positiveInt(name: string, fallback: number | undefined): number | undefined {
  const raw = process.env[name]?.trim();
  if (!raw) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) {
    process.stderr.write(`otel-co2e demo: ${name} must be a positive integer, got ${JSON.stringify(raw)}\n`);
    process.exit(2);
  }
  return n;
}

async function main(): Promise<void> {
  process.env.OTEL_TRACES_EXPORTER ??= "none";
  const intervalMs = positiveInt("CO2E_DEMO_INTERVAL_MS", 2000) ?? 2000;
  const runs = positiveInt("CO2E_DEMO_RUNS", undefined);

  const sdk = startCarbonSdk({ serviceName: "otel-co2e-demo", spanProcessors: [new JobLinePrinter()] });
  const data = await startDataServer();
  try {
    await sdk.ready;
  } catch (error) {
    process.stderr.write(`otel-co2e demo: cannot serve /metrics: ${(error as Error).message}\n`);
    await sdk.shutdown();
    await data.close();
    process.exit(1);
  }
  const live = process.env.ELECTRICITYMAPS_API_TOKEN ? "Electricity Maps (live)" : "static yearly table";
  process.stdout.write(
    `otel-co2e demo: metrics at ${sdk.metricsUrl} · intensity: ${live} · zone: ${sdk.config.zone ?? DEFAULT_ZONE}\n`,
  );

  const stop = new AbortController();
  let stopping = false;
  const onSignal = (): void => {
    if (stopping) return;
    stopping = true;
    stop.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  let round = 0;
  while (!stopping && (runs === undefined || round < runs)) {
    round++;
    cpuJob();
    await Promise.all([networkJob(data.url), memoryJob()]);
    if (runs !== undefined && round >= runs) break;
    await sleep(intervalMs, undefined, { signal: stop.signal }).catch(() => {});
  }

  await sdk.shutdown();
  await data.close();
  process.stdout.write(`otel-co2e demo: stopped after ${round} round(s)\n`);
  process.exit(0);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `otel-co2e demo failed: ${error instanceof Error ? (error.stack ?? error.message) : error}\n`,
  );
  process.exit(1);
});
