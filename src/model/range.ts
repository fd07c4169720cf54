/**
 * Low and high bounds of a footprint, and where each figure came from (its provenance). Pure: the
 * central figures are computeFootprint's, unchanged; the bounds scale each component by its range
 * factors (constants.ts) and combine them by interval arithmetic:
 *
 *   energy_low  = (cpu × cpu_low + memory × memory_low + gpu × gpu_low) × PUE_low + network × network_low
 *   co2e_low    = energy_low × intensity × intensity_low
 *   embodied_low = embodied × embodied_low
 *   total_low   = co2e_low + embodied_low
 *
 * and the same with every `high`. Every factor brackets 1, so every range contains its central
 * value. The bounds are not a confidence interval: they are the figures the most favourable and
 * the least favourable of the cited sources would give.
 */
import {
  CPU_MODELLED_RANGE,
  CPU_RAPL_RANGE,
  EMBODIED_RANGE,
  GPU_MEASURED_RANGE,
  GPU_RATED_RANGE,
  INTENSITY_CONFIGURED_RANGE,
  INTENSITY_ESTIMATED_RANGE,
  INTENSITY_FALLBACK_RANGE,
  INTENSITY_FORECAST_RANGE,
  INTENSITY_MEASURED_RANGE,
  INTENSITY_YEARLY_RANGE,
  MEMORY_RANGE,
  NETWORK_RANGE,
  PUE_UNCONFIGURED_HIGH,
  type RangeFactors,
} from "./constants.ts";
import type { CpuModelName } from "./cpu.ts";
import type { JobUsage } from "./energy.ts";
import type { Footprint } from "./footprint.ts";

export interface Range {
  low: number;
  high: number;
}

/**
 * How a component's figure was obtained (the Green Software Foundation's SCI vocabulary):
 * `measured` (a meter: RAPL, the GPU's sensor), `calculated` (measured activity × a coefficient:
 * CPU seconds, resident memory, bytes), `estimated` (an assumed figure: rated GPU power).
 */
export type Provenance = "measured" | "calculated" | "estimated";

/**
 * What the grid intensity is: `measured` (a live hour from metered generation), `estimated` (a
 * live hour Electricity Maps marks `isEstimated`), `forecast`, `yearly-average` (the static
 * table), `configured` (a figure the user set).
 */
export type IntensityNature = "measured" | "estimated" | "forecast" | "yearly-average" | "configured";

export const ENERGY_COMPONENTS = ["cpu", "memory", "gpu", "network"] as const;
export type EnergyComponent = (typeof ENERGY_COMPONENTS)[number];

/** What the bounds depend on besides the footprint. */
export interface RangeContext {
  /** CPU model actually used. */
  cpuModel: CpuModelName;
  /** The GPU figure came from the board's sensor (joules), not from rated watts. */
  gpuMeasured: boolean;
  intensityNature: IntensityNature;
  /** The live provider was asked but the static table answered. */
  intensityFallback: boolean;
  /**
   * The PUE is known as it is (given on the command line, or not applied to a given total): no
   * range, even at 1. @default false (a PUE of 1 means "no overhead assumed")
   */
  pueKnown?: boolean;
}

export interface FootprintRange {
  /** Total energy, kWh. */
  energyKwh: Range;
  /** Operational gCO₂e (brackets Footprint.co2eGrams). */
  co2eGrams: Range;
  /** Embodied gCO₂e, when the footprint has it. */
  embodiedGrams?: Range;
  /** Operational + embodied gCO₂e. */
  totalGrams: Range;
}

export function cpuRangeFactors(model: CpuModelName): RangeFactors {
  return model === "rapl" ? CPU_RAPL_RANGE : CPU_MODELLED_RANGE;
}

export function gpuRangeFactors(measured: boolean): RangeFactors {
  return measured ? GPU_MEASURED_RANGE : GPU_RATED_RANGE;
}

/** PUE bounds: a PUE of 1 means "no overhead assumed", so its high bound is the industry average. */
export function pueRange(pue: number): Range {
  return pue > 1 ? { low: pue, high: pue } : { low: pue, high: Math.max(pue, PUE_UNCONFIGURED_HIGH) };
}

export function intensityRangeFactors(nature: IntensityNature, fallback: boolean): RangeFactors {
  switch (nature) {
    case "measured":
      return INTENSITY_MEASURED_RANGE;
    case "estimated":
      return INTENSITY_ESTIMATED_RANGE;
    case "forecast":
      return INTENSITY_FORECAST_RANGE;
    case "yearly-average":
      return fallback ? INTENSITY_FALLBACK_RANGE : INTENSITY_YEARLY_RANGE;
    case "configured":
      return INTENSITY_CONFIGURED_RANGE;
  }
}

/** Bounds of a footprint by interval arithmetic over the component ranges (see the module comment). */
export function footprintRange(fp: Footprint, ctx: RangeContext): FootprintRange {
  const e = fp.energy;
  const cpu = cpuRangeFactors(ctx.cpuModel);
  const gpu = gpuRangeFactors(ctx.gpuMeasured);
  // pueRange, without its object: the known PUE or a PUE > 1 is exact; 1 reaches the average.
  const pueHigh = ctx.pueKnown || e.pue > 1 ? e.pue : Math.max(e.pue, PUE_UNCONFIGURED_HIGH);
  const intensity = intensityRangeFactors(ctx.intensityNature, ctx.intensityFallback);
  const energyLow =
    (e.cpuKwh * cpu.low + e.memoryKwh * MEMORY_RANGE.low + e.gpuKwh * gpu.low) * e.pue +
    e.networkKwh * NETWORK_RANGE.low;
  const energyHigh =
    (e.cpuKwh * cpu.high + e.memoryKwh * MEMORY_RANGE.high + e.gpuKwh * gpu.high) * pueHigh +
    e.networkKwh * NETWORK_RANGE.high;
  const co2eLow = energyLow * fp.gramsPerKwh * intensity.low;
  const co2eHigh = energyHigh * fp.gramsPerKwh * intensity.high;
  const energyKwh = { low: energyLow, high: energyHigh };
  const co2eGrams = { low: co2eLow, high: co2eHigh };
  if (fp.embodiedGrams === undefined) {
    return { energyKwh, co2eGrams, totalGrams: { low: co2eLow, high: co2eHigh } };
  }
  const embodiedLow = fp.embodiedGrams * EMBODIED_RANGE.low;
  const embodiedHigh = fp.embodiedGrams * EMBODIED_RANGE.high;
  return {
    energyKwh,
    co2eGrams,
    totalGrams: { low: co2eLow + embodiedLow, high: co2eHigh + embodiedHigh },
    embodiedGrams: { low: embodiedLow, high: embodiedHigh },
  };
}

/** Provenance of each component, from the CPU model used and whether the GPU was metered. */
export function componentProvenance(
  cpuModel: CpuModelName,
  gpuMeasured: boolean,
): Record<EnergyComponent, Provenance> {
  return {
    cpu: cpuModel === "rapl" ? "measured" : "calculated",
    memory: "calculated",
    gpu: gpuMeasured ? "measured" : "estimated",
    network: "calculated",
  };
}

/**
 * Nature of an intensity from its source, method and the provider's estimation flag. The words
 * of the source (`electricitymaps`, `static`, `configured`) come from semconv.ts's
 * INTENSITY_SOURCE; the model only needs to know which is which.
 */
export function intensityNature(value: {
  source: string;
  method: string;
  isEstimated?: boolean;
  isForecast?: boolean;
}): IntensityNature {
  if (value.method === "configured" || value.source === "configured") return "configured";
  if (value.method === "yearly-average") return "yearly-average";
  if (value.isForecast) return "forecast";
  return value.isEstimated ? "estimated" : "measured";
}

/** What a footprint covers: the components whose input was given, and the emission scopes. */
export interface Boundary {
  components: EnergyComponent[];
  /** `operational` always; `embodied` when the hardware's embodied carbon is configured. */
  scopes: ("operational" | "embodied")[];
}

/**
 * The boundary of a footprint. A component is inside when its input was present (CPU seconds or
 * joules, resident memory, GPU joules or watts, network bytes): an absent input means "not
 * measured", which is not the same as zero.
 */
export function footprintBoundary(
  usage: Pick<
    JobUsage,
    "cpuSeconds" | "cpuMeasuredJoules" | "memoryAvgBytes" | "gpuJoules" | "gpuWatts" | "networkBytes"
  >,
  fp: Pick<Footprint, "embodiedGrams">,
): Boundary {
  const components: EnergyComponent[] = [];
  if (usage.cpuSeconds !== undefined || usage.cpuMeasuredJoules !== undefined) components.push("cpu");
  if (usage.memoryAvgBytes !== undefined) components.push("memory");
  if (usage.gpuJoules !== undefined || usage.gpuWatts !== undefined) components.push("gpu");
  if (usage.networkBytes !== undefined) components.push("network");
  return {
    components,
    scopes: fp.embodiedGrams === undefined ? ["operational"] : ["operational", "embodied"],
  };
}
