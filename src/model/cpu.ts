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
 * reserved for `durationSeconds`, with U × vcpus × duration = cpuSeconds:
 * E = Pmin × vcpus × duration + (Pmax − Pmin) × cpuSeconds.
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
  /** Measured energy for the `rapl` model, joules. */
  measuredJoules?: number;
}

export function cpuJoulesTdp(cpuSeconds: number, params: Omit<TdpCpuParams, "model">): number {
  requireNonNegative("cpuSeconds", cpuSeconds);
  requireNonNegative("tdpWatts", params.tdpWatts);
  requirePositive("logicalCores", params.logicalCores);
  return (cpuSeconds * params.tdpWatts) / params.logicalCores;
}

export function cpuJoulesLinear(
  cpuSeconds: number,
  durationSeconds: number,
  params: Omit<LinearCpuParams, "model">,
): number {
  requireNonNegative("cpuSeconds", cpuSeconds);
  requireNonNegative("durationSeconds", durationSeconds);
  requireNonNegative("minWattsPerVcpu", params.minWattsPerVcpu);
  requireNonNegative("vcpus", params.vcpus);
  if (!(params.maxWattsPerVcpu >= params.minWattsPerVcpu)) {
    requireNonNegative("maxWattsPerVcpu - minWattsPerVcpu", params.maxWattsPerVcpu - params.minWattsPerVcpu);
  }
  return (
    params.minWattsPerVcpu * params.vcpus * durationSeconds +
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
      return cpuJoulesLinear(usage.cpuSeconds, usage.durationSeconds, params);
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
