/**
 * `co2e run [options] -- <command> [args…]`: runs any command (a Python training, a shell
 * pipeline), measures its whole process tree and prints what it used and emitted. The exit code
 * is the command's own; 128 + N when a signal N killed it; 127 when it could not start.
 */
import { writeFileSync } from "node:fs";
import { basename } from "node:path";
import type { ParseArgsOptionsConfig } from "node:util";
import { loadConfig, resolveLogicalCores } from "../config.ts";
import { str } from "../core/job-record.ts";
import { createIntensityProvider } from "../intensity/index.ts";
import { createMachineCpuEnergy } from "../power/attribution.ts";
import { bestHourLookup } from "../processor/best-hour.ts";
import type { BestHourLookup } from "../processor/enrich.ts";
import {
  buildReport,
  enrichRun,
  exportAttributes,
  formatSummary,
  jobSpanData,
  type RunJob,
} from "../run/report.ts";
import { runCommand } from "../run/runner.ts";
import { numberFlag, parseFlags, usageError } from "./args.ts";
import { resolveCliZone, ZONE_FLAG_OPTIONS, zoneFlags } from "./zone.ts";

export const RUN_OPTIONS = {
  "job-name": { type: "string" },
  ...ZONE_FLAG_OPTIONS,
  "functional-units": { type: "string" },
  "json-out": { type: "string" },
  config: { type: "string" },
  "interval-ms": { type: "string" },
  "no-gpu": { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const satisfies ParseArgsOptionsConfig;

export const RUN_HELP = `co2e run — run a command and measure its energy and emissions

Usage: co2e run [options] -- <command> [args…]

Measures the whole process tree from /proc (CPU time of every descendant, including those that
exited; resident memory; disk I/O) and GPU board power with nvidia-smi when present. When the
command ends, prints a summary to stderr and exits with the command's exit code (128 + N when
signal N killed it, 127 when it could not start). SIGINT/SIGTERM/SIGHUP/SIGQUIT are forwarded.

Options:
  --job-name N            job.name of the run (default: the command's file name)
  --zone Z                grid zone (default: config zone / cloud)
  --cloud aws|gcp|azure --region R    cloud region, mapped to a zone
  --functional-units N    SCI's R: units of work the job produced
  --json-out FILE         also write the figures as JSON (fields of \`co2e estimate --json\`)
  --interval-ms N         sampling interval (default: config sampler.intervalMs, 1000)
  --no-gpu                do not look for nvidia-smi
  --config FILE           config file (default: CO2E_CONFIG or config/default.yaml)

Exports one job span over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT (or
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set; an export failure is a warning only.

Example:
  co2e run --job-name nightly-train --zone DE -- python train.py --epochs 3
`;

function stderr(text: string): void {
  process.stderr.write(text);
}

export async function run(argv: string[]): Promise<number> {
  const dashdash = argv.indexOf("--");
  const ours = dashdash < 0 ? argv : argv.slice(0, dashdash);
  const command = dashdash < 0 ? [] : argv.slice(dashdash + 1);
  let parsed: ReturnType<typeof parseFlags>;
  try {
    parsed = parseFlags(ours, RUN_OPTIONS, { allowPositionals: true });
  } catch (error) {
    // `co2e run python -u x.py`: the command's own flags look like unknown options of ours.
    if (dashdash < 0 && ours.some((a) => !a.startsWith("-"))) {
      throw usageError(
        `${(error as Error).message}; put the command after \`--\`: co2e run [options] -- <command>`,
      );
    }
    throw error;
  }
  const { values, positionals } = parsed;
  if (positionals.length > 0) {
    throw usageError(`put the command after \`--\`: co2e run [options] -- ${positionals.join(" ")}`);
  }
  if (values.help) {
    process.stdout.write(RUN_HELP);
    return 0;
  }
  if (command.length === 0 || command[0] === "") {
    throw usageError("expects a command after `--`: co2e run [options] -- <command> [args…]");
  }
  const flags = zoneFlags(values);
  const functionalUnits = numberFlag(values, "functional-units", { min: 0 });
  const intervalFlag = numberFlag(values, "interval-ms", { min: 10, integer: true });
  const config = loadConfig(typeof values.config === "string" ? { file: values.config } : {});
  const job: RunJob = {
    jobName: typeof values["job-name"] === "string" ? values["job-name"] : basename(command[0]!),
    command,
  };
  if (typeof values.zone === "string") job.zone = values.zone;
  if (functionalUnits !== undefined) job.functionalUnits = functionalUnits;

  // Resolve the zone before the run: an unknown zone must not surface after a two-hour job.
  const { runResource, otlpExportWanted } = await import("../run/otlp.ts");
  const resource = runResource().attributes;
  const zone = resolveCliZone(flags, config, {
    resource: { provider: str(resource["cloud.provider"]), region: str(resource["cloud.region"]) },
  });
  const provider = createIntensityProvider(config, { logger: (msg) => stderr(`co2e run: ${msg}\n`) });
  provider.warm(zone.zone);

  // rapl: measured package energy when powercap is readable (often root-only), else tdp fallback.
  const cpuEnergy = config.model.cpu.model === "rapl" ? createMachineCpuEnergy() : undefined;
  if (config.model.cpu.model === "rapl" && !cpuEnergy) {
    stderr(
      "co2e run: rapl model: no readable powercap RAPL package zone (absent, or energy_uj root-only): CPU estimated with tdp at fallbackTdpWatts\n",
    );
  }

  let result: Awaited<ReturnType<typeof runCommand>>;
  try {
    result = await runCommand({
      command: command[0]!,
      args: command.slice(1),
      intervalMs: intervalFlag ?? config.sampler.intervalMs,
      gpu: values["no-gpu"] !== true,
      ...(cpuEnergy ? { cpuEnergy } : {}),
    });
  } catch (error) {
    // CO2E_ERR_SPAWN (exit 127 through main's table) or a bug.
    await provider.close();
    throw error;
  }

  try {
    const window = { startMs: result.startMs, endMs: result.endMs };
    const intensity = await provider.get(zone.zone, window);
    const span = jobSpanData(job, result, resource);
    // Best-hour counterfactual from the rows the live provider fetched for this window (as the
    // span processor does); the static table has no hourly rows, so then none is claimed.
    const bestHour: BestHourLookup | undefined = bestHourLookup(provider);
    const enriched = enrichRun(span, {
      config,
      logicalCores: resolveLogicalCores(config.model.cpu),
      intensity,
      zone,
      ...(bestHour ? { bestHour } : {}),
    });
    const report = buildReport(job, result, enriched, { config, intensity, zone });
    stderr(
      formatSummary(report, {
        gpu: values["no-gpu"] === true ? "not measured (--no-gpu)" : "not measured (no nvidia-smi reading)",
      }),
    );
    if (typeof values["json-out"] === "string") {
      try {
        writeFileSync(values["json-out"], `${JSON.stringify(report, null, 2)}\n`);
      } catch (error) {
        stderr(`co2e run: warning: cannot write ${values["json-out"]}: ${(error as Error).message}\n`);
      }
    }
    if (otlpExportWanted()) {
      const { exportJobSpan } = await import("../run/otlp.ts");
      await exportJobSpan({
        name: job.jobName,
        startMs: result.startMs,
        endMs: result.endMs,
        attributes: exportAttributes(span, enriched, zone),
        isError: span.isError,
        statusMessage: result.signal ? `killed by ${result.signal}` : `exit code ${result.exitCode}`,
      });
    }
  } catch (error) {
    // Reporting must never hide the command's own exit code.
    stderr(`co2e run: warning: ${(error as Error).message}\n`);
  } finally {
    await provider.close();
  }
  return result.exitCode;
}
