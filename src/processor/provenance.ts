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

/**
 * The parts of a description that depend only on the CPU model, a metered GPU, the intensity's
 * nature and labels, and which inputs are present: built once per combination and shared (frozen),
 * with the span attributes they give. A job span reuses them instead of rebuilding objects, arrays
 * and strings per job.
 */
interface DescriptionShape {
  provenance: FootprintProvenance;
  /** Attribute keys and values written after the bounds, in write order. */
  keys: readonly string[];
  values: readonly AttributeValue[];
}

/** Distinct shapes are few (a handful of CPU models × natures × inputs); the bound is a guard. */
const MAX_SHAPES = 256;
const shapes = new Map<string, DescriptionShape>();
/** The shape found last, with what it was found by: consecutive jobs are mostly of one kind. */
let lastShape:
  | {
      cpuModel: CpuModelName;
      nature: IntensityNature;
      present: number;
      estimationMethod: string | undefined;
      emissionFactorType: EmissionFactorType | undefined;
      shape: DescriptionShape;
    }
  | undefined;

const PROVENANCE_ATTRIBUTE: Record<EnergyComponent, string> = {
  cpu: sc.ATTR_CARBON_PROVENANCE_CPU,
  memory: sc.ATTR_CARBON_PROVENANCE_MEMORY,
  gpu: sc.ATTR_CARBON_PROVENANCE_GPU,
  network: sc.ATTR_CARBON_PROVENANCE_NETWORK,
};

function buildShape(
  input: FootprintInput,
  footprint: Footprint,
  cpuModel: CpuModelName,
  gpuMeasured: boolean,
  nature: IntensityNature,
  estimationMethod: string | undefined,
  emissionFactorType: EmissionFactorType | undefined,
): DescriptionShape {
  const boundary = footprintBoundary(input, footprint);
  const all = componentProvenance(cpuModel, gpuMeasured);
  const components: Partial<Record<EnergyComponent, Provenance>> = {};
  for (const c of boundary.components) components[c] = all[c];
  const intensity: FootprintProvenance["intensity"] = { nature };
  if (estimationMethod) intensity.estimationMethod = estimationMethod;
  if (emissionFactorType) intensity.emissionFactorType = emissionFactorType;
  Object.freeze(boundary.components);
  Object.freeze(boundary.scopes);
  const provenance: FootprintProvenance = Object.freeze({
    modelVersion: MODEL_VERSION,
    components: Object.freeze(components),
    intensity: Object.freeze(intensity),
    boundary: Object.freeze(boundary),
  });
  const keys: string[] = [sc.ATTR_CARBON_MODEL_VERSION];
  const values: AttributeValue[] = [MODEL_VERSION];
  for (const [component, how] of Object.entries(components)) {
    keys.push(PROVENANCE_ATTRIBUTE[component as EnergyComponent]);
    values.push(how);
  }
  keys.push(sc.ATTR_CARBON_INTENSITY_NATURE);
  values.push(nature);
  if (estimationMethod) {
    keys.push(sc.ATTR_CARBON_INTENSITY_ESTIMATION_METHOD);
    values.push(estimationMethod);
  }
  if (emissionFactorType) {
    keys.push(sc.ATTR_CARBON_INTENSITY_EMISSION_FACTOR_TYPE);
    values.push(emissionFactorType);
  }
  keys.push(sc.ATTR_CARBON_BOUNDARY_COMPONENTS, sc.ATTR_CARBON_BOUNDARY_SCOPES);
  values.push(boundary.components, boundary.scopes);
  return { provenance, keys: Object.freeze(keys), values: Object.freeze(values) };
}

function shapeOf(
  input: FootprintInput,
  footprint: Footprint,
  cpuModel: CpuModelName,
  gpuMeasured: boolean,
  intensity: IntensityValue,
  nature: IntensityNature,
): DescriptionShape {
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
  const last = lastShape;
  if (
    last !== undefined &&
    last.present === present &&
    last.cpuModel === cpuModel &&
    last.nature === nature &&
    last.estimationMethod === estimationMethod &&
    last.emissionFactorType === emissionFactorType
  ) {
    return last.shape;
  }
  const key = `${cpuModel}\u0000${nature}\u0000${present}\u0000${estimationMethod ?? ""}\u0000${emissionFactorType ?? ""}`;
  let shape = shapes.get(key);
  if (shape === undefined) {
    shape = buildShape(input, footprint, cpuModel, gpuMeasured, nature, estimationMethod, emissionFactorType);
    if (shapes.size >= MAX_SHAPES) shapes.clear();
    shapes.set(key, shape);
  }
  lastShape = { cpuModel, nature, present, estimationMethod, emissionFactorType, shape };
  return shape;
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
  return describe(input, params, intensity, footprint, options.pueKnown === true).described;
}

function describe(
  input: FootprintInput,
  params: FootprintParams,
  intensity: IntensityValue,
  footprint: Footprint,
  pueKnown: boolean,
): { described: DescribedFootprint; shape: DescriptionShape } {
  const cpuModel = params.energy.cpu.model;
  const gpuMeasured = input.gpuJoules !== undefined;
  const nature = intensityNature(intensity);
  const range = footprintRange(footprint, {
    cpuModel,
    gpuMeasured,
    intensityNature: nature,
    intensityFallback: intensity.fallbackReason !== undefined,
    pueKnown,
  });
  const shape = shapeOf(input, footprint, cpuModel, gpuMeasured, intensity, nature);
  return { described: { range, provenance: shape.provenance }, shape };
}

/**
 * Describes the footprint and appends its span attributes to `out` (in describedAttributes'
 * order). Returns the description.
 */
export function addDescribedAttributes(
  out: { add(key: string, value: AttributeValue): void },
  input: FootprintInput,
  params: FootprintParams,
  intensity: IntensityValue,
  footprint: Footprint,
): DescribedFootprint {
  const { described, shape } = describe(input, params, intensity, footprint, false);
  const range = described.range;
  out.add(sc.ATTR_CARBON_CO2E_LOW_GRAMS, range.co2eGrams.low);
  out.add(sc.ATTR_CARBON_CO2E_HIGH_GRAMS, range.co2eGrams.high);
  out.add(sc.ATTR_CARBON_ENERGY_LOW_KWH, range.energyKwh.low);
  out.add(sc.ATTR_CARBON_ENERGY_HIGH_KWH, range.energyKwh.high);
  if (range.embodiedGrams) {
    out.add(sc.ATTR_CARBON_EMBODIED_LOW_GRAMS, range.embodiedGrams.low);
    out.add(sc.ATTR_CARBON_EMBODIED_HIGH_GRAMS, range.embodiedGrams.high);
  }
  const { keys, values } = shape;
  for (let i = 0; i < keys.length; i++) out.add(keys[i] as string, values[i] as AttributeValue);
  return described;
}

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
