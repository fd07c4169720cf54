/**
 * The job and intensity metrics, through any OTel Meter. Instrument names come from semconv.ts;
 * the Prometheus exporter scrapes them as the `PROM_*` names (no unit suffix is added, so the unit
 * is in the instrument name).
 */
import type { Attributes, Meter } from "@opentelemetry/api";
import type { JobRecord } from "../core/job-record.ts";
import type { IntensityObserver, IntensityRequestOutcome, IntensityValue } from "../intensity/types.ts";
import { JOULES_PER_KWH } from "../model/constants.ts";
import * as sc from "../semconv.ts";
import {
  CARBON_PER_RUN_BUCKETS_GRAMS,
  DURATION_BUCKETS_SECONDS,
  jobNameMatcher,
} from "./histogram-layout.ts";
import {
  buildLabelSet,
  CARBON_SCOPE_NAMES,
  GRID_KEY_SEPARATOR,
  type JobLabelSet,
  JobLabelSets,
  NOTED_RUNS,
  notedCarbon,
  notedEnergy,
  PENDING_BEST_HOUR,
  PENDING_HISTOGRAM_VALUES,
  PENDING_RANGE,
  PENDING_UNITS,
} from "./job-label-sets.ts";
import { JobNameLimiter, LabelValueLimiter } from "./job-name-limiter.ts";
import { labelValue } from "./label-value.ts";
import { SeriesBudget } from "./series-budget.ts";
import { carbonCardinalityLimit } from "./views.ts";

export interface CarbonMetrics {
  recordJob(record: JobRecord): void;
  readonly intensityObserver: IntensityObserver;
  /**
   * Exports the CPU a job meter charged to no job (co2e_unattributed_*), read at each collection.
   * One source per key (a meter): a second call with the same key replaces the first.
   */
  addUnattributedSource?(key: object, source: UnattributedCpuSource): void;
}

/** The CPU a job meter charged to no job, cumulative, and its CPU energy. */
export interface UnattributedCpuSource {
  cpuSeconds(): number;
  /** CPU energy of cpuSeconds under the configured model, joules (before PUE). */
  joules(cpuSeconds: number): number;
}

export interface CarbonMetricsOptions {
  /** Distinct job_name values before the rest become job_name="other". */
  jobNameLimit: number;
  /** Where the cap warnings go (one per cap). @default console.warn */
  warn?: (msg: string) => void;
  /** Distinct service_name values before the rest become service_name="other". @default SERVICE_NAME_LIMIT */
  serviceNameLimit?: number;
  /** The Views' per-instrument series limit, to warn before it is reached. @default carbonCardinalityLimit(jobNameLimit) */
  cardinalityLimit?: number;
  /**
   * job_name patterns (`*` = any characters) whose histograms keep service_name, as
   * metrics.fullHistograms; other jobs' histograms are per job_name only. @default []
   */
  fullHistograms?: readonly string[];
}

/**
 * Distinct `service_name` label values kept apart. Each gateway client names its own service, so
 * the value is not ours to bound; 100 services per gateway replica is far above what one team's
 * collector sees, and a fixed cap keeps the config small. Later services count as "other".
 */
export const SERVICE_NAME_LIMIT = 100;
/** service_name beyond the cap: the same word as for job_name. */
export const SERVICE_NAME_OVERFLOW = sc.JOB_NAME_OVERFLOW;

/**
 * Largest amount one job may add to any counter or histogram (joules, grams, seconds, units). A
 * record with a value that is non-finite, negative or above it is not counted at all (one warning
 * per field), so a counter can never become NaN or Inf and never decreases: at most 1e15 per job,
 * a float64 counter needs more than 1e293 jobs to overflow. 1e15 J is 278 GWh and 1e15 g a gigatonne,
 * far beyond any job; the enrichment's own bounds (model/plausible.ts) stop absurd input much earlier.
 */
export const MAX_COUNTER_INCREMENT = 1e15;

/** The first field of a record that must not reach a counter, or undefined when all may. */
function unrecordableField(record: JobRecord): string | undefined {
  const fp = record.footprint;
  const e = fp.energy;
  // Checked without allocating: this runs once per job on the span's end path.
  if (!countable(record.durationSeconds)) return `durationSeconds = ${record.durationSeconds}`;
  if (!countable(fp.co2eGrams)) return `footprint.co2eGrams = ${fp.co2eGrams}`;
  if (!countable(fp.embodiedGrams)) return `footprint.embodiedGrams = ${fp.embodiedGrams}`;
  if (!countable(fp.marketGrams)) return `footprint.marketGrams = ${fp.marketGrams}`;
  if (!countable(record.functionalUnits)) return `functionalUnits = ${record.functionalUnits}`;
  if (!countable(record.bestHourGrams)) return `bestHourGrams = ${record.bestHourGrams}`;
  if (!countable(record.co2eRange?.low)) return `co2eRange.low = ${record.co2eRange?.low}`;
  if (!countable(record.co2eRange?.high)) return `co2eRange.high = ${record.co2eRange?.high}`;
  for (let i = 0; i < ENERGY_COMPONENTS.length; i++) {
    const kwh = componentKwh(e, i);
    if (!countable(kwh * JOULES_PER_KWH)) {
      return `footprint.energy.${(ENERGY_COMPONENTS[i] as (typeof ENERGY_COMPONENTS)[number])[1]} = ${kwh} kWh`;
    }
  }
  return undefined;
}

/**
 * Energy component i of a footprint (ENERGY_COMPONENTS order), kWh. Named loads: one keyed load
 * site that sees five keys goes megamorphic in V8, on every job's end path.
 */
function componentKwh(e: JobRecord["footprint"]["energy"], i: number): number {
  switch (i) {
    case 0:
      return e.cpuKwh;
    case 1:
      return e.memoryKwh;
    case 2:
      return e.gpuKwh;
    case 3:
      return e.networkKwh;
    default:
      return e.overheadKwh;
  }
}

/** Absent, or a number a counter may take: finite, ≥ 0, ≤ MAX_COUNTER_INCREMENT. */
function countable(value: number | undefined): boolean {
  return (
    value === undefined || (typeof value === "number" && value >= 0 && value <= MAX_COUNTER_INCREMENT) // NaN fails both
  );
}

/** The observable whose callback flushes pending increments (never exported: it observes nothing). */
const FLUSH_HOOK_INSTRUMENT = "co2e_internal_collection_hook";

/** A gauge series' value waiting for the next collection. */
interface PendingGauge {
  readonly attributes: Attributes;
  gramsPerKwh: number;
  pending: boolean;
}

/** (zone, source) pairs whose grid value waits for the collection; zones are resolved, so few. */
const MAX_GRID_SERIES = 4096;

/** Separates label values in SeriesBudget keys (cannot appear in UTF-8 text we label with). */
const SEP = "\u0000";

/** Re-exported: the bucket bounds are part of this module's public surface. */
export { CARBON_PER_RUN_BUCKETS_GRAMS, DURATION_BUCKETS_SECONDS };

const ENERGY_COMPONENTS = [
  ["cpu", "cpuKwh"],
  ["memory", "memoryKwh"],
  ["gpu", "gpuKwh"],
  ["network", "networkKwh"],
  ["overhead", "overheadKwh"],
] as const;

export function createCarbonMetrics(meter: Meter, options: CarbonMetricsOptions): CarbonMetrics {
  const warn = options.warn ?? ((msg: string) => console.warn(msg));
  const limiter = new JobNameLimiter(options.jobNameLimit, warn);
  const services = new LabelValueLimiter({
    label: sc.LABEL_SERVICE_NAME,
    limit: options.serviceNameLimit ?? SERVICE_NAME_LIMIT,
    overflow: SERVICE_NAME_OVERFLOW,
    hint: `at most ${options.serviceNameLimit ?? SERVICE_NAME_LIMIT} services per process`,
    warn,
  });
  const budget = new SeriesBudget(
    options.cardinalityLimit ?? carbonCardinalityLimit(options.jobNameLimit),
    warn,
  );
  const fullHistograms = jobNameMatcher(options.fullHistograms ?? []);
  const runs = meter.createCounter(sc.METRIC_JOB_RUNS_INSTRUMENT, {
    description: "Finished jobs.",
    unit: "{run}",
  });
  const duration = meter.createHistogram(sc.METRIC_JOB_DURATION_INSTRUMENT, {
    description: "Job duration, seconds.",
    unit: "s",
    advice: { explicitBucketBoundaries: [...DURATION_BUCKETS_SECONDS] },
  });
  const energy = meter.createCounter(sc.METRIC_JOB_ENERGY_INSTRUMENT, {
    description: "Job energy by component, joules (overhead = (PUE − 1) × IT energy).",
    unit: "J",
  });
  const carbon = meter.createCounter(sc.METRIC_JOB_CARBON_INSTRUMENT, {
    description: "Job emissions, gCO₂e, by scope (operational = location-based, embodied, market).",
    unit: "g",
  });
  const perRun = meter.createHistogram(sc.METRIC_JOB_CARBON_PER_RUN_INSTRUMENT, {
    description: "Operational gCO₂e per job run.",
    unit: "g",
    advice: { explicitBucketBoundaries: [...CARBON_PER_RUN_BUCKETS_GRAMS] },
  });
  const units = meter.createCounter(sc.METRIC_JOB_FUNCTIONAL_UNITS_INSTRUMENT, {
    description: "Functional units produced by jobs (SCI's R).",
    unit: "{unit}",
  });
  const bestHour = meter.createCounter(sc.METRIC_JOB_CARBON_BEST_HOUR_INSTRUMENT, {
    description: "gCO₂e the same jobs would have emitted at the lowest intensity of the surrounding 24 h.",
    unit: "g",
  });
  const carbonLow = meter.createCounter(sc.METRIC_JOB_CARBON_LOW_INSTRUMENT, {
    description: "Low bound of the jobs' operational gCO₂e (every coefficient at the low end of its range).",
  });
  const carbonHigh = meter.createCounter(sc.METRIC_JOB_CARBON_HIGH_INSTRUMENT, {
    description:
      "High bound of the jobs' operational gCO₂e (every coefficient at the high end of its range).",
  });
  const grid = meter.createGauge(sc.METRIC_GRID_INTENSITY_INSTRUMENT, {
    description: "Grid carbon intensity last used or fetched, gCO₂e/kWh.",
    unit: "g/kWh",
  });
  const requests = meter.createCounter(sc.METRIC_INTENSITY_REQUESTS_INSTRUMENT, {
    description: "Requests to the live intensity provider by outcome.",
    unit: "{request}",
  });

  // Created with the first source: a gateway, which has no meter, exports no such family.
  const unattributed = new Map<object, UnattributedCpuSource>();
  let unattributedObserved = false;
  const observeUnattributed = (): void => {
    const cpu = meter.createObservableCounter(sc.METRIC_UNATTRIBUTED_CPU_INSTRUMENT, {
      description: "CPU time charged to no job (outside every job, or while none ran), seconds.",
    });
    const joules = meter.createObservableCounter(sc.METRIC_UNATTRIBUTED_ENERGY_INSTRUMENT, {
      description: "CPU energy of the CPU time charged to no job, joules (before PUE).",
    });
    meter.addBatchObservableCallback(
      (result) => {
        let seconds = 0;
        let energy = 0;
        for (const source of unattributed.values()) {
          // A source that throws or answers nonsense is skipped: a collection must not fail.
          try {
            const s = source.cpuSeconds();
            if (!(Number.isFinite(s) && s >= 0)) continue;
            const j = source.joules(s);
            seconds += s;
            if (Number.isFinite(j) && j >= 0) energy += j;
          } catch {}
        }
        result.observe(cpu, seconds);
        result.observe(joules, energy);
      },
      [cpu, joules],
    );
  };

  /**
   * The grid gauge's last value per (zone, source), recorded at the next collection like the
   * counters (a gauge keeps the last value, so only the last one matters): every job and every
   * served intensity value set it. Bounded; past the bound a value is recorded at once.
   */
  const gridValues = new Map<string, PendingGauge>();
  const pendingGrid: PendingGauge[] = [];
  const setGrid = (key: string, zone: string, source: string, gramsPerKwh: number): void => {
    let g = gridValues.get(key);
    if (g === undefined) {
      const attributes = { [sc.LABEL_ZONE]: zone, [sc.LABEL_SOURCE]: source };
      if (gridValues.size >= MAX_GRID_SERIES) {
        grid.record(gramsPerKwh, attributes);
        return;
      }
      g = { attributes, gramsPerKwh, pending: false };
      gridValues.set(key, g);
    }
    g.gramsPerKwh = gramsPerKwh;
    if (!g.pending) {
      g.pending = true;
      pendingGrid.push(g);
    }
  };
  const onValue = (value: IntensityValue): void => {
    if (!Number.isFinite(value.gramsPerKwh)) return;
    const zone = labelValue(value.zone);
    const source = labelValue(value.source);
    setGrid(zone + GRID_KEY_SEPARATOR + source, zone, source, value.gramsPerKwh);
  };
  const refused = new Set<string>();
  const labelSets = new JobLabelSets();
  /**
   * Label sets with pending counter increments and histogram values. A counter's add() hashes its
   * attributes (sorted keys, JSON) on every call, ≈ 0.4–0.8 µs for these label sets, eight or so
   * times per job: the increments are summed per label set instead and added once per series when
   * a collection starts. The two histograms need every value: those wait in the set too (up to
   * PENDING_HISTOGRAM_VALUES) and are recorded in one loop, where the SDK's code and the set's
   * labels stay in the CPU caches (in a node:http service, recording them per job cost ≈ 1.2 µs).
   * Observable callbacks run before the synchronous instruments are collected (sdk-metrics
   * MeterSharedState.collect), so every scrape or export sees every job recorded before it.
   */
  const dirty: JobLabelSet[] = [];
  const flushHistograms = (set: JobLabelSet): void => {
    const p = set.pending;
    const n = p.histogramCount;
    p.histogramCount = 0;
    for (let i = 0; i < n; i++) duration.record(p.durationsSeconds[i] as number, set.histogram);
    for (let i = 0; i < n; i++) perRun.record(p.perRunGrams[i] as number, set.histogram);
  };
  const flushSet = (set: JobLabelSet): void => {
    const p = set.pending;
    if (p.histogramCount > 0) flushHistograms(set);
    const t = p.touched;
    if (t === 0) return;
    if (t & NOTED_RUNS) runs.add(p.runs, set.runs);
    for (let i = 0; i < p.energy.length; i++)
      if (t & notedEnergy(i)) energy.add(p.energy[i] as number, set.energy[i]);
    for (let i = 0; i < p.carbon.length; i++)
      if (t & notedCarbon(i)) carbon.add(p.carbon[i] as number, set.carbon[i]);
    if (t & PENDING_UNITS) units.add(p.units, set.job);
    if (t & PENDING_BEST_HOUR) bestHour.add(p.bestHour, set.job);
    if (t & PENDING_RANGE) {
      carbonLow.add(p.low, set.job);
      carbonHigh.add(p.high, set.job);
    }
    p.touched = 0;
    p.runs = 0;
    p.energy.fill(0);
    p.carbon.fill(0);
    p.units = 0;
    p.bestHour = 0;
    p.low = 0;
    p.high = 0;
  };
  const flushPending = (): void => {
    for (let i = 0; i < dirty.length; i++) flushSet(dirty[i] as JobLabelSet);
    dirty.length = 0;
    for (let i = 0; i < pendingGrid.length; i++) {
      const g = pendingGrid[i] as PendingGauge;
      grid.record(g.gramsPerKwh, g.attributes);
      g.pending = false;
    }
    pendingGrid.length = 0;
  };
  // An observable that never observes: its batch callback is the hook that runs at each collection.
  meter.addBatchObservableCallback(flushPending, [
    meter.createObservableGauge(FLUSH_HOOK_INSTRUMENT, {
      description: "Internal: flushes pending job counter increments at collection; never has data.",
    }),
  ]);
  const noteCarbon = (
    set: JobLabelSet,
    i: number,
    jobName: string,
    serviceName: string,
    zone: string,
    source: string,
  ): void => {
    if ((set.noted & notedCarbon(i)) !== 0) return;
    set.noted |= notedCarbon(i);
    budget.note(
      sc.METRIC_JOB_CARBON_INSTRUMENT,
      `${jobName}${SEP}${serviceName}${SEP}${zone}${SEP}${source}${SEP}${CARBON_SCOPE_NAMES[i]}`,
    );
  };

  return {
    addUnattributedSource(key: object, source: UnattributedCpuSource): void {
      if (unattributed.size === 0 && !unattributedObserved) {
        unattributedObserved = true;
        observeUnattributed();
      }
      unattributed.set(key, source);
    },
    intensityObserver: {
      onRequest(provider: string, outcome: IntensityRequestOutcome): void {
        requests.add(1, { [sc.LABEL_PROVIDER]: labelValue(provider), [sc.LABEL_OUTCOME]: outcome });
      },
      onValue,
    },
    recordJob(record: JobRecord): void {
      const bad = unrecordableField(record);
      if (bad !== undefined) {
        const field = bad.slice(0, bad.indexOf(" ="));
        if (!refused.has(field)) {
          refused.add(field);
          warn(
            `otel-co2e: a job record with ${bad} was not counted (each value must be finite, ≥ 0 and ≤ ${MAX_COUNTER_INCREMENT}); later ones with a bad ${field} are dropped silently`,
          );
        }
        return;
      }
      const jobName = limiter.label(labelValue(record.jobName));
      const serviceName = services.label(labelValue(record.serviceName));
      const source = labelValue(record.intensity.source);
      const zone = labelValue(record.zone);
      const { status, attribution } = record;
      // The same labels as a fresh build, reused (job-label-sets.ts); a fresh build past its cap.
      const cached = labelSets.get(jobName, serviceName, zone, source, status, attribution, fullHistograms);
      const set =
        cached ??
        buildLabelSet(jobName, serviceName, zone, source, status, attribution, fullHistograms(jobName));
      // Series keys for the budget: co2e_job_runs and job_carbon are the widest instruments, energy has
      // up to five per job; the others have one series per (job_name, service_name), as energy/cpu.
      // Each key is noted the first time its label set records it (a noted key stays noted).
      if ((set.noted & NOTED_RUNS) === 0) {
        set.noted |= NOTED_RUNS;
        budget.note(
          sc.METRIC_JOB_RUNS_INSTRUMENT,
          jobName + SEP + serviceName + SEP + zone + SEP + source + SEP + status + SEP + attribution,
        );
      }
      // The counters' increments wait in the label set until a collection starts (flushPending).
      const p = set.pending;
      if (p.touched === 0 && cached) dirty.push(set);
      p.touched |= NOTED_RUNS;
      p.runs += 1;
      const e = record.footprint.energy;
      for (let i = 0; i < ENERGY_COMPONENTS.length; i++) {
        const component = (ENERGY_COMPONENTS[i] as (typeof ENERGY_COMPONENTS)[number])[0];
        const joules = componentKwh(e, i) * JOULES_PER_KWH;
        // Always the cpu series (stable for boards); the others once they are non-zero.
        if (joules > 0 || component === "cpu") {
          if ((set.noted & notedEnergy(i)) === 0) {
            set.noted |= notedEnergy(i);
            budget.note(sc.METRIC_JOB_ENERGY_INSTRUMENT, jobName + SEP + serviceName + SEP + component);
          }
          p.touched |= notedEnergy(i);
          p.energy[i] = (p.energy[i] as number) + joules;
        }
      }
      const fp = record.footprint;
      noteCarbon(set, 0, jobName, serviceName, zone, source);
      p.touched |= notedCarbon(0);
      p.carbon[0] = (p.carbon[0] as number) + fp.co2eGrams;
      if (fp.embodiedGrams !== undefined) {
        noteCarbon(set, 1, jobName, serviceName, zone, source);
        p.touched |= notedCarbon(1);
        p.carbon[1] = (p.carbon[1] as number) + fp.embodiedGrams;
      }
      if (fp.marketGrams !== undefined) {
        noteCarbon(set, 2, jobName, serviceName, zone, source);
        p.touched |= notedCarbon(2);
        p.carbon[2] = (p.carbon[2] as number) + fp.marketGrams;
      }
      // The histograms: per job_name, unless the job asked for full histograms (histogram-layout.ts).
      const n = p.histogramCount;
      p.durationsSeconds[n] = record.durationSeconds;
      p.perRunGrams[n] = fp.co2eGrams;
      p.histogramCount = n + 1;
      if (n + 1 === PENDING_HISTOGRAM_VALUES) flushHistograms(set);
      if (record.functionalUnits !== undefined && record.functionalUnits > 0) {
        p.touched |= PENDING_UNITS;
        p.units += record.functionalUnits;
      }
      if (record.bestHourGrams !== undefined) {
        p.touched |= PENDING_BEST_HOUR;
        p.bestHour += record.bestHourGrams;
      }
      // One series per (job_name, service_name) each, as co2e_job_carbon_best_hour_grams.
      if (record.co2eRange !== undefined) {
        p.touched |= PENDING_RANGE;
        p.low += record.co2eRange.low;
        p.high += record.co2eRange.high;
      }
      // A set past the cache's bounds is not kept: its increments go to the counters now.
      if (!cached) flushSet(set);
      if (Number.isFinite(record.intensity.gramsPerKwh))
        setGrid(set.gridKey, zone, source, record.intensity.gramsPerKwh);
    },
  };
}
