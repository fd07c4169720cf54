/**
 * From measured package energy to a job's CPU energy. RAPL measures the whole package (every
 * process, plus the idle floor), so a job gets the share of it that its CPU time is of the
 * machine's busy CPU time over the same window:
 *
 *   E_job = ΔE_package × cpuSeconds_job ÷ max(busySeconds_machine, cpuSeconds_process, cpuSeconds_job)
 *
 * busySeconds from `/proc/stat` (see procstat.ts). The idle floor is thereby shared among the
 * work that ran, in proportion to it: a job alone on a quiet machine carries all of it.
 *
 * Why the max: /proc/stat counts in 10 ms ticks, so over a short window the machine can show 0
 * (or too few) busy ticks while this process demonstrably ran. The process's own CPU time over
 * the window (µs resolution, from the job meter) is part of the machine's busy time, so it is a
 * floor of the denominator. With it, jobs of one process whose windows coincide get shares that
 * add up to at most 1: N overlapping short jobs split the window's package energy instead of each
 * taking all of it (the old rule gave share 1 whenever the machine showed 0 busy ticks). The job's
 * own CPU time is the last floor, so a share never exceeds 1. Limit: two *processes* both running
 * sub-tick jobs in the same window cannot see each other's CPU time and may each take the window.
 */
import { systemUnits } from "./procfs.ts";
import { readProcStatCpu } from "./procstat.ts";
import { createRaplReader, type RaplReader } from "./rapl.ts";

export interface AttributionInput {
  /** Package energy over the window, all packages, J. */
  packageJoules: number;
  /** CPU time of the job over the window, s. */
  jobCpuSeconds: number;
  /** Busy CPU time of the whole machine over the window (/proc/stat, 10 ms ticks), s. */
  machineBusySeconds: number;
  /**
   * CPU time of the job's whole process over the window (µs clock), s: a floor of the machine's
   * busy time that /proc/stat's tick counting can miss. @default 0 (no floor but the job's own)
   */
  processCpuSeconds?: number;
}

/**
 * Share of the machine's busy CPU time the job used, in [0, 1]: job ÷ max(machine busy, process
 * CPU, job). See the module comment for why the process's CPU time is a floor.
 */
export function cpuShare(jobCpuSeconds: number, machineBusySeconds: number, processCpuSeconds = 0): number {
  if (!(jobCpuSeconds > 0)) return 0;
  const busy = Math.max(
    Number.isFinite(machineBusySeconds) ? machineBusySeconds : 0,
    Number.isFinite(processCpuSeconds) ? processCpuSeconds : 0,
    jobCpuSeconds,
  );
  return jobCpuSeconds / busy;
}

export function attributeCpuJoules(input: AttributionInput): number {
  return (
    Math.max(0, input.packageJoules) *
    cpuShare(input.jobCpuSeconds, input.machineBusySeconds, input.processCpuSeconds)
  );
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

/**
 * Joules attributed to a job that used `jobCpuSeconds` between two snapshots, its process having
 * used `processCpuSeconds` over the same window.
 */
export function attributeBetween(
  start: MachineCpuSnapshot,
  end: MachineCpuSnapshot,
  jobCpuSeconds: number,
  processCpuSeconds = 0,
): number {
  return attributeCpuJoules({
    packageJoules: end.packageJoules - start.packageJoules,
    jobCpuSeconds,
    machineBusySeconds: end.busySeconds - start.busySeconds,
    processCpuSeconds,
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
