/**
 * The label sets one finished job records with, built once per distinct (job_name, service_name,
 * zone, source, status, attribution) and reused: recordJob then allocates no attribute object and
 * builds no series-budget key for a series it has already counted. The attribute objects are never
 * mutated after they are built (the metrics SDK keeps the first one of each series as its key).
 * Each set also holds its counters' increments and its histogram values since the last collection
 * (`pending`).
 *
 * Bounded: at most MAX_CACHED_LABEL_SETS sets in all and MAX_SETS_PER_JOB per (job_name,
 * service_name); beyond either, the caller builds fresh ones per job as before (same labels,
 * same budget notes).
 */
import type { Attributes } from "@opentelemetry/api";
import * as sc from "../semconv.ts";

/** Far above the series a process keeps (views.ts limits); only memory for label objects. */
export const MAX_CACHED_LABEL_SETS = 4096;
/** Zones × sources × statuses × attributions of one job in one service, generously. */
export const MAX_SETS_PER_JOB = 64;

/** The energy components, in the order recordJob writes them. */
export const ENERGY_COMPONENT_NAMES = ["cpu", "memory", "gpu", "network", "overhead"] as const;
/** The carbon scopes, in the order recordJob writes them. */
export const CARBON_SCOPE_NAMES = ["operational", "embodied", "market"] as const;

export interface JobLabelSet {
  readonly zone: string;
  readonly source: string;
  readonly status: string;
  readonly attribution: string;
  /** job_name + service_name (functional units, best hour). */
  readonly job: Attributes;
  /** co2e_job_runs. */
  readonly runs: Attributes;
  /** The histograms: per job_name, or job_name + service_name with full histograms. */
  readonly histogram: Attributes;
  /** co2e_job_energy, indexed like ENERGY_COMPONENT_NAMES. */
  readonly energy: readonly Attributes[];
  /** co2e_job_carbon, indexed like CARBON_SCOPE_NAMES. */
  readonly carbon: readonly Attributes[];
  /** The grid intensity gauge's series: zone and source with a separator no label value has. */
  readonly gridKey: string;
  /**
   * Series-budget notes already made for this set: bit 0 runs, bits 1–5 energy components, bits
   * 6–8 carbon scopes. A noted key stays noted (SeriesBudget only grows), so once is enough.
   */
  noted: number;
  /** Counter increments and histogram values not yet given to the instruments. */
  readonly pending: PendingSums;
}

/**
 * Increments of one label set's counters since the last flush. `touched` has a bit per series that
 * received an increment (even 0: the series then exists): the NOTED_* layout, then PENDING_*.
 */
export interface PendingSums {
  touched: number;
  runs: number;
  /** Indexed like ENERGY_COMPONENT_NAMES, joules. */
  readonly energy: Float64Array;
  /** Indexed like CARBON_SCOPE_NAMES, grams. */
  readonly carbon: Float64Array;
  units: number;
  bestHour: number;
  low: number;
  high: number;
  /** Histogram values waiting, at most PENDING_HISTOGRAM_VALUES: job durations (s), gCO₂e per run. */
  histogramCount: number;
  readonly durationsSeconds: Float64Array;
  readonly perRunGrams: Float64Array;
}

/**
 * Histogram values one label set holds before they are recorded together (at a collection, or when
 * this many wait). Bounds the memory to 512 B per set.
 */
export const PENDING_HISTOGRAM_VALUES = 32;

/** Separates zone and source in gridKey (carbon-metrics.ts builds the same keys). */
export const GRID_KEY_SEPARATOR = "\u0000";

export const NOTED_RUNS = 1;
export const notedEnergy = (i: number): number => 1 << (1 + i);
export const notedCarbon = (i: number): number => 1 << (6 + i);
export const PENDING_UNITS = 1 << 9;
export const PENDING_BEST_HOUR = 1 << 10;
export const PENDING_RANGE = 1 << 11;

function emptyPending(): PendingSums {
  return {
    touched: 0,
    runs: 0,
    energy: new Float64Array(ENERGY_COMPONENT_NAMES.length),
    carbon: new Float64Array(CARBON_SCOPE_NAMES.length),
    units: 0,
    bestHour: 0,
    low: 0,
    high: 0,
    histogramCount: 0,
    durationsSeconds: new Float64Array(PENDING_HISTOGRAM_VALUES),
    perRunGrams: new Float64Array(PENDING_HISTOGRAM_VALUES),
  };
}

export function buildLabelSet(
  jobName: string,
  serviceName: string,
  zone: string,
  source: string,
  status: string,
  attribution: string,
  fullHistogram: boolean,
): JobLabelSet {
  const job: Attributes = { [sc.LABEL_JOB_NAME]: jobName, [sc.LABEL_SERVICE_NAME]: serviceName };
  const zoneSource = { [sc.LABEL_ZONE]: zone, [sc.LABEL_SOURCE]: source };
  return {
    zone,
    source,
    status,
    attribution,
    job,
    runs: { ...job, [sc.LABEL_STATUS]: status, ...zoneSource, [sc.LABEL_ATTRIBUTION]: attribution },
    histogram: fullHistogram ? job : { [sc.LABEL_JOB_NAME]: jobName },
    energy: ENERGY_COMPONENT_NAMES.map((component) => ({ ...job, [sc.LABEL_COMPONENT]: component })),
    carbon: CARBON_SCOPE_NAMES.map((scope) => ({ ...job, [sc.LABEL_SCOPE]: scope, ...zoneSource })),
    gridKey: zone + GRID_KEY_SEPARATOR + source,
    noted: 0,
    pending: emptyPending(),
  };
}

/** Label sets by job_name, then service_name, then a short list matched on the other four labels. */
export class JobLabelSets {
  readonly #byJob = new Map<string, Map<string, JobLabelSet[]>>();
  #size = 0;

  /** The cached set for these labels, creating it when there is room; undefined when full. */
  get(
    jobName: string,
    serviceName: string,
    zone: string,
    source: string,
    status: string,
    attribution: string,
    fullHistogram: (jobName: string) => boolean,
  ): JobLabelSet | undefined {
    let byService = this.#byJob.get(jobName);
    if (byService === undefined) {
      if (this.#size >= MAX_CACHED_LABEL_SETS) return undefined;
      byService = new Map();
      this.#byJob.set(jobName, byService);
    }
    let sets = byService.get(serviceName);
    if (sets === undefined) {
      if (this.#size >= MAX_CACHED_LABEL_SETS) return undefined;
      sets = [];
      byService.set(serviceName, sets);
    }
    for (let i = 0; i < sets.length; i++) {
      const s = sets[i] as JobLabelSet;
      if (s.zone === zone && s.source === source && s.status === status && s.attribution === attribution)
        return s;
    }
    if (this.#size >= MAX_CACHED_LABEL_SETS || sets.length >= MAX_SETS_PER_JOB) return undefined;
    const set = buildLabelSet(
      jobName,
      serviceName,
      zone,
      source,
      status,
      attribution,
      fullHistogram(jobName),
    );
    sets.push(set);
    this.#size++;
    return set;
  }
}
