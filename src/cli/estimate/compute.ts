/**
 * The calculation behind `co2e estimate`: flag values (and the config) in, an `EstimateResult`
 * with its factor table out. Every figure goes through `computeFootprint` (src/model), the same
 * function the span processor and the gateway call, so a number printed here is the number a
 * span would carry. Each factor records where it came from: a flag, the config file (and which
 * default), or which intensity data set.
 *
 * Intensity comes from the static yearly table only (no network): the command is meant to be
 * reproducible, and `co2e intensity` is the place for live values.
 */
import { basename } from "node:path";
import { type Config, DEFAULT_CONFIG_PATH, loadConfig } from "../../config.ts";
import { Co2eError, isCo2eError } from "../../errors.ts";
import { STATIC_YEARS, type StaticYear, staticIntensity } from "../../intensity/static.ts";
import type { IntensityValue } from "../../intensity/types.ts";
import { DEFAULT_ZONE, resolveZone, zoneForCloudRegion } from "../../intensity/zone.ts";
import {
  BYTES_PER_GB,
  BYTES_PER_GIB,
  type CpuModelParams,
  computeFootprint,
  DEFAULT_PUE,
  type FootprintInput,
  type FootprintParams,
  gpuWattsFromTdp,
  gramsToTonnes,
  JOULES_PER_KWH,
  MEMORY_WATTS_PER_GB,
  NETWORK_KWH_PER_GB,
  SECONDS_PER_HOUR,
} from "../../model/index.ts";
import { INTENSITY_SOURCE } from "../../semconv.ts";
import { numberFlag, type ParsedArgs, parseDurationSeconds, usageError } from "../args.ts";
import { formatExact } from "../format.ts";
import { chooseCpuModel } from "./cpu.ts";
import type { EstimateFactor, EstimateFlagValues, EstimateResult } from "./types.ts";

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
    factors.push({ name, value: typeof value === "number" ? formatExact(value) : value, unit, source });
  };
  type ModelNumberKey = "pue" | "memoryWattsPerGb" | "networkKwhPerGb";
  /** Source of a `model.*` config value, saying where it comes from while it is the default. */
  const modelKeySource = (key: ModelNumberKey, defaultValue: number, whyDefault: string): string =>
    `${fromConfig} model.${key}${cfg.model[key] === defaultValue ? ` (${whyDefault})` : ""}`;
  const modelFactor = (name: string, unit: string, key: ModelNumberKey, defaultValue: number, why: string) =>
    add(name, cfg.model[key], unit, modelKeySource(key, defaultValue, why));

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
      configZone: cfg.zone,
      cloudProvider: cfg.cloud?.provider,
      cloudRegion: cfg.cloud?.region,
      defaultZone: DEFAULT_ZONE,
      staticYear: year,
    });
    const value = staticIntensity(resolved.zone, year);
    intensity = fromTable(value, resolved.resolvedBy);
    let how: string;
    if (resolved.resolvedBy === "default")
      how = `default zone ${value.zone} (no zone or cloud in ${fromConfig})`;
    else if (resolved.resolvedBy === "cloud-region" && cfg.cloud)
      how = `${fromConfig} cloud ${cfg.cloud.provider}/${cfg.cloud.region} → ${value.zone}`;
    else how = `${fromConfig} zone ${value.zone}`;
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
    pueSource = modelKeySource("pue", DEFAULT_PUE, "no data-centre overhead assumed");
  }

  // --- usage and model parameters ----------------------------------------------------------------
  const usage: FootprintInput = { durationSeconds: durationSeconds ?? 0 };
  let cpu: CpuModelParams;
  let cpuModel: EstimateResult["cpuModel"];

  if (direct !== undefined) {
    // Given energy is measured energy: the `rapl` sibling takes measured joules as they are.
    cpu = { model: "rapl" };
    cpuModel = "given";
    usage.cpuMeasuredJoules = direct * JOULES_PER_KWH;
    add("energy", direct, "kWh", "--energy-kwh");
  } else {
    ({ cpu, cpuModel } = chooseCpuModel(values, cfg, fromConfig, add));

    const cpuSecondsFlag = numberFlag(values, "cpu-seconds", { min: 0 });
    const cpuUtil = numberFlag(values, "cpu-util", { min: 0 });
    if (cpuSecondsFlag !== undefined) {
      if (cpu.model === "linear")
        needsDuration("cpu-seconds (linear model charges idle power over the duration)");
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
      modelFactor("memory power", "W/GB", "memoryWattsPerGb", MEMORY_WATTS_PER_GB, "seed 003: 3 W per 8 GB");
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
      modelFactor(
        "network energy",
        "kWh/GB",
        "networkKwhPerGb",
        NETWORK_KWH_PER_GB,
        "seed 002, Green Metrics Tool",
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
