/**
 * CPU energy models, siblings behind one shape (after co2.js: a changed methodology is a new
 * sibling). Each returns joules for the CPU time a job used.
 */
import { requireNonNegative, requirePositive } from "./validate.ts";

export type CpuModelName = "tdp" | "linear" | "rapl";

/**
 * `tdp` (seed 003): P = U × TDP where U = cpuSeconds ÷ (duration × logicalCores), so
 * E = U × TDP × duration = cpuSeconds × TDP ÷ logicalCores. Duration cancels out.
 */
export interface TdpCpuParams {
  model: "tdp";
  tdpWatts: number;
  logicalCores: number;
}

/**
 * `linear` (Cloud Carbon Footprint): per vCPU P = Pmin + U × (Pmax − Pmin). Over `vcpus`
 * reserved for `reservedSeconds`, with U × vcpus × duration = cpuSeconds:
 * E = Pmin × vcpus × reservedSeconds + (Pmax − Pmin) × cpuSeconds.
 * reservedSeconds is the job's attributed wall time: its duration when it ran alone, less when
 * jobs overlapped (the idle floor is paid once, not once per overlapping job).
 */
export interface LinearCpuParams {
  model: "linear";
  minWattsPerVcpu: number;
  maxWattsPerVcpu: number;
  /** vCPUs reserved for the job (idle power is charged for these). */
  vcpus: number;
}

/** `rapl`: package energy measured by the kernel (powercap), joules, already attributed. */
export interface RaplCpuParams {
  model: "rapl";
}

export type CpuModelParams = TdpCpuParams | LinearCpuParams | RaplCpuParams;

export interface CpuUsage {
  cpuSeconds: number;
  durationSeconds: number;
  /**
   * Wall time attributed to the job (its share of intervals it shared with other jobs), s; the
   * linear model's idle power is charged for it. @default durationSeconds
   */
  attributedSeconds?: number;
  /** Measured energy for the `rapl` model, joules. */
  measuredJoules?: number;
}

/**
 * Seconds the job is charged for time-based terms (linear idle power, embodied share): its
 * attributed seconds, never more than its duration; its duration when they are unknown.
 */
export function reservedSeconds(usage: { durationSeconds: number; attributedSeconds?: number }): number {
  requireNonNegative("durationSeconds", usage.durationSeconds);
  if (usage.attributedSeconds === undefined) return usage.durationSeconds;
  return Math.min(requireNonNegative("attributedSeconds", usage.attributedSeconds), usage.durationSeconds);
}

export function cpuJoulesTdp(cpuSeconds: number, params: Omit<TdpCpuParams, "model">): number {
  requireNonNegative("cpuSeconds", cpuSeconds);
  requireNonNegative("tdpWatts", params.tdpWatts);
  requirePositive("logicalCores", params.logicalCores);
  return (cpuSeconds * params.tdpWatts) / params.logicalCores;
}

export function cpuJoulesLinear(
  cpuSeconds: number,
  reservedSeconds: number,
  params: Omit<LinearCpuParams, "model">,
): number {
  requireNonNegative("cpuSeconds", cpuSeconds);
  requireNonNegative("reservedSeconds", reservedSeconds);
  requireNonNegative("minWattsPerVcpu", params.minWattsPerVcpu);
  requireNonNegative("vcpus", params.vcpus);
  if (!(params.maxWattsPerVcpu >= params.minWattsPerVcpu)) {
    requireNonNegative("maxWattsPerVcpu - minWattsPerVcpu", params.maxWattsPerVcpu - params.minWattsPerVcpu);
  }
  return (
    params.minWattsPerVcpu * params.vcpus * reservedSeconds +
    (params.maxWattsPerVcpu - params.minWattsPerVcpu) * cpuSeconds
  );
}

export function cpuJoulesRapl(measuredJoules: number | undefined): number {
  return requireNonNegative("measuredJoules", measuredJoules ?? Number.NaN);
}

/** Joules for the CPU under the chosen model. */
export function cpuJoules(usage: CpuUsage, params: CpuModelParams): number {
  switch (params.model) {
    case "tdp":
      return cpuJoulesTdp(usage.cpuSeconds, params);
    case "linear":
      return cpuJoulesLinear(usage.cpuSeconds, reservedSeconds(usage), params);
    case "rapl":
      return cpuJoulesRapl(usage.measuredJoules);
  }
}

/** Average utilisation of the whole CPU, as seed 003 states it (1.0047 = 100.47 %). */
export function cpuUtilisation(cpuSeconds: number, durationSeconds: number, logicalCores: number): number {
  requirePositive("durationSeconds", durationSeconds);
  requirePositive("logicalCores", logicalCores);
  return cpuSeconds / (durationSeconds * logicalCores);
}
