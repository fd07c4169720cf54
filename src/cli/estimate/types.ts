/** What `co2e estimate` computes: the `--json` object and the factor table. */
import type { ZoneResolvedBy } from "../../intensity/zone.ts";
import type { FootprintBand, FootprintExtras } from "../../run/report.ts";
import type { IntensitySource } from "../../semconv.ts";

/** One line of the factor table: what went into the calculation and where it came from. */
export interface EstimateFactor {
  name: string;
  value: string;
  unit: string;
  source: string;
}

/** The footprint's optional figures (marketGrams, embodiedGrams, SCI, cost) as in `co2e run`. */
export interface EstimateResult extends FootprintExtras, FootprintBand {
  /** Total energy: (cpu + memory + gpu) × PUE + network, or the given kWh. */
  energyKwh: number;
  /** Operational (location-based) emissions. */
  co2eGrams: number;
  co2eKg: number;
  co2eTonnes: number;
  components: {
    cpuKwh: number;
    memoryKwh: number;
    gpuKwh: number;
    networkKwh: number;
    overheadKwh: number;
    /** Present when the energy was given with --energy-kwh. */
    givenKwh?: number;
  };
  intensity: {
    gramsPerKwh: number;
    /** Null when the intensity was given as a number. */
    zone: string | null;
    source: IntensitySource;
    year?: number;
    dataset?: string;
    /** How the zone was found: `flag`, `config`, `default` (ZONE_RESOLVED_BY). */
    resolvedBy?: ZoneResolvedBy;
  };
  pue: number;
  durationSeconds: number;
  /**
   * `tdp` | `linear` for CPU estimates (a config `rapl` model is estimated as `tdp`: nothing is
   * measured here), `none` when no CPU use was given, `given` for --energy-kwh.
   */
  cpuModel: "tdp" | "linear" | "none" | "given";
  /** Average data-centre power over the duration (IT × PUE, without network), kW. */
  averagePowerKw?: number;
  runsPerYear?: number;
  annualCo2eKg?: number;
  factors: EstimateFactor[];
}

export type EstimateFlagValues = Record<string, string | number | boolean | string[] | boolean[] | undefined>;
