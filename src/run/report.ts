/**
 * From a measured run to the figures: the run becomes a job span's `job.*` attributes and goes
 * through `enrichJobSpan`, the path the span processor and the gateway use, so `co2e run` and a
 * span of the same job give the same numbers. Then the summary text and the `--json-out` object.
 */
import type { Attributes } from "@opentelemetry/api";
import type { Config } from "../config.ts";
import type { IntensityValue } from "../intensity/types.ts";
import type { ResolvedZone } from "../intensity/zone.ts";
import { type EnrichResult, enrichJobSpan, type JobSpanData } from "../processor/enrich.ts";
import * as sc from "../semconv.ts";
import type { RunResult } from "./runner.ts";

export interface RunJob {
  jobName: string;
  command: string[];
  /** `--zone`, set as `carbon.zone` like any span could. */
  zone?: string;
  functionalUnits?: number;
}

/** The job span's input attributes (`job.*`, `carbon.zone`) for a measured run. */
export function jobAttributes(job: RunJob, run: RunResult): Attributes {
  const attributes: Attributes = { [sc.ATTR_JOB_NAME]: job.jobName };
  if (run.cpuSeconds !== undefined) attributes[sc.ATTR_JOB_CPU_SECONDS] = run.cpuSeconds;
  if (run.cpuJoules !== undefined) attributes[sc.ATTR_JOB_CPU_JOULES] = run.cpuJoules;
  if (run.memory) {
    attributes[sc.ATTR_JOB_MEMORY_AVG_BYTES] = Math.round(run.memory.avgBytes);
    attributes[sc.ATTR_JOB_MEMORY_PEAK_BYTES] = run.memory.peakBytes;
  }
  if (run.gpuJoules !== undefined) attributes[sc.ATTR_JOB_GPU_JOULES] = run.gpuJoules;
  if (job.functionalUnits !== undefined) attributes[sc.ATTR_JOB_FUNCTIONAL_UNITS] = job.functionalUnits;
  if (job.zone !== undefined) attributes[sc.ATTR_CARBON_ZONE] = job.zone;
  return attributes;
}

export function jobSpanData(job: RunJob, run: RunResult, resource: Attributes = {}): JobSpanData {
  return {
    attributes: jobAttributes(job, run),
    resource,
    startMs: run.startMs,
    endMs: run.endMs,
    isError: run.exitCode !== 0,
  };
}

export function enrichRun(
  span: JobSpanData,
  options: { config: Config; logicalCores: number; intensity: IntensityValue; zone: ResolvedZone },
): EnrichResult {
  return enrichJobSpan(span, {
    config: options.config,
    logicalCores: options.logicalCores,
    intensity: () => options.intensity,
    zone: options.zone,
  });
}

/** The `--json-out` object: `co2e estimate --json` field names plus the run's measurements. */
export interface RunReport {
  jobName: string;
  command: string[];
  exitCode: number;
  signal?: string;
  startTime: string;
  endTime: string;
  durationSeconds: number;
  cpuSeconds?: number;
  /** Measured CPU package energy attributed to the run (`rapl` model), J. */
  cpuJoules?: number;
  memoryAvgBytes?: number;
  memoryPeakBytes?: number;
  /** Storage I/O (`/proc/PID/io` read_bytes + write_bytes); not part of the energy model. */
  ioReadBytes?: number;
  ioWriteBytes?: number;
  ioBytes?: number;
  gpuJoules?: number;
  gpuCount?: number;
  processesSeen?: number;
  energyKwh?: number;
  co2eGrams?: number;
  co2eKg?: number;
  components?: { cpuKwh: number; memoryKwh: number; gpuKwh: number; networkKwh: number; overheadKwh: number };
  intensity: {
    gramsPerKwh: number;
    zone: string;
    source: string;
    method: string;
    resolvedBy: string;
    year?: number;
    dataset?: string;
    datetime?: string;
    fallbackReason?: string;
  };
  pue?: number;
  cpuModel: string;
  marketGrams?: number;
  embodiedGrams?: number;
  functionalUnits?: number;
  sciGramsPerUnit?: number;
  carbonCost?: number;
  currency?: string;
  /** Set when the calculation failed (the run itself is still reported). */
  error?: string;
}

export function buildReport(
  job: RunJob,
  run: RunResult,
  enriched: EnrichResult,
  ctx: { config: Config; intensity: IntensityValue; zone: ResolvedZone },
): RunReport {
  const v = ctx.intensity;
  const report: RunReport = {
    jobName: job.jobName,
    command: job.command,
    exitCode: run.exitCode,
    startTime: new Date(run.startMs).toISOString(),
    endTime: new Date(run.endMs).toISOString(),
    durationSeconds: run.durationSeconds,
    intensity: {
      gramsPerKwh: v.gramsPerKwh,
      zone: v.zone,
      source: v.source,
      method: v.method,
      resolvedBy: ctx.zone.resolvedBy,
    },
    // The model actually used (a `rapl` config without readable powercap falls back to tdp).
    cpuModel: String(enriched.attributes[sc.ATTR_CARBON_MODEL] ?? ctx.config.model.cpu.model),
  };
  if (v.year !== undefined) report.intensity.year = v.year;
  if (v.dataset) report.intensity.dataset = v.dataset;
  if (v.datetime) report.intensity.datetime = v.datetime;
  if (v.fallbackReason) report.intensity.fallbackReason = v.fallbackReason;
  if (run.signal) report.signal = run.signal;
  if (run.cpuSeconds !== undefined) report.cpuSeconds = run.cpuSeconds;
  if (run.cpuJoules !== undefined) report.cpuJoules = run.cpuJoules;
  if (run.memory) {
    report.memoryAvgBytes = Math.round(run.memory.avgBytes);
    report.memoryPeakBytes = run.memory.peakBytes;
  }
  if (run.io) {
    report.ioReadBytes = run.io.readBytes;
    report.ioWriteBytes = run.io.writeBytes;
    report.ioBytes = run.io.readBytes + run.io.writeBytes;
  }
  if (run.gpuJoules !== undefined) {
    report.gpuJoules = run.gpuJoules;
    report.gpuCount = run.gpuCount ?? 0;
  }
  if (run.processesSeen !== undefined) report.processesSeen = run.processesSeen;
  const record = enriched.record;
  if (!record) {
    report.error = String(enriched.attributes[sc.ATTR_CARBON_ERROR] ?? "calculation failed");
    return report;
  }
  const f = record.footprint;
  report.energyKwh = f.energy.totalKwh;
  report.co2eGrams = f.co2eGrams;
  report.co2eKg = f.co2eGrams / 1000;
  report.components = {
    cpuKwh: f.energy.cpuKwh,
    memoryKwh: f.energy.memoryKwh,
    gpuKwh: f.energy.gpuKwh,
    networkKwh: f.energy.networkKwh,
    overheadKwh: f.energy.overheadKwh,
  };
  report.pue = f.energy.pue;
  if (f.marketGrams !== undefined) report.marketGrams = f.marketGrams;
  if (f.embodiedGrams !== undefined) report.embodiedGrams = f.embodiedGrams;
  if (record.functionalUnits !== undefined) report.functionalUnits = record.functionalUnits;
  if (f.sciGramsPerUnit !== undefined) report.sciGramsPerUnit = f.sciGramsPerUnit;
  if (f.carbonCost !== undefined) {
    report.carbonCost = f.carbonCost;
    if (ctx.config.carbonPrice) report.currency = ctx.config.carbonPrice.currency;
  }
  return report;
}

function sig(value: number, digits = 3): string {
  if (value === 0) return "0";
  const abs = Math.abs(value);
  if (abs >= 1e-3 && abs < 1e6) return String(Number(value.toPrecision(digits)));
  return value.toExponential(digits - 1);
}

export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

/** The summary printed to stderr when the command ends. */
export function formatSummary(report: RunReport, notes: { gpu: string }): string {
  const lines: string[] = [];
  const ended = report.signal
    ? `was killed by ${report.signal} (exit ${report.exitCode})`
    : `exited with code ${report.exitCode}`;
  lines.push(`co2e run: ${report.jobName} ${ended} after ${sig(report.durationSeconds)} s`);
  const c = report.components;
  const kwh = (x: number | undefined): string => (x === undefined ? "" : `  → ${sig(x)} kWh`);
  lines.push(
    `  CPU        ${report.cpuSeconds === undefined ? "not measured (no /proc)" : `${sig(report.cpuSeconds)} CPU-s${report.processesSeen ? ` in ${report.processesSeen} process(es)` : ""}`}${report.cpuJoules === undefined ? "" : `, ${sig(report.cpuJoules)} J measured (RAPL share)`}${kwh(c?.cpuKwh)}`,
  );
  lines.push(
    `  memory     ${report.memoryAvgBytes === undefined ? "not measured" : `avg ${formatBytes(report.memoryAvgBytes)}, peak ${formatBytes(report.memoryPeakBytes ?? 0)} resident`}${kwh(c?.memoryKwh)}`,
  );
  lines.push(
    `  GPU        ${report.gpuJoules === undefined ? notes.gpu : `${sig(report.gpuJoules)} J on ${report.gpuCount} GPU(s) (nvidia-smi board power)`}${kwh(c?.gpuKwh)}`,
  );
  lines.push("  network    not measured per process (0 kWh)");
  if (report.ioBytes !== undefined) {
    lines.push(
      `  disk I/O   read ${formatBytes(report.ioReadBytes ?? 0)}, written ${formatBytes(report.ioWriteBytes ?? 0)} (not in the energy model)`,
    );
  }
  if (report.error || report.energyKwh === undefined) {
    lines.push(`  carbon     not computed: ${report.error ?? "unknown error"}`);
    return `${lines.join("\n")}\n`;
  }
  if (report.pue !== undefined && report.pue !== 1)
    lines.push(`  PUE ${sig(report.pue)}   overhead${kwh(c?.overheadKwh)}`);
  lines.push(`  energy     ${sig(report.energyKwh)} kWh (CPU model ${report.cpuModel})`);
  const i = report.intensity;
  const from = [i.source, i.method, i.dataset, i.fallbackReason ? `fallback: ${i.fallbackReason}` : undefined]
    .filter(Boolean)
    .join(", ");
  lines.push(`  intensity  ${sig(i.gramsPerKwh)} gCO₂e/kWh, zone ${i.zone} (by ${i.resolvedBy}; ${from})`);
  lines.push(`  emissions  ${sig(report.co2eGrams ?? 0)} gCO₂e`);
  if (report.sciGramsPerUnit !== undefined) {
    lines.push(`  SCI        ${sig(report.sciGramsPerUnit)} gCO₂e per functional unit`);
  }
  return `${lines.join("\n")}\n`;
}
