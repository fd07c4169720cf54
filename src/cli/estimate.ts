/**
 * `co2e estimate`: the calculator a person checks numbers with. Every figure goes through
 * `computeFootprint` (src/model), the same function the span processor and the gateway call, so
 * a number printed here is the number a span would carry. Each factor is printed with where it
 * came from: a flag, the config file (and which default), or which intensity data set.
 *
 * Intensity comes from the static yearly table only (no network): the command is meant to be
 * reproducible, and `co2e intensity` is the place for live values.
 */
import { availableParallelism } from "node:os";
import { basename } from "node:path";
import type { ParseArgsOptionsConfig } from "node:util";
import { type Config, DEFAULT_CONFIG_PATH, loadConfig } from "../config.ts";
import { Co2eError, ERROR_CODES, isCo2eError } from "../errors.ts";
import { STATIC_YEARS, type StaticYear, staticIntensity } from "../intensity/static.ts";
import type { IntensityValue } from "../intensity/types.ts";
import { resolveZone, zoneForCloudRegion } from "../intensity/zone.ts";
import {
  BYTES_PER_GB,
  BYTES_PER_GIB,
  CCF_AWS_MAX_WATTS_PER_VCPU,
  CCF_AWS_MIN_WATTS_PER_VCPU,
  type CpuModelParams,
  computeFootprint,
  DEFAULT_CPU_TDP_WATTS,
  DEFAULT_PUE,
  type FootprintInput,
  type FootprintParams,
  gpuWattsFromTdp,
  gramsToTonnes,
  JOULES_PER_KWH,
  MEMORY_WATTS_PER_GB,
  NETWORK_KWH_PER_GB,
  SECONDS_PER_HOUR,
} from "../model/index.ts";
import { INTENSITY_SOURCE, type IntensitySource } from "../semconv.ts";
import { numberFlag, type ParsedArgs, parseDurationSeconds, parseFlags, usageError } from "./args.ts";

export const ESTIMATE_OPTIONS = {
  "energy-kwh": { type: "string" },
  "cpu-seconds": { type: "string" },
  cores: { type: "string" },
  "cpu-util": { type: "string" },
  "cpu-model": { type: "string" },
  "tdp-watts": { type: "string" },
  duration: { type: "string" },
  "memory-gb": { type: "string" },
  "gpu-watts": { type: "string" },
  "gpu-util": { type: "string" },
  "network-gb": { type: "string" },
  pue: { type: "string" },
  intensity: { type: "string" },
  zone: { type: "string" },
  cloud: { type: "string" },
  region: { type: "string" },
  year: { type: "string" },
  "embodied-kg": { type: "string" },
  "lifespan-years": { type: "string" },
  "reserved-share": { type: "string" },
  "functional-units": { type: "string" },
  "carbon-price": { type: "string" },
  "runs-per-year": { type: "string" },
  json: { type: "boolean" },
  config: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const satisfies ParseArgsOptionsConfig;

export const ESTIMATE_HELP = `co2e estimate — kWh and gCO₂e from figures, with every factor and its source

Energy, either given directly:
  --energy-kwh N          total energy of the job, kWh (PUE applied only if --pue is given)
or from components (any mix):
  --cpu-seconds N         CPU time used (user + system), s     with --cores N (logical cores)
  --cpu-util F            average share of the whole CPU (1.0047 = 100.47 %), needs --duration
  --tdp-watts N           CPU package TDP, W (default: config model.cpu)
  --cpu-model tdp|linear  CPU model (default: config model.cpu.model)
  --duration D            wall time: 2449s, 40m49s, 0.68h, 100h (needed by util, memory, GPU)
  --memory-gb N           average resident memory, GB (GiB)
  --gpu-watts N           average GPU board power, W            [--gpu-util F multiplies it]
  --network-gb N          data transferred, GB (decimal)
  --pue N                 power usage effectiveness ≥ 1 (default: config model.pue)

Intensity (one of; default: config zone / cloud, static yearly table):
  --intensity G           gCO₂e/kWh
  --zone Z                Electricity Maps zone (DE, US-MIDA-PJM) or Ember code (DEU, WORLD)
  --cloud aws|gcp|azure --region R    cloud region, mapped to a zone
  --year Y                static table year, ${STATIC_YEARS[0]}–${STATIC_YEARS.at(-1)} (default: config)

Extras:
  --embodied-kg N --lifespan-years N [--reserved-share F]   embodied carbon (SCI M) over --duration
  --functional-units N    SCI per functional unit
  --carbon-price N        price per tonne CO₂e (currency from config, default USD)
  --runs-per-year N       also print the yearly total for a job run N times a year
  --json                  print one JSON object
  --config FILE           config file (default: CO2E_CONFIG or config/default.yaml)

Examples:
  co2e estimate --energy-kwh 25 --intensity 180
  co2e estimate --gpu-watts 300 --duration 100h --intensity 400 --carbon-price 50
  co2e estimate --cpu-util 1.0047 --tdp-watts 158.75 --duration 40m49s --memory-gb 5.015 \\
                --pue 1.125 --intensity 487 --runs-per-year 365.25
`;

/** One line of the factor table: what went into the calculation and where it came from. */
export interface EstimateFactor {
  name: string;
  value: string;
  unit: string;
  source: string;
}

export interface EstimateResult {
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
    /** How the zone was found: `flag`, `cloud-region`, `config`, `default`. */
    resolvedBy?: string;
  };
  pue: number;
  durationSeconds: number;
  /** `tdp` | `linear` for CPU estimates, `none` when no CPU use was given, `given` for --energy-kwh. */
  cpuModel: string;
  /** Average data-centre power over the duration (IT × PUE, without network), kW. */
  averagePowerKw?: number;
  marketGrams?: number;
  embodiedGrams?: number;
  functionalUnits?: number;
  sciGramsPerUnit?: number;
  carbonCost?: number;
  currency?: string;
  runsPerYear?: number;
  annualCo2eKg?: number;
  factors: EstimateFactor[];
}

export type EstimateFlagValues = Record<string, string | number | boolean | string[] | boolean[] | undefined>;

const ENERGY_COMPONENT_FLAGS = ["cpu-seconds", "cpu-util", "memory-gb", "gpu-watts", "network-gb"] as const;
/** Flags that only qualify a component; meaningless beside --energy-kwh. */
const COMPONENT_QUALIFIER_FLAGS = ["cores", "tdp-watts", "cpu-model", "gpu-util"] as const;

function normaliseValues(values: EstimateFlagValues): ParsedArgs["values"] {
  const out: ParsedArgs["values"] = {};
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined) continue;
    out[key] = typeof value === "number" ? String(value) : value;
  }
  return out;
}

function has(values: ParsedArgs["values"], name: string): boolean {
  return values[name] !== undefined;
}

function text(value: number): string {
  return String(Number(value.toPrecision(12)));
}

/** Re-raises a look-up error with the flag that named the zone or region in front. */
function withFlag<T>(flag: string, fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (isCo2eError(error)) throw new Co2eError(error.code, `${flag}: ${error.message}`, { cause: error });
    throw error;
  }
}

/** Where a config value came from: the shipped defaults or the named file. */
function configLabel(file: string | undefined): string {
  return file === undefined || file === DEFAULT_CONFIG_PATH ? "config default" : `config ${basename(file)}`;
}

/**
 * Computes the estimate from flag values (as parsed by `parseFlags`, or plain numbers). Throws
 * `CO2E_ERR_USAGE` for inconsistent flags, `CO2E_ERR_UNKNOWN_ZONE` / `CO2E_ERR_UNKNOWN_REGION`
 * for a zone or region the tables lack, `CO2E_ERR_CONFIG` for a bad config file.
 * `config` defaults to `loadConfig({ file: values.config })`.
 */
export function estimateFromFlags(input: EstimateFlagValues, config?: Config): EstimateResult {
  const values = normaliseValues(input);
  const configFile =
    typeof values.config === "string" ? values.config : (process.env.CO2E_CONFIG ?? DEFAULT_CONFIG_PATH);
  const cfg = config ?? loadConfig(typeof values.config === "string" ? { file: values.config } : {});
  const fromConfig = config ? "config" : configLabel(configFile);
  const factors: EstimateFactor[] = [];
  const add = (name: string, value: number | string, unit: string, source: string): void => {
    factors.push({ name, value: typeof value === "number" ? text(value) : value, unit, source });
  };

  // --- which energy inputs were given -------------------------------------------------------
  const direct = numberFlag(values, "energy-kwh", { min: 0 });
  const components = ENERGY_COMPONENT_FLAGS.filter((f) => has(values, f));
  if (direct !== undefined) {
    const extra = [...components, ...COMPONENT_QUALIFIER_FLAGS.filter((f) => has(values, f))];
    if (extra.length > 0) {
      throw usageError(
        `--energy-kwh gives the energy directly; it cannot be combined with ${extra.map((f) => `--${f}`).join(", ")}`,
      );
    }
  } else if (components.length === 0) {
    throw usageError(
      "nothing gives the energy: use --energy-kwh N, or components: --cpu-seconds N --cores N, " +
        "--cpu-util F --duration D, --memory-gb N --duration D, --gpu-watts N --duration D, --network-gb N",
    );
  }
  if (has(values, "cpu-seconds") && has(values, "cpu-util")) {
    throw usageError("--cpu-seconds and --cpu-util both give CPU use: pass one of them");
  }

  const durationSeconds =
    typeof values.duration === "string" ? parseDurationSeconds(values.duration, "duration") : undefined;
  const needsDuration = (flag: string): number => {
    if (durationSeconds === undefined) throw usageError(`--${flag} needs --duration (how long the job ran)`);
    return durationSeconds;
  };
  if (durationSeconds !== undefined) {
    add("duration", durationSeconds, "s", `--duration ${String(values.duration)}`);
  }

  // --- intensity ---------------------------------------------------------------------------------
  const intensityFlag = numberFlag(values, "intensity", { min: 0 });
  const zoneFlag = typeof values.zone === "string" ? values.zone : undefined;
  const cloudFlag = typeof values.cloud === "string" ? values.cloud : undefined;
  const regionFlag = typeof values.region === "string" ? values.region : undefined;
  const intensityChoices = [
    intensityFlag !== undefined,
    zoneFlag !== undefined,
    cloudFlag !== undefined,
  ].filter(Boolean).length;
  if (intensityChoices > 1) throw usageError("pass only one of --intensity, --zone, --cloud/--region");
  if ((cloudFlag === undefined) !== (regionFlag === undefined)) {
    throw usageError(
      cloudFlag === undefined ? "--region needs --cloud aws|gcp|azure" : "--cloud needs --region R",
    );
  }
  if (cloudFlag !== undefined && !["aws", "gcp", "azure"].includes(cloudFlag.trim().toLowerCase())) {
    throw usageError(`--cloud: expects aws, gcp or azure, got "${cloudFlag}"`);
  }
  const yearFlag = numberFlag(values, "year", { integer: true });
  if (yearFlag !== undefined && !(STATIC_YEARS as readonly number[]).includes(yearFlag)) {
    throw usageError(`--year: the static table has ${STATIC_YEARS.join(", ")}, got ${yearFlag}`);
  }
  const year = (yearFlag ?? cfg.intensity.staticYear) as StaticYear;

  let intensity: EstimateResult["intensity"];
  let intensitySource: string;
  const fromTable = (value: IntensityValue, resolvedBy: string): EstimateResult["intensity"] => ({
    gramsPerKwh: value.gramsPerKwh,
    zone: value.zone,
    source: value.source,
    ...(value.year !== undefined ? { year: value.year } : {}),
    ...(value.dataset !== undefined ? { dataset: value.dataset } : {}),
    resolvedBy,
  });
  if (intensityFlag !== undefined) {
    intensity = {
      gramsPerKwh: intensityFlag,
      zone: null,
      source: INTENSITY_SOURCE.configured,
      resolvedBy: "flag",
    };
    intensitySource = "--intensity";
  } else if (zoneFlag !== undefined) {
    const value = withFlag("--zone", () => staticIntensity(zoneFlag, year));
    intensity = fromTable(value, "flag");
    intensitySource = `--zone ${value.zone}: ${value.dataset ?? "static table"}`;
  } else if (cloudFlag !== undefined && regionFlag !== undefined) {
    const value = withFlag("--cloud/--region", () =>
      staticIntensity(zoneForCloudRegion(cloudFlag, regionFlag), year),
    );
    intensity = fromTable(value, "cloud-region");
    intensitySource = `--cloud ${cloudFlag} --region ${regionFlag} → ${value.zone}: ${value.dataset ?? "static table"}`;
  } else {
    const resolved = resolveZone({
      cloudProvider: cfg.cloud?.provider,
      cloudRegion: cfg.cloud?.region,
      defaultZone: cfg.zone,
    });
    const value = staticIntensity(resolved.zone, year);
    intensity = fromTable(value, resolved.resolvedBy === "cloud-region" ? "cloud-region" : "config");
    const how =
      resolved.resolvedBy === "cloud-region" && cfg.cloud
        ? `${fromConfig} cloud ${cfg.cloud.provider}/${cfg.cloud.region} → ${value.zone}`
        : `${fromConfig} zone ${value.zone}`;
    intensitySource = `${how}: ${value.dataset ?? "static table"}`;
  }

  // --- PUE ----------------------------------------------------------------------------------------
  const pueFlag = numberFlag(values, "pue", { min: 1 });
  let pue: number;
  let pueSource: string;
  if (pueFlag !== undefined) {
    pue = pueFlag;
    pueSource = "--pue";
  } else if (direct !== undefined) {
    // The given kWh is the job's whole energy (seed 000); a configured PUE would count the
    // data-centre overhead twice. Passing --pue says the figure is IT energy only.
    pue = DEFAULT_PUE;
    pueSource = "not applied: --energy-kwh is the total (pass --pue if it is IT energy only)";
  } else if (intensity.zone !== null && cfg.model.pueByZone[intensity.zone] !== undefined) {
    pue = cfg.model.pueByZone[intensity.zone]!;
    pueSource = `${fromConfig} model.pueByZone.${intensity.zone}`;
  } else {
    pue = cfg.model.pue;
    pueSource = `${fromConfig} model.pue${pue === DEFAULT_PUE ? " (no data-centre overhead assumed)" : ""}`;
  }

  // --- usage and model parameters ----------------------------------------------------------------
  const usage: FootprintInput = { durationSeconds: durationSeconds ?? 0 };
  let cpu: CpuModelParams;
  let cpuModel: string;
  const cfgCpu = cfg.model.cpu;

  if (direct !== undefined) {
    // Given energy is measured energy: the `rapl` sibling takes measured joules as they are.
    cpu = { model: "rapl" };
    cpuModel = "given";
    usage.cpuMeasuredJoules = direct * JOULES_PER_KWH;
    add("energy", direct, "kWh", "--energy-kwh");
  } else {
    const modelFlag = typeof values["cpu-model"] === "string" ? values["cpu-model"] : undefined;
    if (modelFlag !== undefined && modelFlag !== "tdp" && modelFlag !== "linear") {
      throw usageError(`--cpu-model: expects tdp or linear, got "${modelFlag}"`);
    }
    const tdpFlag = numberFlag(values, "tdp-watts", { min: 0 });
    const wantLinear =
      modelFlag === "linear" ||
      (modelFlag === undefined && tdpFlag === undefined && cfgCpu.model === "linear");
    if (wantLinear && tdpFlag !== undefined)
      throw usageError("--tdp-watts applies to the tdp model, not --cpu-model linear");
    const coresFlag = numberFlag(values, "cores", { min: 0 });
    if (coresFlag !== undefined && coresFlag <= 0) throw usageError(`--cores: must be > 0, got ${coresFlag}`);

    if (wantLinear) {
      const min = cfgCpu.model === "linear" ? cfgCpu.minWattsPerVcpu : undefined;
      const max = cfgCpu.model === "linear" ? cfgCpu.maxWattsPerVcpu : undefined;
      // Config defaults are Cloud Carbon Footprint's AWS averages (src/model/constants.ts).
      const minW = min ?? CCF_AWS_MIN_WATTS_PER_VCPU;
      const maxW = max ?? CCF_AWS_MAX_WATTS_PER_VCPU;
      const vcpus = coresFlag ?? (cfgCpu.model === "linear" ? cfgCpu.vcpus : 1);
      cpu = { model: "linear", minWattsPerVcpu: minW, maxWattsPerVcpu: maxW, vcpus };
      cpuModel = "linear";
      add("cpu model", "linear", "", modelFlag ? "--cpu-model" : `${fromConfig} model.cpu.model`);
      add(
        "min power",
        minW,
        "W/vCPU",
        `${fromConfig} model.cpu${minW === CCF_AWS_MIN_WATTS_PER_VCPU ? " (Cloud Carbon Footprint AWS average)" : ""}`,
      );
      add(
        "max power",
        maxW,
        "W/vCPU",
        `${fromConfig} model.cpu${maxW === CCF_AWS_MAX_WATTS_PER_VCPU ? " (Cloud Carbon Footprint AWS average)" : ""}`,
      );
      add("vCPUs", vcpus, "vCPU", coresFlag !== undefined ? "--cores" : `${fromConfig} model.cpu.vcpus`);
    } else {
      const cfgTdp =
        cfgCpu.model === "tdp"
          ? cfgCpu.tdpWatts
          : cfgCpu.model === "rapl"
            ? cfgCpu.fallbackTdpWatts
            : undefined;
      const tdpWatts = tdpFlag ?? cfgTdp ?? DEFAULT_CPU_TDP_WATTS;
      let logicalCores: number;
      let coresSource: string;
      if (coresFlag !== undefined) {
        logicalCores = coresFlag;
        coresSource = "--cores";
      } else if (cfgCpu.model === "tdp" && cfgCpu.logicalCores !== "auto") {
        logicalCores = cfgCpu.logicalCores;
        coresSource = `${fromConfig} model.cpu.logicalCores`;
      } else {
        logicalCores = availableParallelism();
        coresSource = `${fromConfig} model.cpu.logicalCores=auto (this machine)`;
      }
      cpu = { model: "tdp", tdpWatts, logicalCores };
      cpuModel = has(values, "cpu-seconds") || has(values, "cpu-util") ? "tdp" : "none";
      if (has(values, "cpu-seconds") || has(values, "cpu-util")) {
        add("cpu model", "tdp", "", modelFlag ? "--cpu-model" : "P = U × TDP (seed 003)");
        add(
          "cpu TDP",
          tdpWatts,
          "W",
          tdpFlag !== undefined
            ? "--tdp-watts"
            : `${fromConfig} model.cpu${tdpWatts === DEFAULT_CPU_TDP_WATTS ? " (CodeCarbon's fallback for an unknown CPU)" : ""}`,
        );
        // With --cpu-util the core count cancels out (E = U × TDP × duration), so it is shown
        // only when it matters or was given.
        if (has(values, "cpu-seconds") || coresFlag !== undefined) {
          add("logical cores", logicalCores, "cores", coresSource);
        }
      }
    }

    const cpuSecondsFlag = numberFlag(values, "cpu-seconds", { min: 0 });
    const cpuUtil = numberFlag(values, "cpu-util", { min: 0 });
    if (cpuSecondsFlag !== undefined) {
      if (wantLinear) needsDuration("cpu-seconds (linear model charges idle power over the duration)");
      usage.cpuSeconds = cpuSecondsFlag;
      add("cpu time", cpuSecondsFlag, "s", "--cpu-seconds");
    } else if (cpuUtil !== undefined) {
      const seconds = needsDuration("cpu-util");
      const cores = cpu.model === "linear" ? cpu.vcpus : cpu.model === "tdp" ? cpu.logicalCores : 1;
      // Utilisation of the whole CPU (seed 003): CPU-seconds = U × duration × cores, so the tdp
      // model gives E = U × TDP × duration whatever the core count.
      usage.cpuSeconds = cpuUtil * seconds * cores;
      add("cpu utilisation", cpuUtil, "of whole CPU", "--cpu-util");
    }

    const memoryGb = numberFlag(values, "memory-gb", { min: 0 });
    if (memoryGb !== undefined) {
      needsDuration("memory-gb");
      usage.memoryAvgBytes = memoryGb * BYTES_PER_GIB;
      add("memory", memoryGb, "GB", "--memory-gb");
      add(
        "memory power",
        cfg.model.memoryWattsPerGb,
        "W/GB",
        `${fromConfig} model.memoryWattsPerGb${cfg.model.memoryWattsPerGb === MEMORY_WATTS_PER_GB ? " (seed 003: 3 W per 8 GB)" : ""}`,
      );
    }

    const gpuWatts = numberFlag(values, "gpu-watts", { min: 0 });
    const gpuUtil = numberFlag(values, "gpu-util", { min: 0 });
    if (gpuUtil !== undefined && gpuWatts === undefined)
      throw usageError("--gpu-util needs --gpu-watts (the GPU's TDP)");
    if (gpuWatts !== undefined) {
      needsDuration("gpu-watts");
      usage.gpuWatts = gpuUtil === undefined ? gpuWatts : gpuWattsFromTdp(gpuWatts, gpuUtil);
      add("gpu power", gpuWatts, "W", "--gpu-watts");
      if (gpuUtil !== undefined) add("gpu utilisation", gpuUtil, "of TDP", "--gpu-util");
    }

    const networkGb = numberFlag(values, "network-gb", { min: 0 });
    if (networkGb !== undefined) {
      usage.networkBytes = networkGb * BYTES_PER_GB;
      add("network", networkGb, "GB", "--network-gb");
      add(
        "network energy",
        cfg.model.networkKwhPerGb,
        "kWh/GB",
        `${fromConfig} model.networkKwhPerGb${cfg.model.networkKwhPerGb === NETWORK_KWH_PER_GB ? " (seed 002, Green Metrics Tool)" : ""}`,
      );
    }
  }
  add("PUE", pue, "", pueSource);
  add("intensity", intensity.gramsPerKwh, "gCO₂e/kWh", intensitySource);

  // --- extras ---------------------------------------------------------------------------------------
  const params: FootprintParams = {
    energy: {
      cpu,
      memoryWattsPerGb: cfg.model.memoryWattsPerGb,
      networkKwhPerGb: cfg.model.networkKwhPerGb,
      pue,
    },
  };
  if (intensity.zone !== null && cfg.marketFactors[intensity.zone] !== undefined) {
    params.marketGramsPerKwh = cfg.marketFactors[intensity.zone];
  }

  const embodiedKg = numberFlag(values, "embodied-kg", { min: 0 });
  const lifespanYears = numberFlag(values, "lifespan-years", { min: 0 });
  const reservedShare = numberFlag(values, "reserved-share", { min: 0, max: 1 });
  if (lifespanYears !== undefined && lifespanYears <= 0)
    throw usageError(`--lifespan-years: must be > 0, got ${lifespanYears}`);
  const embodiedFromConfigOnly =
    embodiedKg === undefined && lifespanYears === undefined && reservedShare === undefined;
  if (cfg.embodied !== undefined && embodiedFromConfigOnly && durationSeconds === undefined) {
    // Configured embodied carbon needs a reserved time; an estimate without --duration still
    // stands, it just cannot include M. Say so instead of failing or guessing a duration.
    add("embodied", "skipped", "", `${fromConfig} embodied is set, but M needs --duration`);
  } else if (embodiedKg !== undefined || cfg.embodied !== undefined) {
    const total = embodiedKg ?? cfg.embodied?.totalEmbodiedKg;
    const life = lifespanYears ?? cfg.embodied?.lifespanYears;
    if (total === undefined) throw usageError("--lifespan-years/--reserved-share need --embodied-kg");
    if (life === undefined)
      throw usageError("--embodied-kg needs --lifespan-years (the hardware's expected life)");
    const share = reservedShare ?? cfg.embodied?.reservedShare ?? 1;
    needsDuration("embodied-kg (the time the hardware was reserved)");
    params.embodied = { totalEmbodiedKg: total, lifespanYears: life, reservedShare: share };
    add(
      "embodied (TE)",
      total,
      "kgCO₂e",
      embodiedKg !== undefined ? "--embodied-kg" : `${fromConfig} embodied`,
    );
    add(
      "lifespan",
      life,
      "years",
      lifespanYears !== undefined ? "--lifespan-years" : `${fromConfig} embodied`,
    );
    add(
      "reserved share",
      share,
      "",
      reservedShare !== undefined
        ? "--reserved-share"
        : cfg.embodied
          ? `${fromConfig} embodied`
          : "whole machine (default 1)",
    );
  } else if (lifespanYears !== undefined || reservedShare !== undefined) {
    throw usageError("--lifespan-years/--reserved-share need --embodied-kg");
  }

  const functionalUnits = numberFlag(values, "functional-units", { min: 0 });
  if (functionalUnits !== undefined) {
    if (functionalUnits <= 0) throw usageError(`--functional-units: must be > 0, got ${functionalUnits}`);
    usage.functionalUnits = functionalUnits;
    add("functional units", functionalUnits, "units", "--functional-units");
  }

  const priceFlag = numberFlag(values, "carbon-price", { min: 0 });
  const price = priceFlag ?? cfg.carbonPrice?.perTonne;
  const currency = cfg.carbonPrice?.currency ?? "USD";
  if (price !== undefined) {
    params.carbonPricePerTonne = price;
    add(
      "carbon price",
      price,
      `${currency}/tCO₂e`,
      priceFlag !== undefined ? "--carbon-price" : `${fromConfig} carbonPrice`,
    );
  }

  const runsPerYear = numberFlag(values, "runs-per-year", { min: 0 });
  if (runsPerYear !== undefined) add("runs per year", runsPerYear, "runs", "--runs-per-year");

  // --- the calculation (src/model) ---------------------------------------------------------------
  const fp = computeFootprint(usage, intensity.gramsPerKwh, params);
  const e = fp.energy;
  const result: EstimateResult = {
    energyKwh: e.totalKwh,
    co2eGrams: fp.co2eGrams,
    co2eKg: fp.co2eGrams / 1000,
    co2eTonnes: gramsToTonnes(fp.co2eGrams),
    components:
      direct !== undefined
        ? {
            cpuKwh: 0,
            memoryKwh: 0,
            gpuKwh: 0,
            networkKwh: 0,
            overheadKwh: e.overheadKwh,
            givenKwh: e.cpuKwh,
          }
        : {
            cpuKwh: e.cpuKwh,
            memoryKwh: e.memoryKwh,
            gpuKwh: e.gpuKwh,
            networkKwh: e.networkKwh,
            overheadKwh: e.overheadKwh,
          },
    intensity,
    pue: e.pue,
    durationSeconds: usage.durationSeconds,
    cpuModel,
    factors,
  };
  if (direct === undefined && usage.durationSeconds > 0) {
    result.averagePowerKw = (e.totalKwh - e.networkKwh) / (usage.durationSeconds / SECONDS_PER_HOUR);
  }
  if (fp.marketGrams !== undefined) result.marketGrams = fp.marketGrams;
  if (fp.embodiedGrams !== undefined) result.embodiedGrams = fp.embodiedGrams;
  if (functionalUnits !== undefined) result.functionalUnits = functionalUnits;
  if (fp.sciGramsPerUnit !== undefined) result.sciGramsPerUnit = fp.sciGramsPerUnit;
  if (fp.carbonCost !== undefined) {
    result.carbonCost = fp.carbonCost;
    result.currency = currency;
  }
  if (runsPerYear !== undefined) {
    result.runsPerYear = runsPerYear;
    result.annualCo2eKg = ((fp.co2eGrams + (fp.embodiedGrams ?? 0)) * runsPerYear) / 1000;
  }
  // The factor table last, so the JSON reads results first.
  const { factors: table, ...figures } = result;
  return { ...figures, factors: table };
}

// ---------------------------------------------------------------------------------------------
// Human output
// ---------------------------------------------------------------------------------------------

const SIGNIFICANT = new Intl.NumberFormat("en-US", { maximumSignificantDigits: 6 });

function num(value: number): string {
  return SIGNIFICANT.format(value);
}

function money(value: number): string {
  return value >= 0.01 || value === 0
    ? value.toFixed(2)
    : new Intl.NumberFormat("en-US", { maximumSignificantDigits: 3 }).format(value);
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((r) => r[col]!.length)));
  return rows
    .map((r) =>
      r
        .map((cell, col) => (col === r.length - 1 ? cell : cell.padEnd(widths[col]!)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/** The human report: factor table, then results. */
export function formatEstimate(r: EstimateResult): string {
  const lines: string[] = [];
  lines.push(
    table([
      ["factor", "value", "unit", "source"],
      ...r.factors.map((f) => [f.name, f.value, f.unit, f.source]),
    ]),
  );
  lines.push("");
  const c = r.components;
  const parts =
    c.givenKwh !== undefined
      ? [`given ${num(c.givenKwh)}`]
      : [
          c.cpuKwh ? `cpu ${num(c.cpuKwh)}` : "",
          c.memoryKwh ? `memory ${num(c.memoryKwh)}` : "",
          c.gpuKwh ? `gpu ${num(c.gpuKwh)}` : "",
          c.networkKwh ? `network ${num(c.networkKwh)}` : "",
        ];
  if (c.overheadKwh) parts.push(`PUE overhead ${num(c.overheadKwh)}`);
  const results: string[][] = [];
  if (r.averagePowerKw !== undefined)
    results.push(["average power", `${num(r.averagePowerKw)} kW`, "IT × PUE over the duration"]);
  results.push(["energy", `${num(r.energyKwh)} kWh`, parts.filter(Boolean).join(" + ")]);
  const big = r.co2eGrams >= 1000 ? `= ${num(r.co2eKg)} kg = ${num(r.co2eTonnes)} t` : "";
  results.push(["CO₂e", `${num(r.co2eGrams)} g`, big || "operational, location-based"]);
  if (r.marketGrams !== undefined)
    results.push(["CO₂e (market)", `${num(r.marketGrams)} g`, "contractual factor from config"]);
  if (r.embodiedGrams !== undefined)
    results.push(["embodied", `${num(r.embodiedGrams)} g`, "SCI M = TE × time share × resource share"]);
  if (r.sciGramsPerUnit !== undefined)
    results.push(["SCI", `${num(r.sciGramsPerUnit)} g/unit`, "(E × I + M) ÷ R"]);
  if (r.carbonCost !== undefined)
    results.push(["carbon cost", `${money(r.carbonCost)} ${r.currency ?? ""}`.trim(), "tonnes × price"]);
  if (r.annualCo2eKg !== undefined)
    results.push(["per year", `${num(r.annualCo2eKg)} kg`, `${num(r.runsPerYear ?? 0)} runs`]);
  lines.push(table(results));
  return `${lines.join("\n")}\n`;
}

export async function run(argv: string[]): Promise<number> {
  let parsed: ParsedArgs;
  try {
    parsed = parseFlags(argv, ESTIMATE_OPTIONS);
  } catch (error) {
    return fail(error);
  }
  if (parsed.values.help) {
    process.stdout.write(ESTIMATE_HELP);
    return 0;
  }
  try {
    const result = estimateFromFlags(parsed.values);
    process.stdout.write(
      parsed.values.json ? `${JSON.stringify(result, null, 2)}\n` : formatEstimate(result),
    );
    return 0;
  } catch (error) {
    return fail(error);
  }
}

/** Every input error is the caller's to fix: exit 2 with the message, as for usage errors. */
function fail(error: unknown): number {
  if (
    isCo2eError(error) &&
    (
      [
        ERROR_CODES.usage,
        ERROR_CODES.config,
        ERROR_CODES.unknownZone,
        ERROR_CODES.unknownRegion,
        ERROR_CODES.modelInput,
      ] as string[]
    ).includes(error.code)
  ) {
    process.stderr.write(`co2e estimate: ${error.message} [${error.code}]\n`);
    if (error.code === ERROR_CODES.usage)
      process.stderr.write("Run `co2e estimate --help` for the options.\n");
    return 2;
  }
  // Anything else is a bug: cli/main.ts prints it with its stack and exits 1.
  throw error;
}
