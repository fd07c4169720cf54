/** Energy of a job from its resource counters: pure, no I/O. */

import { BYTES_PER_GB, BYTES_PER_GIB, JOULES_PER_KWH } from "./constants.ts";
import { type CpuModelParams, cpuJoules } from "./cpu.ts";
import { requireNonNegative } from "./validate.ts";

export interface JobUsage {
  durationSeconds: number;
  /**
   * Wall time attributed to the job, s: its duration with each interval it shared with other
   * jobs divided among them. Time-based terms (linear-model idle power, embodied share) use it so
   * overlapping jobs do not each pay for the whole machine. @default durationSeconds
   */
  attributedSeconds?: number;
  cpuSeconds?: number;
  /** Measured CPU package energy (rapl model), joules. */
  cpuMeasuredJoules?: number;
  /**
   * Time-averaged resident memory attributed to the job, bytes. The job meter already divides
   * each interval's RSS among the jobs active in it (Σ rss × dt ÷ n, averaged over the job's
   * duration), so memory energy = this × durationSeconds is the job's share, not the whole
   * process's: it is NOT scaled by attributedSeconds again.
   */
  memoryAvgBytes?: number;
  /** Measured GPU energy, joules (takes precedence over gpuWatts). */
  gpuJoules?: number;
  /** Average GPU board power, W, over the whole duration. */
  gpuWatts?: number;
  /** Bytes sent + received over the network. */
  networkBytes?: number;
}

export interface EnergyModelParams {
  cpu: CpuModelParams;
  /** W per GiB resident. */
  memoryWattsPerGb: number;
  /** kWh per decimal GB transferred. */
  networkKwhPerGb: number;
  /** Power usage effectiveness ≥ 1; multiplies cpu + memory + gpu, not network. */
  pue: number;
}

/** IT energy per component (before PUE) plus the overhead, kWh. The five add up to `totalKwh`. */
export interface EnergyBreakdown {
  cpuKwh: number;
  memoryKwh: number;
  gpuKwh: number;
  networkKwh: number;
  /** (PUE − 1) × (cpu + memory + gpu). */
  overheadKwh: number;
  totalKwh: number;
  pue: number;
}

export function joulesToKwh(joules: number): number {
  return joules / JOULES_PER_KWH;
}

export function memoryKwh(memoryAvgBytes: number, durationSeconds: number, wattsPerGb: number): number {
  requireNonNegative("memoryAvgBytes", memoryAvgBytes);
  requireNonNegative("durationSeconds", durationSeconds);
  return joulesToKwh((memoryAvgBytes / BYTES_PER_GIB) * wattsPerGb * durationSeconds);
}

/** Network energy (seed 002): GB × kWh/GB. Outside PUE: it is spent in the network, not here. */
export function networkKwh(networkBytes: number, kwhPerGb: number): number {
  requireNonNegative("networkBytes", networkBytes);
  return (networkBytes / BYTES_PER_GB) * kwhPerGb;
}

/** GPU energy: measured joules when present, otherwise average watts × duration. */
export function gpuKwh(usage: Pick<JobUsage, "gpuJoules" | "gpuWatts" | "durationSeconds">): number {
  if (usage.gpuJoules !== undefined) return joulesToKwh(requireNonNegative("gpuJoules", usage.gpuJoules));
  if (usage.gpuWatts !== undefined) {
    return joulesToKwh(requireNonNegative("gpuWatts", usage.gpuWatts) * usage.durationSeconds);
  }
  return 0;
}

/** Seed 001's A100 case: GPU power from TDP × utilisation. */
export function gpuWattsFromTdp(tdpWatts: number, utilisation: number): number {
  return requireNonNegative("gpuTdpWatts", tdpWatts) * requireNonNegative("gpuUtilisation", utilisation);
}

export function estimateEnergy(usage: JobUsage, params: EnergyModelParams): EnergyBreakdown {
  requireNonNegative("durationSeconds", usage.durationSeconds);
  if (!(params.pue >= 1)) requireNonNegative("pue - 1", params.pue - 1);
  const cpu =
    usage.cpuSeconds === undefined && usage.cpuMeasuredJoules === undefined
      ? 0
      : joulesToKwh(
          cpuJoules(
            {
              cpuSeconds: usage.cpuSeconds ?? 0,
              durationSeconds: usage.durationSeconds,
              attributedSeconds: usage.attributedSeconds,
              measuredJoules: usage.cpuMeasuredJoules,
            },
            params.cpu,
          ),
        );
  const memory =
    usage.memoryAvgBytes === undefined
      ? 0
      : memoryKwh(usage.memoryAvgBytes, usage.durationSeconds, params.memoryWattsPerGb);
  const gpu = gpuKwh(usage);
  const network =
    usage.networkBytes === undefined ? 0 : networkKwh(usage.networkBytes, params.networkKwhPerGb);
  const it = cpu + memory + gpu;
  const overhead = it * (params.pue - 1);
  return {
    cpuKwh: cpu,
    memoryKwh: memory,
    gpuKwh: gpu,
    networkKwh: network,
    overheadKwh: overhead,
    totalKwh: it + overhead + network,
    pue: params.pue,
  };
}
