/**
 * The calculation behind `co2e estimate`: parse the flags → resolve the intensity → the model's
 * `footprintParams` (the parameters a span in this zone would get) with the flags' overrides →
 * `computeFootprint` (src/model) → the `EstimateResult` with its factor table. A number printed
 * here is the number a span would carry. Each factor records where it came from: a flag, the
 * config file (and which default), or which intensity data set.
 */
import { basename } from "node:path";
import { type Config, DEFAULT_CONFIG_PATH, loadConfig } from "../../config.ts";
import { STATIC_EMISSION_FACTOR_TYPE } from "../../intensity/static.ts";
import type { IntensityValue } from "../../intensity/types.ts";
import {
  BYTES_PER_GB,
  BYTES_PER_GIB,
  type CpuModelParams,
  computeFootprint,
  DEFAULT_PUE,
  type Footprint,
  type FootprintInput,
  type FootprintParams,
  gpuWattsFromTdp,
  gramsToTonnes,
  JOULES_PER_KWH,
  MEMORY_WATTS_PER_GB,
  NETWORK_KWH_PER_GB,
  SECONDS_PER_HOUR,
} from "../../model/index.ts";
import { footprintParams } from "../../processor/enrich.ts";
import { type DescribedFootprint, describeFootprint } from "../../processor/provenance.ts";
import { footprintBand, footprintExtras } from "../../run/report.ts";
import { INTENSITY_SOURCE } from "../../semconv.ts";
import { formatExact } from "../../util/format.ts";
import { numberFlag, type ParsedArgs, parseDurationSeconds, usageError } from "../args.ts";
import { chooseCpuModel } from "./cpu.ts";
import { type EstimateIntensity, estimateIntensity } from "./intensity.ts";
import type { EstimateFactor, EstimateFlagValues, EstimateResult } from "./types.ts";

const ENERGY_COMPONENT_FLAGS = ["cpu-seconds", "cpu-util", "memory-gb", "gpu-watts", "network-gb"] as const;
/** Flags that only qualify a component; meaningless beside --energy-kwh. */
const COMPONENT_QUALIFIER_FLAGS = ["cores", "tdp-watts", "cpu-model", "gpu-util"] as const;

/** What every step reads: the flag values, the config and where it came from, the factor table. */
interface Ctx {
  values: ParsedArgs["values"];
  cfg: Config;
  /** `config default`, `config my.yaml`, or `config` for a config handed in. */
  fromConfig: string;
  factors: EstimateFactor[];
  /** `--duration` in seconds, when given. */
  durationSeconds: number | undefined;
}

function add(ctx: Ctx, name: string, value: number | string, unit: string, source: string): void {
  ctx.factors.push({ name, value: typeof value === "number" ? formatExact(value) : value, unit, source });
}

function has(values: ParsedArgs["values"], name: string): boolean {
  return values[name] !== undefined;
}

function needsDuration(ctx: Ctx, flag: string): number {
  if (ctx.durationSeconds === undefined)
    throw usageError(`--${flag} needs --duration (how long the job ran)`);
  return ctx.durationSeconds;
}

type ModelNumberKey = "pue" | "memoryWattsPerGb" | "networkKwhPerGb";

/** Source of a `model.*` config value, saying why while it is the default. */
function modelKeySource(ctx: Ctx, key: ModelNumberKey, defaultValue: number, whyDefault: string): string {
  return `${ctx.fromConfig} model.${key}${ctx.cfg.model[key] === defaultValue ? ` (${whyDefault})` : ""}`;
}

/** The `model.*` values a component brings into the factor table, with their default's source. */
const MODEL_FACTORS = {
  memoryWattsPerGb: {
    name: "memory power",
    unit: "W/GB",
    defaultValue: MEMORY_WATTS_PER_GB,
    whyDefault: "seed 003: 3 W per 8 GB",
  },
  networkKwhPerGb: {
    name: "network energy",
    unit: "kWh/GB",
    defaultValue: NETWORK_KWH_PER_GB,
    whyDefault: "seed 002, Green Metrics Tool",
  },
} as const;

function modelFactor(ctx: Ctx, key: keyof typeof MODEL_FACTORS): void {
  const f = MODEL_FACTORS[key];
  add(ctx, f.name, ctx.cfg.model[key], f.unit, modelKeySource(ctx, key, f.defaultValue, f.whyDefault));
}

// --- parse ---------------------------------------------------------------------------------------

function normaliseValues(values: EstimateFlagValues): ParsedArgs["values"] {
  const out: ParsedArgs["values"] = {};
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined) continue;
    out[key] = typeof value === "number" ? String(value) : value;
  }
  return out;
}

function context(input: EstimateFlagValues, config: Config | undefined): Ctx {
  const values = normaliseValues(input);
  const file = typeof values.config === "string" ? values.config : process.env.CO2E_CONFIG;
  const cfg = config ?? loadConfig(typeof values.config === "string" ? { file: values.config } : {});
  const fromConfig = config
    ? "config"
    : file === undefined || file === DEFAULT_CONFIG_PATH
      ? "config default"
      : `config ${basename(file)}`;
  const durationSeconds =
    typeof values.duration === "string" ? parseDurationSeconds(values.duration, "duration") : undefined;
  return { values, cfg, fromConfig, factors: [], durationSeconds };
}

/** `--energy-kwh` (checked against the component flags), or undefined when components give it. */
function givenEnergyKwh(values: ParsedArgs["values"]): number | undefined {
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
  return direct;
}

// --- energy inputs -------------------------------------------------------------------------------

/** Usage and CPU parameters from the component flags, each recorded in the factor table. */
function componentUsage(
  ctx: Ctx,
  usage: FootprintInput,
): { cpu: CpuModelParams; cpuModel: EstimateResult["cpuModel"] } {
  const { values, cfg } = ctx;
  const { cpu, cpuModel } = chooseCpuModel(values, cfg, ctx.fromConfig, (n, v, u, s) => add(ctx, n, v, u, s));

  const cpuSeconds = numberFlag(values, "cpu-seconds", { min: 0 });
  const cpuUtil = numberFlag(values, "cpu-util", { min: 0 });
  if (cpuSeconds !== undefined) {
    if (cpu.model === "linear")
      needsDuration(ctx, "cpu-seconds (linear model charges idle power over the duration)");
    usage.cpuSeconds = cpuSeconds;
    add(ctx, "cpu time", cpuSeconds, "s", "--cpu-seconds");
  } else if (cpuUtil !== undefined) {
    const seconds = needsDuration(ctx, "cpu-util");
    const cores = cpu.model === "linear" ? cpu.vcpus : cpu.model === "tdp" ? cpu.logicalCores : 1;
    // Utilisation of the whole CPU (seed 003): CPU-seconds = U × duration × cores, so the tdp
    // model gives E = U × TDP × duration whatever the core count.
    usage.cpuSeconds = cpuUtil * seconds * cores;
    add(ctx, "cpu utilisation", cpuUtil, "of whole CPU", "--cpu-util");
  }

  const memoryGb = numberFlag(values, "memory-gb", { min: 0 });
  if (memoryGb !== undefined) {
    needsDuration(ctx, "memory-gb");
    usage.memoryAvgBytes = memoryGb * BYTES_PER_GIB;
    add(ctx, "memory", memoryGb, "GB", "--memory-gb");
    modelFactor(ctx, "memoryWattsPerGb");
  }

  const gpuWatts = numberFlag(values, "gpu-watts", { min: 0 });
  const gpuUtil = numberFlag(values, "gpu-util", { min: 0 });
  if (gpuUtil !== undefined && gpuWatts === undefined)
    throw usageError("--gpu-util needs --gpu-watts (the GPU's TDP)");
  if (gpuWatts !== undefined) {
    needsDuration(ctx, "gpu-watts");
    usage.gpuWatts = gpuUtil === undefined ? gpuWatts : gpuWattsFromTdp(gpuWatts, gpuUtil);
    add(ctx, "gpu power", gpuWatts, "W", "--gpu-watts");
    if (gpuUtil !== undefined) add(ctx, "gpu utilisation", gpuUtil, "of TDP", "--gpu-util");
  }

  const networkGb = numberFlag(values, "network-gb", { min: 0 });
  if (networkGb !== undefined) {
    usage.networkBytes = networkGb * BYTES_PER_GB;
    add(ctx, "network", networkGb, "GB", "--network-gb");
    modelFactor(ctx, "networkKwhPerGb");
  }
  return { cpu, cpuModel };
}

/** The PUE of the zone as footprintParams chose it, unless --pue or --energy-kwh say otherwise. */
function choosePue(ctx: Ctx, params: FootprintParams, zone: string | null, direct: number | undefined): void {
  const pueFlag = numberFlag(ctx.values, "pue", { min: 1 });
  let source: string;
  if (pueFlag !== undefined) {
    params.energy.pue = pueFlag;
    source = "--pue";
  } else if (direct !== undefined) {
    // The given kWh is the job's whole energy (seed 000); a configured PUE would count the
    // data-centre overhead twice. Passing --pue says the figure is IT energy only.
    params.energy.pue = DEFAULT_PUE;
    source = "not applied: --energy-kwh is the total (pass --pue if it is IT energy only)";
  } else if (zone !== null && ctx.cfg.model.pueByZone[zone] !== undefined) {
    source = `${ctx.fromConfig} model.pueByZone.${zone}`;
  } else {
    source = modelKeySource(ctx, "pue", DEFAULT_PUE, "no data-centre overhead assumed");
  }
  add(ctx, "PUE", params.energy.pue, "", source);
}

// --- extras --------------------------------------------------------------------------------------

/** Embodied carbon (SCI M) from the flags, else the config's, else none. */
function chooseEmbodied(ctx: Ctx, params: FootprintParams): void {
  const { values, cfg, fromConfig } = ctx;
  const embodiedKg = numberFlag(values, "embodied-kg", { min: 0 });
  const lifespanYears = numberFlag(values, "lifespan-years", { min: 0 });
  const reservedShare = numberFlag(values, "reserved-share", { min: 0, max: 1 });
  if (lifespanYears !== undefined && lifespanYears <= 0)
    throw usageError(`--lifespan-years: must be > 0, got ${lifespanYears}`);
  const flagsGiven = embodiedKg !== undefined || lifespanYears !== undefined || reservedShare !== undefined;
  delete params.embodied;
  if (!flagsGiven && cfg.embodied === undefined) return;
  if (!flagsGiven && ctx.durationSeconds === undefined) {
    // Configured embodied carbon needs a reserved time; an estimate without --duration still
    // stands, it just cannot include M. Say so instead of failing or guessing a duration.
    add(ctx, "embodied", "skipped", "", `${fromConfig} embodied is set, but M needs --duration`);
    return;
  }
  const total = embodiedKg ?? cfg.embodied?.totalEmbodiedKg;
  if (total === undefined) throw usageError("--lifespan-years/--reserved-share need --embodied-kg");
  const life = lifespanYears ?? cfg.embodied?.lifespanYears;
  if (life === undefined)
    throw usageError("--embodied-kg needs --lifespan-years (the hardware's expected life)");
  const share = reservedShare ?? cfg.embodied?.reservedShare ?? 1;
  needsDuration(ctx, "embodied-kg (the time the hardware was reserved)");
  params.embodied = { totalEmbodiedKg: total, lifespanYears: life, reservedShare: share };
  const configured = `${fromConfig} embodied`;
  add(ctx, "embodied (TE)", total, "kgCO₂e", embodiedKg !== undefined ? "--embodied-kg" : configured);
  add(ctx, "lifespan", life, "years", lifespanYears !== undefined ? "--lifespan-years" : configured);
  const shareSource =
    reservedShare !== undefined
      ? "--reserved-share"
      : cfg.embodied
        ? configured
        : "whole machine (default 1)";
  add(ctx, "reserved share", share, "", shareSource);
}

/** `--carbon-price` over the config's; returns the currency. */
function choosePrice(ctx: Ctx, params: FootprintParams): string {
  const priceFlag = numberFlag(ctx.values, "carbon-price", { min: 0 });
  const currency = ctx.cfg.carbonPrice?.currency ?? "USD";
  if (priceFlag !== undefined) params.carbonPricePerTonne = priceFlag;
  const price = params.carbonPricePerTonne;
  if (price !== undefined) {
    const source = priceFlag !== undefined ? "--carbon-price" : `${ctx.fromConfig} carbonPrice`;
    add(ctx, "carbon price", price, `${currency}/tCO₂e`, source);
  }
  return currency;
}

function positiveFlag(ctx: Ctx, name: string, label: string, unit: string): number | undefined {
  const value = numberFlag(ctx.values, name, { min: 0 });
  if (value === undefined) return undefined;
  if (name === "functional-units" && value <= 0) throw usageError(`--${name}: must be > 0, got ${value}`);
  add(ctx, label, value, unit, `--${name}`);
  return value;
}

// --- render --------------------------------------------------------------------------------------

interface Computed {
  fp: Footprint;
  usage: FootprintInput;
  direct: number | undefined;
  intensity: EstimateIntensity;
  cpuModel: EstimateResult["cpuModel"];
  currency: string;
  runsPerYear: number | undefined;
  described: DescribedFootprint;
}

function toResult(ctx: Ctx, c: Computed): EstimateResult {
  const { fp, usage, direct } = c;
  const e = fp.energy;
  const result: Omit<EstimateResult, "factors"> = {
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
    intensity: c.intensity.value,
    pue: e.pue,
    durationSeconds: usage.durationSeconds,
    cpuModel: c.cpuModel,
    ...footprintBand(c.described),
  };
  if (direct === undefined && usage.durationSeconds > 0) {
    result.averagePowerKw = (e.totalKwh - e.networkKwh) / (usage.durationSeconds / SECONDS_PER_HOUR);
  }
  Object.assign(result, footprintExtras(fp, usage.functionalUnits, c.currency));
  if (c.runsPerYear !== undefined) {
    result.runsPerYear = c.runsPerYear;
    result.annualCo2eKg = ((fp.co2eGrams + (fp.embodiedGrams ?? 0)) * c.runsPerYear) / 1000;
  }
  // The factor table last, so the JSON reads results first.
  return { ...result, factors: ctx.factors };
}

/**
 * Computes the estimate from flag values (as parsed by `parseFlags`, or plain numbers). Throws
 * `CO2E_ERR_USAGE` for inconsistent flags, `CO2E_ERR_UNKNOWN_ZONE` / `CO2E_ERR_UNKNOWN_REGION`
 * for a zone or region the tables lack, `CO2E_ERR_CONFIG` for a bad config file.
 * `config` defaults to `loadConfig({ file: values.config })`.
 */
export function estimateFromFlags(input: EstimateFlagValues, config?: Config): EstimateResult {
  const ctx = context(input, config);
  const direct = givenEnergyKwh(ctx.values);
  if (ctx.durationSeconds !== undefined) {
    add(ctx, "duration", ctx.durationSeconds, "s", `--duration ${String(ctx.values.duration)}`);
  }
  const intensity = estimateIntensity(ctx.values, ctx.cfg);
  const zone = intensity.value.zone;

  // The parameters a span in this zone gets (PUE, market factor, embodied, price); a zone given
  // as a bare --intensity has no per-zone entries ("" matches none).
  const params = footprintParams(ctx.cfg, zone ?? "", 1);
  const usage: FootprintInput = { durationSeconds: ctx.durationSeconds ?? 0 };
  let cpuModel: EstimateResult["cpuModel"];
  if (direct !== undefined) {
    // Given energy is measured energy: the `rapl` sibling takes measured joules as they are.
    params.energy.cpu = { model: "rapl" };
    cpuModel = "given";
    usage.cpuMeasuredJoules = direct * JOULES_PER_KWH;
    add(ctx, "energy", direct, "kWh", "--energy-kwh");
  } else {
    const chosen = componentUsage(ctx, usage);
    params.energy.cpu = chosen.cpu;
    cpuModel = chosen.cpuModel;
  }
  choosePue(ctx, params, zone, direct);
  add(ctx, "intensity", intensity.value.gramsPerKwh, "gCO₂e/kWh", intensity.source);
  chooseEmbodied(ctx, params);
  const functionalUnits = positiveFlag(ctx, "functional-units", "functional units", "units");
  if (functionalUnits !== undefined) usage.functionalUnits = functionalUnits;
  const currency = choosePrice(ctx, params);
  const runsPerYear = positiveFlag(ctx, "runs-per-year", "runs per year", "runs");

  const fp = computeFootprint(usage, intensity.value.gramsPerKwh, params);
  // PUE is known when --pue says it, or not applied to a given total (--energy-kwh).
  const pueKnown = direct !== undefined || ctx.values.pue !== undefined;
  const described = describeFootprint(usage, params, rangeIntensity(intensity), fp, { pueKnown });
  return toResult(ctx, { fp, usage, direct, intensity, cpuModel, currency, runsPerYear, described });
}

/**
 * The intensity as the range sees it: a static table value is a yearly average chosen on purpose
 * (not a fallback: an estimate never asks a live provider), holding lifecycle factors; a given
 * `--intensity` is taken as stated.
 */
function rangeIntensity(intensity: EstimateIntensity): IntensityValue {
  const v = intensity.value;
  if (v.source === INTENSITY_SOURCE.static) {
    return {
      gramsPerKwh: v.gramsPerKwh,
      zone: v.zone ?? "",
      source: v.source,
      method: "yearly-average",
      emissionFactorType: STATIC_EMISSION_FACTOR_TYPE,
    };
  }
  return { gramsPerKwh: v.gramsPerKwh, zone: v.zone ?? "", source: v.source, method: "configured" };
}
