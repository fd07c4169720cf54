/**
 * From a measured run to the figures: the run becomes a job span's `job.*` attributes and goes
 * through `enrichJobSpan`, the path the span processor and the gateway use, so `co2e run` and a
 * span of the same job give the same numbers. Then the summary text and the `--json-out` object.
 */
import type { Attributes } from "@opentelemetry/api";
import type { Config } from "../config.ts";
import type { IntensityValue } from "../intensity/types.ts";
import type { ResolvedZone, ZoneResolvedBy } from "../intensity/zone.ts";
import type { Footprint } from "../model/footprint.ts";
import type { Range } from "../model/range.ts";
import {
  type BestHourLookup,
  type EnrichResult,
  enrichJobSpan,
  type JobSpanData,
} from "../processor/enrich.ts";
import type { DescribedFootprint, FootprintProvenance } from "../processor/provenance.ts";
import * as sc from "../semconv.ts";
import {
  formatBytes,
  formatDuration,
  formatExact,
  formatIntensity,
  formatKwh,
  formatMass,
  formatSignificant,
} from "../util/format.ts";
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
  options: {
    config: Config;
    logicalCores: number;
    intensity: IntensityValue;
    zone: ResolvedZone;
    /** Lowest intensity ±12 h around the run (live provider rows), for the best-hour counterfactual. */
    bestHour?: BestHourLookup;
  },
): EnrichResult {
  return enrichJobSpan(
    span,
    {
      config: options.config,
      logicalCores: options.logicalCores,
      intensity: () => options.intensity,
      ...(options.bestHour ? { bestHour: options.bestHour } : {}),
    },
    options.zone,
  );
}

/**
 * Attributes of the exported job span: the inputs, the carbon.* outputs, and `carbon.zone` set
 * to the zone this run resolved (from --zone, --cloud/--region or the config), so a gateway that
 * recomputes the span uses the same zone instead of its own default.
 */
export function exportAttributes(span: JobSpanData, enriched: EnrichResult, zone: ResolvedZone): Attributes {
  return { ...span.attributes, ...enriched.attributes, [sc.ATTR_CARBON_ZONE]: zone.zone };
}

/** The `--json-out` object: `co2e estimate --json` field names plus the run's measurements. */
export interface RunReport extends FootprintExtras, Partial<FootprintBand> {
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
    /** How the zone was found (ZONE_RESOLVED_BY) and the same in words. */
    resolvedBy: ZoneResolvedBy;
    zoneFrom: string;
    year?: number;
    dataset?: string;
    datetime?: string;
    fallbackReason?: string;
  };
  pue?: number;
  cpuModel: string;
  /** Emissions had the run used the lowest intensity ±12 h around it (live rows only), g. */
  bestHourGrams?: number;
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
      zoneFrom: ctx.zone.explanation,
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
  Object.assign(report, footprintExtras(f, record.functionalUnits, ctx.config.carbonPrice?.currency));
  if (record.bestHourGrams !== undefined) report.bestHourGrams = record.bestHourGrams;
  if (enriched.described) Object.assign(report, footprintBand(enriched.described));
  return report;
}

/**
 * The range and provenance of a footprint, as `co2e run --json-out` and `co2e estimate --json`
 * name them: `range` bounds `co2eGrams` (operational), with the same words as the span's
 * `carbon.co2e.low_grams` / `high_grams`, `carbon.provenance.*`, `carbon.intensity.nature`.
 */
export interface FootprintBand {
  range: Range;
  energyRange: Range;
  embodiedRange?: Range;
  provenance: FootprintProvenance;
}

export function footprintBand({ range, provenance }: DescribedFootprint): FootprintBand {
  const band: FootprintBand = { range: range.co2eGrams, energyRange: range.energyKwh, provenance };
  if (range.embodiedGrams) band.embodiedRange = range.embodiedGrams;
  return band;
}

/** What a band is based on: "cpu measured, memory calculated; intensity measured, lifecycle; model 1.0". */
export function formatBandBasis(provenance: FootprintProvenance): string {
  const p = provenance;
  const parts = Object.entries(p.components).map(([c, how]) => `${c} ${how}`);
  const intensity = [p.intensity.nature, p.intensity.estimationMethod, p.intensity.emissionFactorType]
    .filter(Boolean)
    .join(", ");
  return [parts.join(", "), `intensity ${intensity}`, `model ${p.modelVersion}`].filter(Boolean).join("; ");
}

/** The optional figures of a footprint, as `co2e run --json-out` and `co2e estimate --json` name them. */
export interface FootprintExtras {
  marketGrams?: number;
  embodiedGrams?: number;
  functionalUnits?: number;
  sciGramsPerUnit?: number;
  carbonCost?: number;
  currency?: string;
}

/** Only the figures the footprint has; `currency` only beside a cost. */
export function footprintExtras(
  f: Footprint,
  functionalUnits: number | undefined,
  currency: string | undefined,
): FootprintExtras {
  const out: FootprintExtras = {};
  if (f.marketGrams !== undefined) out.marketGrams = f.marketGrams;
  if (f.embodiedGrams !== undefined) out.embodiedGrams = f.embodiedGrams;
  if (functionalUnits !== undefined) out.functionalUnits = functionalUnits;
  if (f.sciGramsPerUnit !== undefined) out.sciGramsPerUnit = f.sciGramsPerUnit;
  if (f.carbonCost !== undefined) {
    out.carbonCost = f.carbonCost;
    if (currency !== undefined) out.currency = currency;
  }
  return out;
}

/** The summary printed to stderr when the command ends. */
export function formatSummary(report: RunReport, notes: { gpu: string }): string {
  const lines: string[] = [];
  const ended = report.signal
    ? `was killed by ${report.signal} (exit ${report.exitCode})`
    : `exited with code ${report.exitCode}`;
  lines.push(`co2e run: ${report.jobName} ${ended} after ${formatDuration(report.durationSeconds)}`);
  const c = report.components;
  const kwh = (x: number | undefined): string => (x === undefined ? "" : `  → ${formatKwh(x)}`);
  const cpu =
    report.cpuSeconds === undefined
      ? "not measured (no /proc)"
      : `${formatSignificant(report.cpuSeconds)} CPU-s${report.processesSeen ? ` in ${report.processesSeen} process(es)` : ""}`;
  const rapl =
    report.cpuJoules === undefined ? "" : `, ${formatSignificant(report.cpuJoules)} J measured (RAPL share)`;
  lines.push(`  CPU        ${cpu}${rapl}${kwh(c?.cpuKwh)}`);
  const memory =
    report.memoryAvgBytes === undefined
      ? "not measured"
      : `avg ${formatBytes(report.memoryAvgBytes)}, peak ${formatBytes(report.memoryPeakBytes ?? 0)} resident`;
  lines.push(`  memory     ${memory}${kwh(c?.memoryKwh)}`);
  const gpu =
    report.gpuJoules === undefined
      ? notes.gpu
      : `${formatSignificant(report.gpuJoules)} J on ${report.gpuCount} GPU(s) (nvidia-smi board power)`;
  lines.push(`  GPU        ${gpu}${kwh(c?.gpuKwh)}`);
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
    lines.push(`  PUE ${formatExact(report.pue)}   overhead${kwh(c?.overheadKwh)}`);
  lines.push(`  energy     ${formatKwh(report.energyKwh)} (CPU model ${report.cpuModel})`);
  const i = report.intensity;
  const from = [i.source, i.method, i.dataset, i.fallbackReason ? `fallback: ${i.fallbackReason}` : undefined]
    .filter(Boolean)
    .join(", ");
  lines.push(`  intensity  ${formatIntensity(i.gramsPerKwh)}, zone ${i.zone} (${i.zoneFrom}; ${from})`);
  lines.push(`  emissions  ${formatMass(report.co2eGrams ?? 0)}CO₂e`);
  if (report.range && report.provenance) {
    const { low, high } = report.range;
    lines.push(
      `  range      ${formatMass(low)} – ${formatMass(high)}CO₂e (${formatBandBasis(report.provenance)})`,
    );
  }
  if (report.bestHourGrams !== undefined) {
    lines.push(`  best hour  ${formatMass(report.bestHourGrams)}CO₂e at the lowest intensity within ±12 h`);
  }
  if (report.sciGramsPerUnit !== undefined) {
    lines.push(`  SCI        ${formatMass(report.sciGramsPerUnit)}CO₂e per functional unit`);
  }
  return `${lines.join("\n")}\n`;
}
