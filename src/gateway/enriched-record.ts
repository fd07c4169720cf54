/**
 * Spans that arrive already enriched (a `co2e run` wrapper or another otel-co2e process put the
 * `carbon.*` attributes on them) are forwarded unchanged: the producer knew its zone and its
 * attribution best. When the producer did not count them in metrics of its own (no
 * `carbon.metrics.recorded=true`), the gateway counts them once, from the span's own figures.
 */
import type { Attributes, AttributeValue } from "@opentelemetry/api";
import { isAttribution, type JobRecord, str } from "../core/job-record.ts";
import { INTENSITY_METHODS, type IntensityMethod, type IntensityValue } from "../intensity/types.ts";
import * as sc from "../semconv.ts";

/** Timing and status of the span, which are not attributes. */
export interface SpanTiming {
  startMs: number;
  endMs: number;
  isError: boolean;
}

const SOURCES = new Set<string>(Object.values(sc.INTENSITY_SOURCE));
const METHODS: ReadonlySet<string> = new Set(INTENSITY_METHODS);

function num(value: AttributeValue | undefined): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

/** The span was enriched before it reached the gateway. */
export function isEnriched(attributes: Attributes): boolean {
  return attributes[sc.ATTR_CARBON_CO2E_GRAMS] !== undefined;
}

/** The producer says it already counted the job in its own metrics. */
export function metricsRecorded(attributes: Attributes): boolean {
  const value = attributes[sc.ATTR_CARBON_METRICS_RECORDED];
  return value === true || value === "true";
}

/**
 * A JobRecord from an enriched span's `job.*` and `carbon.*` attributes, its resource and its
 * timing; undefined when the span lacks what the metrics are labelled and summed by (`job.name`,
 * a finite `carbon.co2e.grams`, `carbon.intensity.zone`, a known `carbon.intensity.source`).
 * Missing energy components count as 0, a missing total as their sum, a missing PUE as 1.
 */
export function recordFromEnrichedAttributes(
  attributes: Attributes,
  resource: Attributes,
  timing: SpanTiming,
): JobRecord | undefined {
  const jobName = str(attributes[sc.ATTR_JOB_NAME]);
  const co2eGrams = num(attributes[sc.ATTR_CARBON_CO2E_GRAMS]);
  const zone = str(attributes[sc.ATTR_CARBON_INTENSITY_ZONE]);
  const source = str(attributes[sc.ATTR_CARBON_INTENSITY_SOURCE]);
  if (jobName === undefined || co2eGrams === undefined || zone === undefined) return undefined;
  if (source === undefined || !SOURCES.has(source)) return undefined;

  const cpuKwh = num(attributes[sc.ATTR_CARBON_ENERGY_CPU_KWH]) ?? 0;
  const memoryKwh = num(attributes[sc.ATTR_CARBON_ENERGY_MEMORY_KWH]) ?? 0;
  const gpuKwh = num(attributes[sc.ATTR_CARBON_ENERGY_GPU_KWH]) ?? 0;
  const networkKwh = num(attributes[sc.ATTR_CARBON_ENERGY_NETWORK_KWH]) ?? 0;
  const overheadKwh = num(attributes[sc.ATTR_CARBON_ENERGY_OVERHEAD_KWH]) ?? 0;
  const totalKwh =
    num(attributes[sc.ATTR_CARBON_ENERGY_KWH]) ?? cpuKwh + memoryKwh + gpuKwh + networkKwh + overheadKwh;
  const gramsPerKwh = num(attributes[sc.ATTR_CARBON_INTENSITY]) ?? Number.NaN;
  const method = str(attributes[sc.ATTR_CARBON_INTENSITY_METHOD]);

  const intensity: IntensityValue = {
    gramsPerKwh,
    zone,
    source: source as sc.IntensitySource,
    method: method !== undefined && METHODS.has(method) ? (method as IntensityMethod) : "latest",
  };
  const estimated = attributes[sc.ATTR_CARBON_INTENSITY_ESTIMATED];
  if (typeof estimated === "boolean") intensity.isEstimated = estimated;
  const age = num(attributes[sc.ATTR_CARBON_INTENSITY_AGE_SECONDS]);
  if (age !== undefined) intensity.ageSeconds = age;
  const fallbackReason = str(attributes[sc.ATTR_CARBON_INTENSITY_FALLBACK_REASON]);
  if (fallbackReason !== undefined) intensity.fallbackReason = fallbackReason;

  const attribution = str(attributes[sc.ATTR_CARBON_ATTRIBUTION]);
  const record: JobRecord = {
    jobName,
    serviceName: str(resource["service.name"]) ?? "unknown_service",
    status: timing.isError ? "error" : "ok",
    durationSeconds: Math.max(0, (timing.endMs - timing.startMs) / 1000),
    zone,
    intensity,
    attribution: isAttribution(attribution) ? attribution : sc.ATTRIBUTION.exclusive,
    footprint: {
      energy: {
        cpuKwh,
        memoryKwh,
        gpuKwh,
        networkKwh,
        overheadKwh,
        totalKwh,
        pue: num(attributes[sc.ATTR_CARBON_PUE]) ?? 1,
      },
      gramsPerKwh,
      co2eGrams,
    },
  };
  const fp = record.footprint;
  const market = num(attributes[sc.ATTR_CARBON_CO2E_MARKET_GRAMS]);
  if (market !== undefined) fp.marketGrams = market;
  const embodied = num(attributes[sc.ATTR_CARBON_EMBODIED_GRAMS]);
  if (embodied !== undefined) fp.embodiedGrams = embodied;
  const sci = num(attributes[sc.ATTR_CARBON_SCI_GRAMS_PER_UNIT]);
  if (sci !== undefined) fp.sciGramsPerUnit = sci;
  const cost = num(attributes[sc.ATTR_CARBON_COST]);
  if (cost !== undefined) fp.carbonCost = cost;
  const units = num(attributes[sc.ATTR_JOB_FUNCTIONAL_UNITS]);
  if (units !== undefined) record.functionalUnits = units;
  const low = num(attributes[sc.ATTR_CARBON_CO2E_LOW_GRAMS]);
  const high = num(attributes[sc.ATTR_CARBON_CO2E_HIGH_GRAMS]);
  if (low !== undefined && high !== undefined) record.co2eRange = { low, high };
  const best = num(attributes[sc.ATTR_CARBON_CO2E_GRAMS_AT_BEST_HOUR]);
  if (best !== undefined) record.bestHourGrams = best;
  return record;
}
