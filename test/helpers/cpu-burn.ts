/**
 * Busy loops for tests that measure CPU time, written once. The loops do floating-point work the
 * engine cannot drop (the result is checked), and every loop is bounded in wall time too, so a
 * crowded machine slows a test down instead of hanging it.
 *
 * Also a script for child processes: `node test/helpers/cpu-burn.ts <ms> [out-file]` spins until
 * it has used <ms> of CPU time (or 4 × <ms> of wall time), then writes its own CPU seconds to
 * <out-file> when one is given.
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export type CpuClock = "process" | "thread";

const threadCpuUsage = (process as { threadCpuUsage?: () => NodeJS.CpuUsage }).threadCpuUsage;
/** Whether this Node has a per-thread CPU clock (process.threadCpuUsage, Node ≥ 23.9). */
export const HAS_THREAD_CPU = typeof threadCpuUsage === "function";

/** CPU seconds (user + system) used so far by the process, or by this thread when asked and known. */
export function cpuSeconds(clock: CpuClock = "process"): number {
  const u = clock === "thread" && threadCpuUsage ? threadCpuUsage.call(process) : process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

let sink = 0;
function work(iterations: number): void {
  let x = sink;
  for (let i = 0; i < iterations; i++) x += Math.sqrt(x + i);
  if (Number.isNaN(x)) throw new Error("unreachable");
  sink = x % 1e6;
}

/**
 * Spins until `seconds` of CPU time have been used on `clock`, or `maxWallMs` of wall time have
 * passed (default 20 × the CPU time asked for, at least 10 s: only a guard against a hang, since
 * tests compare the CPU time used with a job's figure). Returns the CPU seconds used.
 */
export function burnCpuSeconds(
  seconds: number,
  clock: CpuClock = "process",
  maxWallMs = Math.max(10_000, 20_000 * seconds),
): number {
  const start = cpuSeconds(clock);
  const deadline = performance.now() + maxWallMs;
  while (cpuSeconds(clock) - start < seconds && performance.now() < deadline) work(10_000);
  return cpuSeconds(clock) - start;
}

/** Spins for `ms` of wall time (whatever share of a core it gets). */
export function burnWallMs(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) work(100);
}

/** Burns ≈ `ms` of CPU time in 5 ms slices, yielding to the event loop between them (an async job). */
export async function burnSlices(ms: number, clock: CpuClock = "process"): Promise<void> {
  const start = cpuSeconds(clock);
  for (let i = 0; i < 10_000 && cpuSeconds(clock) - start < ms / 1000; i++) {
    burnCpuSeconds(0.005, clock);
    await new Promise((r) => setImmediate(r));
  }
}

/** This file, for `node <CPU_BURN_SCRIPT> <ms> [out-file]` in a child process. */
export const CPU_BURN_SCRIPT = fileURLToPath(import.meta.url);

if (process.argv[1] === CPU_BURN_SCRIPT) {
  const ms = Number(process.argv[2]);
  if (!Number.isFinite(ms) || ms < 0)
    throw new Error(`usage: cpu-burn.ts <ms> [out-file], got ${process.argv[2]}`);
  burnCpuSeconds(ms / 1000, "process", 4 * ms);
  const out = process.argv[3];
  if (out) writeFileSync(out, String(cpuSeconds()));
}
