/**
 * Range and provenance of one footprint, in the words the span attributes and the CLI's JSON
 * share: the bounds (model/range.ts), the model version, how each component was obtained, what
 * the intensity is, and the boundary. Pure.
 */
import type { Attributes } from "@opentelemetry/api";
import type { EmissionFactorType, IntensityValue } from "../intensity/types.ts";
import { MODEL_VERSION } from "../model/constants.ts";
import type { Footprint, FootprintInput, FootprintParams } from "../model/footprint.ts";
import {
  type Boundary,
  componentProvenance,
  type EnergyComponent,
  type FootprintRange,
  footprintBoundary,
  footprintRange,
  type IntensityNature,
  intensityNature,
  type Provenance,
} from "../model/range.ts";
import * as sc from "../semconv.ts";

export interface FootprintProvenance {
  modelVersion: string;
  /** Components inside the boundary only. */
  components: Partial<Record<EnergyComponent, Provenance>>;
  intensity: {
    nature: IntensityNature;
    estimationMethod?: string;
    emissionFactorType?: EmissionFactorType;
  };
  boundary: Boundary;
}

export interface DescribedFootprint {
  range: FootprintRange;
  provenance: FootprintProvenance;
}

/** Bounds and provenance of a footprint computed from `input` with `params` at `intensity`. */
export function describeFootprint(
  input: FootprintInput,
  params: FootprintParams,
  intensity: IntensityValue,
  footprint: Footprint,
  options: { pueKnown?: boolean } = {},
): DescribedFootprint {
  const cpuModel = params.energy.cpu.model;
  const gpuMeasured = input.gpuJoules !== undefined;
  const nature = intensityNature(intensity);
  const range = footprintRange(footprint, {
    cpuModel,
    gpuMeasured,
    intensityNature: nature,
    intensityFallback: intensity.fallbackReason !== undefined,
    ...(options.pueKnown ? { pueKnown: true } : {}),
  });
  const boundary = footprintBoundary(input, footprint);
  const all = componentProvenance(cpuModel, gpuMeasured);
  const components: Partial<Record<EnergyComponent, Provenance>> = {};
  for (const c of boundary.components) components[c] = all[c];
  const provenance: FootprintProvenance = {
    modelVersion: MODEL_VERSION,
    components,
    intensity: { nature },
    boundary,
  };
  if (nature === "estimated" && intensity.estimationMethod) {
    provenance.intensity.estimationMethod = intensity.estimationMethod;
  }
  if (intensity.emissionFactorType) provenance.intensity.emissionFactorType = intensity.emissionFactorType;
  return { range, provenance };
}

const PROVENANCE_ATTRIBUTE: Record<EnergyComponent, string> = {
  cpu: sc.ATTR_CARBON_PROVENANCE_CPU,
  memory: sc.ATTR_CARBON_PROVENANCE_MEMORY,
  gpu: sc.ATTR_CARBON_PROVENANCE_GPU,
  network: sc.ATTR_CARBON_PROVENANCE_NETWORK,
};

/** The span attributes for a described footprint (added after the central figures). */
export function describedAttributes({ range, provenance }: DescribedFootprint): Attributes {
  const attributes: Attributes = {
    [sc.ATTR_CARBON_CO2E_LOW_GRAMS]: range.co2eGrams.low,
    [sc.ATTR_CARBON_CO2E_HIGH_GRAMS]: range.co2eGrams.high,
    [sc.ATTR_CARBON_ENERGY_LOW_KWH]: range.energyKwh.low,
    [sc.ATTR_CARBON_ENERGY_HIGH_KWH]: range.energyKwh.high,
  };
  if (range.embodiedGrams) {
    attributes[sc.ATTR_CARBON_EMBODIED_LOW_GRAMS] = range.embodiedGrams.low;
    attributes[sc.ATTR_CARBON_EMBODIED_HIGH_GRAMS] = range.embodiedGrams.high;
  }
  attributes[sc.ATTR_CARBON_MODEL_VERSION] = provenance.modelVersion;
  for (const [component, how] of Object.entries(provenance.components)) {
    attributes[PROVENANCE_ATTRIBUTE[component as EnergyComponent]] = how;
  }
  attributes[sc.ATTR_CARBON_INTENSITY_NATURE] = provenance.intensity.nature;
  if (provenance.intensity.estimationMethod) {
    attributes[sc.ATTR_CARBON_INTENSITY_ESTIMATION_METHOD] = provenance.intensity.estimationMethod;
  }
  if (provenance.intensity.emissionFactorType) {
    attributes[sc.ATTR_CARBON_INTENSITY_EMISSION_FACTOR_TYPE] = provenance.intensity.emissionFactorType;
  }
  attributes[sc.ATTR_CARBON_BOUNDARY_COMPONENTS] = [...provenance.boundary.components];
  attributes[sc.ATTR_CARBON_BOUNDARY_SCOPES] = [...provenance.boundary.scopes];
  return attributes;
}
