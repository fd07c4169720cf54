/**
 * The whole per-job calculation in one pure function. The span processor, the gateway, the
 * `co2e estimate` and `co2e run` commands all call this, so one set of numbers serves them all.
 */
import { SECONDS_PER_HOUR } from "./constants.ts";
import { reservedSeconds } from "./cpu.ts";
import { carbonCost, embodiedGrams, marketGrams, operationalGrams, sciGramsPerUnit } from "./emissions.ts";
import { type EnergyBreakdown, type EnergyModelParams, estimateEnergy, type JobUsage } from "./energy.ts";

export interface FootprintParams {
  energy: EnergyModelParams;
  /** Embodied carbon of the hardware the job reserved (SCI M); omitted → no embodied figure. */
  embodied?: { totalEmbodiedKg: number; lifespanYears: number; reservedShare: number };
  /** Price per tonne CO₂e; omitted → no cost figure. */
  carbonPricePerTonne?: number;
  /** Contractual (market-based) factor for the zone, gCO₂e/kWh; omitted → no market figure. */
  marketGramsPerKwh?: number;
}

export interface FootprintInput extends JobUsage {
  /** SCI's R. Omitted or 0 → no SCI figure. */
  functionalUnits?: number;
}

export interface Footprint {
  energy: EnergyBreakdown;
  gramsPerKwh: number;
  /** Operational, location-based, gCO₂e. */
  co2eGrams: number;
  marketGrams?: number;
  embodiedGrams?: number;
  sciGramsPerUnit?: number;
  /** Cost of operational + embodied emissions at the configured price. */
  carbonCost?: number;
}

export function computeFootprint(
  input: FootprintInput,
  gramsPerKwh: number,
  params: FootprintParams,
): Footprint {
  const energy = estimateEnergy(input, params.energy);
  const co2eGrams = operationalGrams(energy.totalKwh, gramsPerKwh);
  const result: Footprint = { energy, gramsPerKwh, co2eGrams };
  if (params.marketGramsPerKwh !== undefined) {
    result.marketGrams = marketGrams(energy.totalKwh, params.marketGramsPerKwh);
  }
  if (params.embodied) {
    // Time reserved = attributed seconds: overlapping jobs split the hardware's time, not each take it.
    result.embodiedGrams = embodiedGrams({
      ...params.embodied,
      reservedHours: reservedSeconds(input) / SECONDS_PER_HOUR,
    });
  }
  if (input.functionalUnits !== undefined && input.functionalUnits > 0) {
    result.sciGramsPerUnit = sciGramsPerUnit(co2eGrams, result.embodiedGrams ?? 0, input.functionalUnits);
  }
  if (params.carbonPricePerTonne !== undefined) {
    result.carbonCost = carbonCost(co2eGrams + (result.embodiedGrams ?? 0), params.carbonPricePerTonne);
  }
  return result;
}
