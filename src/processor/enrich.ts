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
import { computeFootprint, type FootprintInput, type FootprintParams } from "../model/footprint.ts";
import * as sc from "../semconv.ts";
import { checkUsagePlausible } from "./plausible-usage.ts";
import { addDescribedAttributes, type DescribedFootprint } from "./provenance.ts";

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

export interface EnrichResult {
  /** Attributes to set on the span (carbon.* outputs, or carbon.error). */
  attributes: Attributes;
  /** Present when the calculation succeeded. */
  record?: JobRecord;
  /** Range and provenance of the footprint, present with `record`. */
  described?: DescribedFootprint;
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
 * Carbon attributes in write order as two parallel lists: the span processor writes them straight
 * onto the span, without building (and walking) an object of some 35 keys per job.
 */
export class AttributeList {
  readonly keys: string[] = [];
  readonly values: AttributeValue[] = [];
  /** Entries in use; the arrays keep their capacity between jobs (`length = 0` would free it). */
  length = 0;

  add(key: string, value: AttributeValue): void {
    this.keys[this.length] = key;
    this.values[this.length++] = value;
  }
}

export interface EnrichListResult {
  /** Present when the calculation succeeded. */
  record?: JobRecord;
  /** Range and provenance of the footprint, present with `record`. */
  described?: DescribedFootprint;
}

/**
 * The carbon attributes and the job record for a job span. `resolved`: the span's zone, when the
 * caller already resolved it (the gateway, before awaiting the intensity; the processor's cache).
 */
export function enrichJobSpan(
  span: JobSpanData,
  options: EnrichOptions,
  resolved?: ResolvedZone,
): EnrichResult {
  const list = new AttributeList();
  const result: EnrichResult = { attributes: {}, ...enrichJobSpanInto(span, options, list, resolved) };
  const { keys, values } = list;
  for (let i = 0; i < list.length; i++) result.attributes[keys[i] as string] = values[i];
  return result;
}

/**
 * enrichJobSpan, with the attributes appended to `out` (in write order: PRIORITY_CARBON_ATTRIBUTES
 * first) instead of returned as an object. On failure `out` holds only `carbon.error`.
 */
export function enrichJobSpanInto(
  span: JobSpanData,
  options: EnrichOptions,
  out: AttributeList,
  resolved?: ResolvedZone,
): EnrichListResult {
  const start = out.length;
  try {
    const durationSeconds = Math.max(0, (span.endMs - span.startMs) / 1000);
    const zone = resolved ?? resolveJobZone(span, options.config);
    const window = { startMs: span.startMs, endMs: span.endMs };
    const intensity = options.intensity(zone.zone, window);
    checkUsagePlausible(span.attributes, durationSeconds);
    const usage = usageFromAttributes(span.attributes, durationSeconds);
    const params = footprintParams(
      options.config,
      zone.zone,
      options.logicalCores,
      usage.cpuMeasuredJoules !== undefined,
    );
    const footprint = computeFootprint(usage, intensity.gramsPerKwh, params);
    const own = span.attributes[sc.ATTR_CARBON_ATTRIBUTION];
    const attribution = options.attribution ?? (isAttribution(own) ? own : sc.ATTRIBUTION.exclusive);
    const e = footprint.energy;
    // Write order: PRIORITY_CARBON_ATTRIBUTES first.
    out.add(sc.ATTR_CARBON_CO2E_GRAMS, footprint.co2eGrams);
    out.add(sc.ATTR_CARBON_INTENSITY_ZONE, intensity.zone);
    out.add(sc.ATTR_CARBON_INTENSITY_SOURCE, intensity.source);
    out.add(sc.ATTR_CARBON_ENERGY_KWH, e.totalKwh);
    out.add(sc.ATTR_CARBON_ENERGY_CPU_KWH, e.cpuKwh);
    out.add(sc.ATTR_CARBON_ENERGY_MEMORY_KWH, e.memoryKwh);
    out.add(sc.ATTR_CARBON_ENERGY_GPU_KWH, e.gpuKwh);
    out.add(sc.ATTR_CARBON_ENERGY_NETWORK_KWH, e.networkKwh);
    out.add(sc.ATTR_CARBON_ENERGY_OVERHEAD_KWH, e.overheadKwh);
    out.add(sc.ATTR_CARBON_PUE, e.pue);
    out.add(sc.ATTR_CARBON_INTENSITY, intensity.gramsPerKwh);
    out.add(sc.ATTR_CARBON_INTENSITY_METHOD, intensity.method);
    out.add(sc.ATTR_CARBON_ZONE_RESOLVED_BY, zone.resolvedBy);
    // The model actually used: a `rapl` config without measured joules fell back to tdp.
    out.add(sc.ATTR_CARBON_MODEL, params.energy.cpu.model);
    out.add(sc.ATTR_CARBON_ATTRIBUTION, attribution);
    if (intensity.ageSeconds !== undefined) {
      out.add(sc.ATTR_CARBON_INTENSITY_AGE_SECONDS, intensity.ageSeconds);
    }
    if (intensity.isEstimated !== undefined) {
      out.add(sc.ATTR_CARBON_INTENSITY_ESTIMATED, intensity.isEstimated);
    }
    if (intensity.fallbackReason) {
      out.add(sc.ATTR_CARBON_INTENSITY_FALLBACK_REASON, intensity.fallbackReason);
    }
    if (footprint.marketGrams !== undefined) {
      out.add(sc.ATTR_CARBON_CO2E_MARKET_GRAMS, footprint.marketGrams);
    }
    if (footprint.embodiedGrams !== undefined) {
      out.add(sc.ATTR_CARBON_EMBODIED_GRAMS, footprint.embodiedGrams);
    }
    if (footprint.sciGramsPerUnit !== undefined) {
      out.add(sc.ATTR_CARBON_SCI_GRAMS_PER_UNIT, footprint.sciGramsPerUnit);
    }
    if (footprint.carbonCost !== undefined) {
      out.add(sc.ATTR_CARBON_COST, footprint.carbonCost);
    }
    // Range and provenance: after the central figures, so an attribute limit drops them first.
    const described = addDescribedAttributes(out, usage, params, intensity, footprint);
    // Only a live figure has a best-hour counterpart: the cached rows may still hold live hours
    // while this job fell back to the static table, and "live minus best hour" must not mix the two.
    const best =
      intensity.source === sc.INTENSITY_SOURCE.electricityMaps
        ? options.bestHour?.(zone.zone, window)
        : undefined;
    let bestHourGrams: number | undefined;
    if (best !== undefined) {
      bestHourGrams = e.totalKwh * Math.min(best, intensity.gramsPerKwh);
      out.add(sc.ATTR_CARBON_CO2E_GRAMS_AT_BEST_HOUR, bestHourGrams);
    }
    const record: JobRecord = {
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
    return { record, described };
  } catch (error) {
    out.length = start;
    out.add(sc.ATTR_CARBON_ERROR, errorText(error));
    return {};
  }
}
