/**
 * The CPU model of an estimate and its parameters, each with where it came from: the
 * `--cpu-model`, `--tdp-watts` and `--cores` flags, else the config's `model.cpu`.
 *
 * A config `rapl` model reads measured package energy while a job runs; a calculator has nothing
 * to measure, so the estimate uses the tdp model at `fallbackTdpWatts` (what `co2e run` and the
 * span processor do when powercap is unreadable) and says so in the factor table.
 */
import { availableParallelism } from "node:os";
import type { Config } from "../../config.ts";
import {
  CCF_AWS_MAX_WATTS_PER_VCPU,
  CCF_AWS_MIN_WATTS_PER_VCPU,
  type CpuModelParams,
  DEFAULT_CPU_TDP_WATTS,
} from "../../model/index.ts";
import { formatExact } from "../../util/format.ts";
import { numberFlag, type ParsedArgs, usageError } from "../args.ts";

/** Adds one line to the factor table. */
export type AddFactor = (name: string, value: number | string, unit: string, source: string) => void;

export interface CpuChoice {
  cpu: CpuModelParams;
  /** `tdp` | `linear`, or `none` when no CPU use was given (the tdp params are then unused). */
  cpuModel: "tdp" | "linear" | "none";
}

/**
 * Picks the CPU model for component flags. `fromConfig` labels config values ("config default",
 * "config my.yaml"); `add` records each factor used.
 */
export function chooseCpuModel(
  values: ParsedArgs["values"],
  config: Config,
  fromConfig: string,
  add: AddFactor,
): CpuChoice {
  const cfgCpu = config.model.cpu;
  const usesCpu = values["cpu-seconds"] !== undefined || values["cpu-util"] !== undefined;
  const modelFlag = typeof values["cpu-model"] === "string" ? values["cpu-model"] : undefined;
  if (modelFlag !== undefined && modelFlag !== "tdp" && modelFlag !== "linear") {
    throw usageError(`--cpu-model: expects tdp or linear, got "${modelFlag}"`);
  }
  const tdpFlag = numberFlag(values, "tdp-watts", { min: 0 });
  const wantLinear =
    modelFlag === "linear" || (modelFlag === undefined && tdpFlag === undefined && cfgCpu.model === "linear");
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
    return {
      cpu: { model: "linear", minWattsPerVcpu: minW, maxWattsPerVcpu: maxW, vcpus },
      cpuModel: "linear",
    };
  }

  const rapl = cfgCpu.model === "rapl" && modelFlag === undefined;
  const cfgTdp =
    cfgCpu.model === "tdp" ? cfgCpu.tdpWatts : cfgCpu.model === "rapl" ? cfgCpu.fallbackTdpWatts : undefined;
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
    coresSource =
      cfgCpu.model === "tdp"
        ? `${fromConfig} model.cpu.logicalCores=auto (this machine)`
        : "this machine's logical cores";
  }
  const cpu: CpuModelParams = { model: "tdp", tdpWatts, logicalCores };
  if (!usesCpu) return { cpu, cpuModel: "none" };

  let modelSource: string;
  if (modelFlag) modelSource = "--cpu-model";
  else if (rapl) {
    const at = tdpFlag !== undefined ? "--tdp-watts" : "fallbackTdpWatts";
    modelSource = `${fromConfig} model rapl cannot measure here: tdp at ${at} ${formatExact(tdpWatts)} W`;
  } else modelSource = "P = U × TDP (seed 003)";
  add("cpu model", "tdp", "", modelSource);
  let tdpSource: string;
  if (tdpFlag !== undefined) tdpSource = "--tdp-watts";
  else if (cfgCpu.model === "rapl") tdpSource = `${fromConfig} model.cpu.fallbackTdpWatts`;
  else
    tdpSource = `${fromConfig} model.cpu${tdpWatts === DEFAULT_CPU_TDP_WATTS ? " (CodeCarbon's fallback for an unknown CPU)" : ""}`;
  add("cpu TDP", tdpWatts, "W", tdpSource);
  // With --cpu-util the core count cancels out (E = U × TDP × duration), so it is shown only
  // when it matters or was given.
  if (values["cpu-seconds"] !== undefined || coresFlag !== undefined) {
    add("logical cores", logicalCores, "cores", coresSource);
  }
  return { cpu, cpuModel: "tdp" };
}
