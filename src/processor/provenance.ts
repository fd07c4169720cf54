/**
 * Range and provenance of one footprint, in the words the span attributes and the CLI's JSON
 * share: the bounds (model/range.ts), the model version, how each component was obtained, what
 * the intensity is, and the boundary. Pure.
 */
import type { Attributes, AttributeValue } from "@opentelemetry/api";
import type { EmissionFactorType, IntensityValue } from "../intensity/types.ts";
import { MODEL_VERSION } from "../model/constants.ts";
import type { CpuModelName } from "../model/cpu.ts";
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
import { namedSetter } from "../util/named-setter.ts";

/** One named store per attribute key (see util/named-setter.ts). */
const set = {
  carbonCo2eLowGrams: namedSetter<AttributeValue>(sc.ATTR_CARBON_CO2E_LOW_GRAMS),
  carbonCo2eHighGrams: namedSetter<AttributeValue>(sc.ATTR_CARBON_CO2E_HIGH_GRAMS),
  carbonEnergyLowKwh: namedSetter<AttributeValue>(sc.ATTR_CARBON_ENERGY_LOW_KWH),
  carbonEnergyHighKwh: namedSetter<AttributeValue>(sc.ATTR_CARBON_ENERGY_HIGH_KWH),
  carbonEmbodiedLowGrams: namedSetter<AttributeValue>(sc.ATTR_CARBON_EMBODIED_LOW_GRAMS),
  carbonEmbodiedHighGrams: namedSetter<AttributeValue>(sc.ATTR_CARBON_EMBODIED_HIGH_GRAMS),
  carbonModelVersion: namedSetter<AttributeValue>(sc.ATTR_CARBON_MODEL_VERSION),
  carbonProvenanceCpu: namedSetter<AttributeValue>(sc.ATTR_CARBON_PROVENANCE_CPU),
  carbonProvenanceMemory: namedSetter<AttributeValue>(sc.ATTR_CARBON_PROVENANCE_MEMORY),
  carbonProvenanceGpu: namedSetter<AttributeValue>(sc.ATTR_CARBON_PROVENANCE_GPU),
  carbonProvenanceNetwork: namedSetter<AttributeValue>(sc.ATTR_CARBON_PROVENANCE_NETWORK),
  carbonIntensityNature: namedSetter<AttributeValue>(sc.ATTR_CARBON_INTENSITY_NATURE),
  carbonIntensityEstimationMethod: namedSetter<AttributeValue>(sc.ATTR_CARBON_INTENSITY_ESTIMATION_METHOD),
  carbonIntensityEmissionFactorType: namedSetter<AttributeValue>(
    sc.ATTR_CARBON_INTENSITY_EMISSION_FACTOR_TYPE,
  ),
  carbonBoundaryComponents: namedSetter<AttributeValue>(sc.ATTR_CARBON_BOUNDARY_COMPONENTS),
  carbonBoundaryScopes: namedSetter<AttributeValue>(sc.ATTR_CARBON_BOUNDARY_SCOPES),
};

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

/** Distinct provenances are few (a handful of CPU models × natures × inputs); the bound is a guard. */
const MAX_PROVENANCES = 256;
const provenances = new Map<string, FootprintProvenance>();
/** The provenance found last, with what it was found by: consecutive jobs are mostly of one kind. */
let lastProvenance:
  | {
      cpuModel: CpuModelName;
      nature: IntensityNature;
      present: number;
      estimationMethod: string | undefined;
      emissionFactorType: EmissionFactorType | undefined;
      provenance: FootprintProvenance;
    }
  | undefined;

function buildProvenance(
  input: FootprintInput,
  footprint: Footprint,
  cpuModel: CpuModelName,
  gpuMeasured: boolean,
  nature: IntensityNature,
  estimationMethod: string | undefined,
  emissionFactorType: EmissionFactorType | undefined,
): FootprintProvenance {
  const boundary = footprintBoundary(input, footprint);
  const all = componentProvenance(cpuModel, gpuMeasured);
  const components: Partial<Record<EnergyComponent, Provenance>> = {};
  for (const c of boundary.components) components[c] = all[c];
  const intensity: FootprintProvenance["intensity"] = { nature };
  if (estimationMethod) intensity.estimationMethod = estimationMethod;
  if (emissionFactorType) intensity.emissionFactorType = emissionFactorType;
  Object.freeze(boundary.components);
  Object.freeze(boundary.scopes);
  return Object.freeze({
    modelVersion: MODEL_VERSION,
    components: Object.freeze(components),
    intensity: Object.freeze(intensity),
    boundary: Object.freeze(boundary),
  });
}

function provenanceOf(
  input: FootprintInput,
  footprint: Footprint,
  cpuModel: CpuModelName,
  gpuMeasured: boolean,
  intensity: IntensityValue,
  nature: IntensityNature,
): FootprintProvenance {
  const estimationMethod =
    nature === "estimated" && intensity.estimationMethod ? intensity.estimationMethod : undefined;
  const emissionFactorType = intensity.emissionFactorType || undefined;
  // Which inputs are present, as footprintBoundary reads them.
  const present =
    (input.cpuSeconds !== undefined || input.cpuMeasuredJoules !== undefined ? 1 : 0) |
    (input.memoryAvgBytes !== undefined ? 2 : 0) |
    (input.gpuJoules !== undefined || input.gpuWatts !== undefined ? 4 : 0) |
    (input.networkBytes !== undefined ? 8 : 0) |
    (footprint.embodiedGrams !== undefined ? 16 : 0) |
    (gpuMeasured ? 32 : 0);
  const last = lastProvenance;
  if (
    last !== undefined &&
    last.present === present &&
    last.cpuModel === cpuModel &&
    last.nature === nature &&
    last.estimationMethod === estimationMethod &&
    last.emissionFactorType === emissionFactorType
  ) {
    return last.provenance;
  }
  const key = `${cpuModel}\u0000${nature}\u0000${present}\u0000${estimationMethod ?? ""}\u0000${emissionFactorType ?? ""}`;
  let provenance = provenances.get(key);
  if (provenance === undefined) {
    provenance = buildProvenance(
      input,
      footprint,
      cpuModel,
      gpuMeasured,
      nature,
      estimationMethod,
      emissionFactorType,
    );
    if (provenances.size >= MAX_PROVENANCES) provenances.clear();
    provenances.set(key, provenance);
  }
  lastProvenance = { cpuModel, nature, present, estimationMethod, emissionFactorType, provenance };
  return provenance;
}

/**
 * Bounds and provenance of a footprint computed from `input` with `params` at `intensity`. The
 * provenance is shared between footprints of the same kind and frozen.
 */
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
    pueKnown: options.pueKnown === true,
  });
  return { range, provenance: provenanceOf(input, footprint, cpuModel, gpuMeasured, intensity, nature) };
}

/** The span attributes for a described footprint (added after the central figures). */
export function describedAttributes(described: DescribedFootprint): Attributes {
  const attributes: Attributes = {};
  writeDescribedAttributes(attributes, described);
  return attributes;
}

/** Writes the attributes of a description into `out`, one named store per key (util/named-setter.ts). */
export function writeDescribedAttributes(out: Attributes, { range, provenance }: DescribedFootprint): void {
  set.carbonCo2eLowGrams(out, range.co2eGrams.low);
  set.carbonCo2eHighGrams(out, range.co2eGrams.high);
  set.carbonEnergyLowKwh(out, range.energyKwh.low);
  set.carbonEnergyHighKwh(out, range.energyKwh.high);
  if (range.embodiedGrams) {
    set.carbonEmbodiedLowGrams(out, range.embodiedGrams.low);
    set.carbonEmbodiedHighGrams(out, range.embodiedGrams.high);
  }
  set.carbonModelVersion(out, provenance.modelVersion);
  // Components in boundary order (cpu, memory, gpu, network); only those inside the boundary.
  const components = provenance.components;
  if (components.cpu) set.carbonProvenanceCpu(out, components.cpu);
  if (components.memory) set.carbonProvenanceMemory(out, components.memory);
  if (components.gpu) set.carbonProvenanceGpu(out, components.gpu);
  if (components.network) set.carbonProvenanceNetwork(out, components.network);
  set.carbonIntensityNature(out, provenance.intensity.nature);
  if (provenance.intensity.estimationMethod) {
    set.carbonIntensityEstimationMethod(out, provenance.intensity.estimationMethod);
  }
  if (provenance.intensity.emissionFactorType) {
    set.carbonIntensityEmissionFactorType(out, provenance.intensity.emissionFactorType);
  }
  // Copies, as the SDK stores array attributes: the shared frozen arrays never reach a span. (Spread,
  // not slice(): slice() of a frozen array takes V8's slow path, ≈ 0.25 µs against ≈ 0.01 µs.)
  set.carbonBoundaryComponents(out, [...provenance.boundary.components]);
  set.carbonBoundaryScopes(out, [...provenance.boundary.scopes]);
}
