/**
 * The one enrichment path for a job span, shared by the in-process `CarbonSpanProcessor` and the
 * gateway: span attributes in → model → `carbon.*` attributes out, plus a `JobRecord` for the
 * metrics. Pure apart from the intensity callback it is handed; never throws (a failure becomes
 * `carbon.error`).
 */
import type { Attributes, AttributeValue } from "@opentelemetry/api";
import type { Config } from "../config.ts";
import { isAttribution, type JobRecord, num, str } from "../core/job-record.ts";
import { errorText } from "../errors.ts";
import type { IntensityValue, TimeWindow } from "../intensity/types.ts";
import { type ResolvedZone, resolveZone } from "../intensity/zone.ts";
import {
  computeFootprint,
  type Footprint,
  type FootprintInput,
  type FootprintParams,
} from "../model/footprint.ts";
import * as sc from "../semconv.ts";
import { namedSetter } from "../util/named-setter.ts";
import { checkIntensityValue, checkUsagePlausible } from "./plausible-usage.ts";
import { type DescribedFootprint, describeFootprint, writeDescribedAttributes } from "./provenance.ts";

/** One named store per attribute key (see util/named-setter.ts). */
const set = {
  carbonError: namedSetter<AttributeValue>(sc.ATTR_CARBON_ERROR),
  carbonCo2eGrams: namedSetter<AttributeValue>(sc.ATTR_CARBON_CO2E_GRAMS),
  carbonIntensityZone: namedSetter<AttributeValue>(sc.ATTR_CARBON_INTENSITY_ZONE),
  carbonIntensitySource: namedSetter<AttributeValue>(sc.ATTR_CARBON_INTENSITY_SOURCE),
  carbonEnergyKwh: namedSetter<AttributeValue>(sc.ATTR_CARBON_ENERGY_KWH),
  carbonEnergyCpuKwh: namedSetter<AttributeValue>(sc.ATTR_CARBON_ENERGY_CPU_KWH),
  carbonEnergyMemoryKwh: namedSetter<AttributeValue>(sc.ATTR_CARBON_ENERGY_MEMORY_KWH),
  carbonEnergyGpuKwh: namedSetter<AttributeValue>(sc.ATTR_CARBON_ENERGY_GPU_KWH),
  carbonEnergyNetworkKwh: namedSetter<AttributeValue>(sc.ATTR_CARBON_ENERGY_NETWORK_KWH),
  carbonEnergyOverheadKwh: namedSetter<AttributeValue>(sc.ATTR_CARBON_ENERGY_OVERHEAD_KWH),
  carbonPue: namedSetter<AttributeValue>(sc.ATTR_CARBON_PUE),
  carbonIntensity: namedSetter<AttributeValue>(sc.ATTR_CARBON_INTENSITY),
  carbonIntensityMethod: namedSetter<AttributeValue>(sc.ATTR_CARBON_INTENSITY_METHOD),
  carbonZoneResolvedBy: namedSetter<AttributeValue>(sc.ATTR_CARBON_ZONE_RESOLVED_BY),
  carbonModel: namedSetter<AttributeValue>(sc.ATTR_CARBON_MODEL),
  carbonAttribution: namedSetter<AttributeValue>(sc.ATTR_CARBON_ATTRIBUTION),
  carbonIntensityAgeSeconds: namedSetter<AttributeValue>(sc.ATTR_CARBON_INTENSITY_AGE_SECONDS),
  carbonIntensityEstimated: namedSetter<AttributeValue>(sc.ATTR_CARBON_INTENSITY_ESTIMATED),
  carbonIntensityFallbackReason: namedSetter<AttributeValue>(sc.ATTR_CARBON_INTENSITY_FALLBACK_REASON),
  carbonCo2eMarketGrams: namedSetter<AttributeValue>(sc.ATTR_CARBON_CO2E_MARKET_GRAMS),
  carbonEmbodiedGrams: namedSetter<AttributeValue>(sc.ATTR_CARBON_EMBODIED_GRAMS),
  carbonSciGramsPerUnit: namedSetter<AttributeValue>(sc.ATTR_CARBON_SCI_GRAMS_PER_UNIT),
  carbonCost: namedSetter<AttributeValue>(sc.ATTR_CARBON_COST),
  carbonCo2eGramsAtBestHour: namedSetter<AttributeValue>(sc.ATTR_CARBON_CO2E_GRAMS_AT_BEST_HOUR),
};

/** What enrichment needs to know of a span, from the SDK or from OTLP. */
export interface JobSpanData {
  attributes: Attributes;
  /** Resource attributes (`service.name`, `cloud.provider`, `cloud.region`). */
  resource: Attributes;
  startMs: number;
  endMs: number;
  /** true when the span status is ERROR. */
  isError: boolean;
}

/** What enrichJobSpanInto returns beside the attributes it writes. */
export interface EnrichOutcome {
  /** Present when the calculation succeeded. */
  record?: JobRecord;
  /** Range and provenance of the footprint, present with `record`. */
  described?: DescribedFootprint;
}

export interface EnrichResult extends EnrichOutcome {
  /** Attributes to set on the span (carbon.* outputs, or carbon.error). */
  attributes: Attributes;
}

/** Synchronous intensity for a zone and window (cache/static lookup, or an awaited value). */
export type IntensityLookup = (zone: string, window: TimeWindow) => IntensityValue;
/** Lowest intensity of the 24 h around the window, when known (a counterfactual). */
export type BestHourLookup = (zone: string, window: TimeWindow) => number | undefined;

/**
 * Written first, in this order. An SDK span keeps at most OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT (default
 * 128) attributes and silently drops later ones; these are what the metrics and a downstream
 * gateway need to count the job (gateway/enriched-record.ts), so they must be the last to go.
 */
export const PRIORITY_CARBON_ATTRIBUTES = [
  sc.ATTR_CARBON_CO2E_GRAMS,
  sc.ATTR_CARBON_INTENSITY_ZONE,
  sc.ATTR_CARBON_INTENSITY_SOURCE,
  sc.ATTR_CARBON_ENERGY_KWH,
] as const;

/** Model input from the job.* attributes. Missing counters count as not measured. */
export function usageFromAttributes(attributes: Attributes, durationSeconds: number): FootprintInput {
  const sent = num(attributes[sc.ATTR_JOB_NETWORK_BYTES_SENT]);
  const received = num(attributes[sc.ATTR_JOB_NETWORK_BYTES_RECEIVED]);
  return {
    durationSeconds,
    cpuSeconds: num(attributes[sc.ATTR_JOB_CPU_SECONDS]),
    cpuMeasuredJoules: num(attributes[sc.ATTR_JOB_CPU_JOULES]),
    memoryAvgBytes: num(attributes[sc.ATTR_JOB_MEMORY_AVG_BYTES]),
    gpuJoules: num(attributes[sc.ATTR_JOB_GPU_JOULES]),
    networkBytes: sent === undefined && received === undefined ? undefined : (sent ?? 0) + (received ?? 0),
    attributedSeconds: num(attributes[sc.ATTR_JOB_ATTRIBUTED_SECONDS]),
    functionalUnits: num(attributes[sc.ATTR_JOB_FUNCTIONAL_UNITS]),
  };
}

/**
 * Zone for a job span through the one resolver: the span's `carbon.zone` (`attribute`) → config
 * zone or cloud (`config`) → the OTel resource's `cloud.provider` + `cloud.region`
 * (`cloud-region`) → WORLD (`default`).
 */
export function resolveJobZone(
  span: Pick<JobSpanData, "attributes" | "resource">,
  config: Config,
): ResolvedZone {
  return resolveZone({
    attributeZone: str(span.attributes[sc.ATTR_CARBON_ZONE]),
    config,
    resource: { provider: str(span.resource["cloud.provider"]), region: str(span.resource["cloud.region"]) },
    staticYear: config.intensity.staticYear,
  });
}

/**
 * CPU model actually used for a job. `rapl` needs measured joules on the span (`job.cpu.joules`);
 * without them (powercap unreadable, a span from an SDK that does not measure) the job is
 * estimated with the tdp model at `fallbackTdpWatts`, and `carbon.model` says `tdp`.
 */
export function cpuModelParams(
  config: Config,
  logicalCores: number,
  cpuMeasured: boolean,
): FootprintParams["energy"]["cpu"] {
  const cpu = config.model.cpu;
  if (cpu.model === "tdp") return { model: "tdp", tdpWatts: cpu.tdpWatts, logicalCores };
  if (cpu.model === "linear") return cpu;
  return cpuMeasured ? { model: "rapl" } : { model: "tdp", tdpWatts: cpu.fallbackTdpWatts, logicalCores };
}

/**
 * Model parameters for a zone: the zone's PUE and market factor where configured. `cpuMeasured`:
 * the job carries measured CPU joules (only the `rapl` model uses them).
 */
export function footprintParams(
  config: Config,
  zone: string,
  logicalCores: number,
  cpuMeasured = false,
): FootprintParams {
  const params: FootprintParams = {
    energy: {
      cpu: cpuModelParams(config, logicalCores, cpuMeasured),
      memoryWattsPerGb: config.model.memoryWattsPerGb,
      networkKwhPerGb: config.model.networkKwhPerGb,
      pue: config.model.pueByZone[zone] ?? config.model.pue,
    },
  };
  if (config.embodied) params.embodied = config.embodied;
  if (config.carbonPrice) params.carbonPricePerTonne = config.carbonPrice.perTonne;
  const market = config.marketFactors[zone];
  if (market !== undefined) params.marketGramsPerKwh = market;
  return params;
}

export interface EnrichOptions {
  config: Config;
  /** Logical cores for the tdp model (resolved once: config or os.availableParallelism()). */
  logicalCores: number;
  intensity: IntensityLookup;
  bestHour?: BestHourLookup;
  /**
   * Overrides the span's own `carbon.attribution`. Without it the span's value (from the in-process
   * meter, or from any SDK) is kept; a span that says nothing is `exclusive`.
   */
  attribution?: sc.Attribution;
}

/**
 * Most attributes enrichJobSpanInto writes for one span (every optional one present). The span
 * processor writes straight into an SDK span only with this much room under its attribute limit.
 */
export const MAX_ENRICHED_ATTRIBUTES = 39;

/**
 * The carbon attributes and the job record for a job span. `resolved`: the span's zone, when the
 * caller already resolved it (the gateway, before awaiting the intensity; the processor's cache).
 */
export function enrichJobSpan(
  span: JobSpanData,
  options: EnrichOptions,
  resolved?: ResolvedZone,
): EnrichResult {
  const attributes: Attributes = {};
  return { attributes, ...enrichJobSpanInto(span, options, attributes, resolved) };
}

/**
 * enrichJobSpan, with the attributes written into `out` (in write order: PRIORITY_CARBON_ATTRIBUTES
 * first) instead of a new object; `out` can be a span's own attribute object. Everything is
 * computed before the first write, so on failure `out` gains only `carbon.error`.
 *
 * One statement per key: a store site with a constant key keeps an object of many attributes in
 * V8's fast mode, while one site storing varying keys turns it into a hash table (35 attributes:
 * ≈ 0.9 µs instead of ≈ 0.1 µs, Node 24 on this project's machines).
 */
export function enrichJobSpanInto(
  span: JobSpanData,
  options: EnrichOptions,
  out: Attributes,
  resolved?: ResolvedZone,
): EnrichOutcome {
  let zone: ResolvedZone;
  let intensity: IntensityValue;
  let footprint: Footprint;
  let cpuModel: string;
  let attribution: sc.Attribution;
  let described: DescribedFootprint;
  let bestHourGrams: number | undefined;
  let record: JobRecord;
  try {
    const durationSeconds = Math.max(0, (span.endMs - span.startMs) / 1000);
    zone = resolved ?? resolveJobZone(span, options.config);
    const window = { startMs: span.startMs, endMs: span.endMs };
    intensity = options.intensity(zone.zone, window);
    checkIntensityValue(intensity);
    checkUsagePlausible(span.attributes, durationSeconds);
    const usage = usageFromAttributes(span.attributes, durationSeconds);
    const params = footprintParams(
      options.config,
      zone.zone,
      options.logicalCores,
      usage.cpuMeasuredJoules !== undefined,
    );
    // The model actually used: a `rapl` config without measured joules fell back to tdp.
    cpuModel = params.energy.cpu.model;
    footprint = computeFootprint(usage, intensity.gramsPerKwh, params);
    const own = span.attributes[sc.ATTR_CARBON_ATTRIBUTION];
    attribution = options.attribution ?? (isAttribution(own) ? own : sc.ATTRIBUTION.exclusive);
    described = describeFootprint(usage, params, intensity, footprint);
    // Only a live figure has a best-hour counterpart: the cached rows may still hold live hours
    // while this job fell back to the static table, and "live minus best hour" must not mix the two.
    const best =
      intensity.source === sc.INTENSITY_SOURCE.electricityMaps
        ? options.bestHour?.(zone.zone, window)
        : undefined;
    if (best !== undefined) bestHourGrams = footprint.energy.totalKwh * Math.min(best, intensity.gramsPerKwh);
    record = {
      jobName: String(span.attributes[sc.ATTR_JOB_NAME]),
      serviceName: str(span.resource["service.name"]) ?? "unknown_service",
      status: span.isError ? "error" : "ok",
      durationSeconds,
      zone: intensity.zone,
      intensity,
      attribution,
      footprint,
      co2eRange: described.range.co2eGrams,
    };
    if (usage.functionalUnits !== undefined) record.functionalUnits = usage.functionalUnits;
    if (bestHourGrams !== undefined) record.bestHourGrams = bestHourGrams;
  } catch (error) {
    set.carbonError(out, errorText(error));
    return {};
  }
  const e = footprint.energy;
  // Write order: PRIORITY_CARBON_ATTRIBUTES first.
  set.carbonCo2eGrams(out, footprint.co2eGrams);
  set.carbonIntensityZone(out, intensity.zone);
  set.carbonIntensitySource(out, intensity.source);
  set.carbonEnergyKwh(out, e.totalKwh);
  set.carbonEnergyCpuKwh(out, e.cpuKwh);
  set.carbonEnergyMemoryKwh(out, e.memoryKwh);
  set.carbonEnergyGpuKwh(out, e.gpuKwh);
  set.carbonEnergyNetworkKwh(out, e.networkKwh);
  set.carbonEnergyOverheadKwh(out, e.overheadKwh);
  set.carbonPue(out, e.pue);
  set.carbonIntensity(out, intensity.gramsPerKwh);
  set.carbonIntensityMethod(out, intensity.method);
  set.carbonZoneResolvedBy(out, zone.resolvedBy);
  set.carbonModel(out, cpuModel);
  set.carbonAttribution(out, attribution);
  if (intensity.ageSeconds !== undefined) set.carbonIntensityAgeSeconds(out, intensity.ageSeconds);
  if (intensity.isEstimated !== undefined) set.carbonIntensityEstimated(out, intensity.isEstimated);
  if (intensity.fallbackReason) set.carbonIntensityFallbackReason(out, intensity.fallbackReason);
  if (footprint.marketGrams !== undefined) set.carbonCo2eMarketGrams(out, footprint.marketGrams);
  if (footprint.embodiedGrams !== undefined) set.carbonEmbodiedGrams(out, footprint.embodiedGrams);
  if (footprint.sciGramsPerUnit !== undefined) {
    set.carbonSciGramsPerUnit(out, footprint.sciGramsPerUnit);
  }
  if (footprint.carbonCost !== undefined) set.carbonCost(out, footprint.carbonCost);
  // Range and provenance: after the central figures, so an attribute limit drops them first.
  writeDescribedAttributes(out, described);
  if (bestHourGrams !== undefined) set.carbonCo2eGramsAtBestHour(out, bestHourGrams);
  return { record, described };
}
