/**
 * Machine-wide CPU time from the aggregate `cpu` line of `/proc/stat` (proc(5)): the denominator
 * of the RAPL attribution. Fields, in USER_HZ ticks: user nice system idle iowait irq softirq
 * steal guest guest_nice. Busy = user + nice + system + irq + softirq + steal; guest time is
 * already inside user (and guest_nice inside nice), so it is not added again.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

export const DEFAULT_PROC_ROOT = "/proc";

export interface MachineCpuTicks {
  /** Time all CPUs spent doing work, ticks. */
  busyTicks: number;
  /** Busy + idle + iowait, ticks. */
  totalTicks: number;
}

/** Parses the aggregate `cpu ` line of a `/proc/stat` text. */
export function parseProcStatCpu(text: string): MachineCpuTicks | undefined {
  const line = text.split("\n").find((l) => l.startsWith("cpu "));
  if (!line) return undefined;
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  // Kernels before 2.6.11 lack steal; treat a missing field as 0, a garbled one as unreadable.
  const at = (i: number): number => f[i] ?? 0;
  if (f.length < 4 || !f.every(Number.isFinite)) return undefined;
  const busyTicks = at(0) + at(1) + at(2) + at(5) + at(6) + at(7);
  return { busyTicks, totalTicks: busyTicks + at(3) + at(4) };
}

export function readProcStatCpu(procRoot: string = DEFAULT_PROC_ROOT): MachineCpuTicks | undefined {
  try {
    return parseProcStatCpu(readFileSync(join(procRoot, "stat"), "utf8"));
  } catch {
    return undefined;
  }
}
