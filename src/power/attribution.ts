/**
 * From measured package energy to a job's CPU energy. RAPL measures the whole package (every
 * process, plus the idle floor), so a job gets the share of it that its CPU time is of the
 * machine's busy CPU time over the same window:
 *
 *   E_job = ΔE_package × min(1, cpuSeconds_job ÷ busySeconds_machine)
 *
 * busySeconds from `/proc/stat` (see procstat.ts). The idle floor is thereby shared among the
 * work that ran, in proportion to it: a job alone on a quiet machine carries all of it.
 */
import { systemUnits } from "../run/procfs.ts";
import { readProcStatCpu } from "./procstat.ts";
import { createRaplReader, type RaplReader } from "./rapl.ts";

export interface AttributionInput {
  /** Package energy over the window, all packages, J. */
  packageJoules: number;
  /** CPU time of the job over the window, s. */
  jobCpuSeconds: number;
  /** Busy CPU time of the whole machine over the window, s. */
  machineBusySeconds: number;
}

/** Share of the machine's busy CPU time the job used, in [0, 1]. */
export function cpuShare(jobCpuSeconds: number, machineBusySeconds: number): number {
  if (!(jobCpuSeconds > 0)) return 0;
  // /proc/stat counts in 10 ms ticks: a short job can see 0 ticks; it then ran alone as far as
  // anyone can tell, so it gets the whole (small) window.
  if (!(machineBusySeconds > 0)) return 1;
  return Math.min(1, jobCpuSeconds / machineBusySeconds);
}

export function attributeCpuJoules(input: AttributionInput): number {
  return Math.max(0, input.packageJoules) * cpuShare(input.jobCpuSeconds, input.machineBusySeconds);
}

/** Package energy and machine busy time at one instant. */
export interface MachineCpuSnapshot {
  packageJoules: number;
  busySeconds: number;
}

/** RAPL + /proc/stat together: what a job meter snapshots at a job's start and end. */
export interface MachineCpuEnergy {
  /** undefined when either source stopped being readable. */
  snapshot(): MachineCpuSnapshot | undefined;
}

/** Joules attributed to a job that used `jobCpuSeconds` between two snapshots. */
export function attributeBetween(
  start: MachineCpuSnapshot,
  end: MachineCpuSnapshot,
  jobCpuSeconds: number,
): number {
  return attributeCpuJoules({
    packageJoules: end.packageJoules - start.packageJoules,
    jobCpuSeconds,
    machineBusySeconds: end.busySeconds - start.busySeconds,
  });
}

export interface MachineCpuEnergyOptions {
  /** @default "/sys/class/powercap" */
  powercapRoot?: string;
  /** @default "/proc" */
  procRoot?: string;
  /** USER_HZ. @default getconf CLK_TCK, else 100 */
  ticksPerSecond?: number;
}

/** undefined when RAPL or /proc/stat is not readable here (the caller falls back to tdp). */
export function createMachineCpuEnergy(options: MachineCpuEnergyOptions = {}): MachineCpuEnergy | undefined {
  const rapl: RaplReader | undefined = createRaplReader(
    options.powercapRoot ? { root: options.powercapRoot } : {},
  );
  if (!rapl) return undefined;
  const procRoot = options.procRoot;
  if (!readProcStatCpu(procRoot)) return undefined;
  const ticksPerSecond = options.ticksPerSecond ?? systemUnits().ticksPerSecond;
  return {
    snapshot(): MachineCpuSnapshot | undefined {
      const packageJoules = rapl.totalJoules();
      const ticks = readProcStatCpu(procRoot);
      if (packageJoules === undefined || !ticks) return undefined;
      return { packageJoules, busySeconds: ticks.busyTicks / ticksPerSecond };
    },
  };
}
