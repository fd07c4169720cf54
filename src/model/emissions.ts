/** Emissions from energy: operational, market-based, embodied (SCI M), SCI, carbon cost. */
import { GRAMS_PER_TONNE, HOURS_PER_YEAR } from "./constants.ts";
import { requireNonNegative, requirePositive } from "./validate.ts";

/** Operational (location-based) emissions, seed 000: gCO₂e = kWh × gCO₂e/kWh. */
export function operationalGrams(energyKwh: number, gramsPerKwh: number): number {
  return requireNonNegative("energyKwh", energyKwh) * requireNonNegative("gramsPerKwh", gramsPerKwh);
}

/**
 * Market-based emissions with a contractual emission factor (GHG Protocol Scope 2 guidance):
 * same formula, the supplier's or certificate-backed factor instead of the grid's.
 */
export function marketGrams(energyKwh: number, contractualGramsPerKwh: number): number {
  return operationalGrams(energyKwh, contractualGramsPerKwh);
}

export interface EmbodiedParams {
  /** Total embodied emissions of the hardware (TE), kgCO₂e. */
  totalEmbodiedKg: number;
  /** Expected lifespan of the hardware, years. */
  lifespanYears: number;
  /** Time the job reserved the hardware, hours (TiR). */
  reservedHours: number;
  /** Share of the hardware's resources reserved (RR ÷ ToR), 0–1. */
  reservedShare: number;
}

/** SCI M = TE × (TiR ÷ EL) × (RR ÷ ToR), grams. Lifespan in hours of 365.25-day years. */
export function embodiedGrams(p: EmbodiedParams): number {
  requireNonNegative("totalEmbodiedKg", p.totalEmbodiedKg);
  requirePositive("lifespanYears", p.lifespanYears);
  requireNonNegative("reservedHours", p.reservedHours);
  requireNonNegative("reservedShare", p.reservedShare);
  return p.totalEmbodiedKg * 1000 * (p.reservedHours / (p.lifespanYears * HOURS_PER_YEAR)) * p.reservedShare;
}

/** SCI = (E × I + M) ÷ R, gCO₂e per functional unit. */
export function sciGramsPerUnit(operationalG: number, embodiedG: number, functionalUnits: number): number {
  requirePositive("functionalUnits", functionalUnits);
  return (
    (requireNonNegative("operationalGrams", operationalG) + requireNonNegative("embodiedGrams", embodiedG)) /
    functionalUnits
  );
}

/** Carbon cost = tonnes × price per tonne (seed 001 internalises carbon at $50/t). */
export function carbonCost(grams: number, pricePerTonne: number): number {
  return (
    (requireNonNegative("grams", grams) / GRAMS_PER_TONNE) *
    requireNonNegative("pricePerTonne", pricePerTonne)
  );
}

export function gramsToTonnes(grams: number): number {
  return grams / GRAMS_PER_TONNE;
}
