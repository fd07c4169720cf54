/**
 * The job and intensity metrics, through any OTel Meter. Instrument names come from semconv.ts;
 * the Prometheus exporter scrapes them as the `PROM_*` names (no unit suffix is added, so the unit
 * is in the instrument name).
 */
import type { Attributes, Counter, Meter } from "@opentelemetry/api";
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
  type JobLabelSet,
  JobLabelSets,
  NOTED_RUNS,
  notedCarbon,
  notedEnergy,
} from "./job-label-sets.ts";
import { JobNameLimiter, LabelValueLimiter } from "./job-name-limiter.ts";
import { labelValue } from "./label-value.ts";
import { SeriesBudget } from "./series-budget.ts";
import { carbonCardinalityLimit } from "./views.ts";

export interface CarbonMetrics {
  recordJob(record: JobRecord): void;
  /**
   * recordJob for each record, with the counter increments (and the grid gauge's last value)
   * summed per series and handed to the SDK once per series at the end: each SDK call hashes its
   * label set, which is most of the cost of a job. The histograms still get every value.
   */
  recordJobs?(records: readonly JobRecord[]): void;
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
  for (const [, key] of ENERGY_COMPONENTS) {
    const joules = e[key] * JOULES_PER_KWH;
    if (!countable(joules)) return `footprint.energy.${key} = ${e[key]} kWh`;
  }
  return undefined;
}

/** Absent, or a number a counter may take: finite, ≥ 0, ≤ MAX_COUNTER_INCREMENT. */
function countable(value: number | undefined): boolean {
  return (
    value === undefined || (typeof value === "number" && value >= 0 && value <= MAX_COUNTER_INCREMENT) // NaN fails both
  );
}

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

  const onValue = (value: IntensityValue): void => {
    if (!Number.isFinite(value.gramsPerKwh)) return;
    grid.record(value.gramsPerKwh, {
      [sc.LABEL_ZONE]: labelValue(value.zone),
      [sc.LABEL_SOURCE]: labelValue(value.source),
    });
  };
  const refused = new Set<string>();
  const labelSets = new JobLabelSets();
  // While recordJobs runs: counter increments summed per instrument and label set, the grid
  // gauge's last value per label set. Label sets are the shared objects of labelSets, so the
  // maps are keyed by identity.
  let sums: Map<Counter, Map<Attributes | undefined, number>> | undefined;
  let gridLast: Map<Attributes, number> | undefined;
  const add = (counter: Counter, value: number, attributes: Attributes | undefined): void => {
    if (!sums) {
      counter.add(value, attributes);
      return;
    }
    let bySet = sums.get(counter);
    if (!bySet) {
      bySet = new Map();
      sums.set(counter, bySet);
    }
    bySet.set(attributes, (bySet.get(attributes) ?? 0) + value);
  };
  const setGrid = (value: number, attributes: Attributes): void => {
    if (gridLast) gridLast.set(attributes, value);
    else grid.record(value, attributes);
  };
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

  const metrics: CarbonMetrics = {
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
      const set =
        labelSets.get(jobName, serviceName, zone, source, status, attribution, fullHistograms) ??
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
      add(runs, 1, set.runs);
      // The histograms: per job_name, unless the job asked for full histograms (histogram-layout.ts).
      duration.record(record.durationSeconds, set.histogram);
      const e = record.footprint.energy;
      for (let i = 0; i < ENERGY_COMPONENTS.length; i++) {
        const [component, key] = ENERGY_COMPONENTS[i] as (typeof ENERGY_COMPONENTS)[number];
        const joules = e[key] * JOULES_PER_KWH;
        // Always the cpu series (stable for boards); the others once they are non-zero.
        if (joules > 0 || component === "cpu") {
          if ((set.noted & notedEnergy(i)) === 0) {
            set.noted |= notedEnergy(i);
            budget.note(sc.METRIC_JOB_ENERGY_INSTRUMENT, jobName + SEP + serviceName + SEP + component);
          }
          add(energy, joules, set.energy[i]);
        }
      }
      const fp = record.footprint;
      noteCarbon(set, 0, jobName, serviceName, zone, source);
      add(carbon, fp.co2eGrams, set.carbon[0]);
      if (fp.embodiedGrams !== undefined) {
        noteCarbon(set, 1, jobName, serviceName, zone, source);
        add(carbon, fp.embodiedGrams, set.carbon[1]);
      }
      if (fp.marketGrams !== undefined) {
        noteCarbon(set, 2, jobName, serviceName, zone, source);
        add(carbon, fp.marketGrams, set.carbon[2]);
      }
      perRun.record(fp.co2eGrams, set.histogram);
      if (record.functionalUnits !== undefined && record.functionalUnits > 0)
        add(units, record.functionalUnits, set.job);
      if (record.bestHourGrams !== undefined) add(bestHour, record.bestHourGrams, set.job);
      // One series per (job_name, service_name) each, as co2e_job_carbon_best_hour_grams.
      if (record.co2eRange !== undefined) {
        add(carbonLow, record.co2eRange.low, set.job);
        add(carbonHigh, record.co2eRange.high, set.job);
      }
      if (Number.isFinite(record.intensity.gramsPerKwh)) setGrid(record.intensity.gramsPerKwh, set.grid);
    },
    recordJobs(records: readonly JobRecord[]): void {
      if (sums) {
        // Nested in another batch: that batch sums these too.
        for (const record of records) metrics.recordJob(record);
        return;
      }
      const counters = new Map<Counter, Map<Attributes | undefined, number>>();
      const last = new Map<Attributes, number>();
      sums = counters;
      gridLast = last;
      try {
        for (const record of records) {
          try {
            metrics.recordJob(record);
          } catch {
            // One record that fails (none should) does not cost the others their counts.
          }
        }
      } finally {
        sums = undefined;
        gridLast = undefined;
        for (const [counter, bySet] of counters)
          for (const [attributes, sum] of bySet) counter.add(sum, attributes);
        for (const [attributes, value] of last) grid.record(value, attributes);
      }
    },
  };
  return metrics;
}
