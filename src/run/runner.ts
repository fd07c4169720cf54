/**
 * Runs one command with the caller's stdio and measures its whole process tree while it runs:
 * CPU seconds, resident memory, storage I/O (`/proc`, see tree-sampler.ts) and GPU energy
 * (nvidia-smi, when present). SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to co2e are forwarded to
 * the command, so co2e ends when the command ends and reports what it used.
 */
import { spawn } from "node:child_process";
import { constants as osConstants } from "node:os";
import { performance } from "node:perf_hooks";
import { Co2eError, ERROR_CODES } from "../errors.ts";
import { createGpuSampler, type GpuSampler } from "../gpu/nvidia-smi.ts";
import { attributeBetween, type MachineCpuEnergy } from "../power/attribution.ts";
import { procAvailable } from "../power/procfs.ts";
import { type MemoryStats, ProcessTreeSampler, type StorageIo } from "./tree-sampler.ts";

export interface RunOptions {
  command: string;
  args: string[];
  /** Sampling interval of /proc and nvidia-smi. @default 1000 */
  intervalMs?: number;
  /** Look for nvidia-smi. @default true */
  gpu?: boolean;
  /** nvidia-smi executable. @default "nvidia-smi" */
  gpuCommand?: string;
  env?: NodeJS.ProcessEnv;
  /** Signals forwarded to the command. @default SIGINT, SIGTERM, SIGHUP, SIGQUIT */
  forwardSignals?: NodeJS.Signals[];
  /** Package energy + machine busy time (`rapl` model): the tree gets its CPU-time share. */
  cpuEnergy?: MachineCpuEnergy;
}

export interface RunResult {
  /** Exit status; for a signal death 128 + signal number (shell convention). */
  exitCode: number;
  /** Signal that killed the command, if any. */
  signal?: NodeJS.Signals;
  startMs: number;
  endMs: number;
  durationSeconds: number;
  /** undefined when /proc is not available (not Linux). */
  cpuSeconds?: number;
  memory?: MemoryStats;
  io?: StorageIo;
  /** Measured GPU energy, joules; undefined without a GPU sampler. */
  gpuJoules?: number;
  gpuCount?: number;
  processesSeen?: number;
  /** Measured CPU package energy attributed to the tree, J; only with a readable cpuEnergy source. */
  cpuJoules?: number;
}

/** The command could not be started (not found, not executable). */
export class SpawnError extends Co2eError {
  readonly errno: string | undefined;
  constructor(command: string, cause: NodeJS.ErrnoException) {
    const why =
      cause.code === "ENOENT"
        ? "command not found"
        : cause.code === "EACCES"
          ? "permission denied (not executable?)"
          : cause.message;
    super(ERROR_CODES.spawn, `cannot start "${command}": ${why}`, { cause });
    this.name = "SpawnError";
    this.errno = cause.code;
  }
}

const DEFAULT_FORWARD: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"];

export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (osConstants.signals[signal] ?? 0);
}

export async function runCommand(options: RunOptions): Promise<RunResult> {
  const intervalMs = Math.max(10, options.intervalMs ?? 1000);
  const hasProc = procAvailable();
  // Before the spawn: the sampler takes co2e's reaped-children baseline here.
  const tree = hasProc ? new ProcessTreeSampler() : undefined;
  // Aborted when co2e stops waiting for a slow nvidia-smi: it is killed at once, not at its timeout.
  const gpuStart = new AbortController();
  const gpuPromise: Promise<GpuSampler | undefined> =
    options.gpu === false
      ? Promise.resolve(undefined)
      : createGpuSampler({
          intervalMs,
          ...(options.gpuCommand ? { command: options.gpuCommand } : {}),
          signal: gpuStart.signal,
          // nvidia-smi is co2e's child: once reaped, its CPU time is in co2e's cutime, not the command's.
          onChildSpawn: (pid) => tree?.excludeSelfChild(pid),
          onChildExit: (pid) => tree?.selfChildExited(pid),
        });

  const cpuEnergyAtStart = options.cpuEnergy?.snapshot();
  const startMs = Date.now();
  const t0 = performance.now();
  const child = spawn(options.command, options.args, { stdio: "inherit", env: options.env ?? process.env });
  const forward = (signal: NodeJS.Signals): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  const signals = options.forwardSignals ?? DEFAULT_FORWARD;
  for (const s of signals) process.on(s, forward);

  let timer: NodeJS.Timeout | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once("error", (error: NodeJS.ErrnoException) => {
      // 'error' without a pid: the spawn itself failed. With a pid it is a kill() failure: ignore.
      if (child.pid === undefined) reject(new SpawnError(options.command, error));
    });
    child.once("exit", (code, signal) => resolve({ code, signal }));
  });
  if (tree && child.pid !== undefined) {
    tree.attach(child.pid);
    // First scan soon after the exec, so even a short command gets a memory reading.
    const tick = (): void => {
      tree.sample();
      // Keeps the RAPL counters' wrap-around tracked during long runs.
      if (cpuEnergyAtStart) options.cpuEnergy?.snapshot();
      timer = setTimeout(tick, intervalMs);
    };
    timer = setTimeout(tick, Math.min(intervalMs, 50));
  }

  let outcome: { code: number | null; signal: NodeJS.Signals | null };
  try {
    outcome = await exited;
  } catch (error) {
    clearTimeout(timer);
    for (const s of signals) process.off(s, forward);
    gpuStart.abort();
    (await gpuPromise)?.stop();
    throw error;
  } finally {
    clearTimeout(timer);
  }
  const endMs = Date.now();
  const durationSeconds = (performance.now() - t0) / 1000;
  // The command has been reaped: co2e's cutime now holds its total (read before anything else).
  tree?.finish(endMs);
  const cpuEnergyAtEnd = cpuEnergyAtStart ? options.cpuEnergy?.snapshot() : undefined;
  for (const s of signals) process.off(s, forward);

  // A GPU sampler still starting is not waited for longer than one interval.
  const gpu = await Promise.race([
    gpuPromise,
    new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), intervalMs).unref()),
  ]);
  let gpuJoules: number | undefined;
  let gpuCount: number | undefined;
  // Stopped only now, after tree.finish(): its reaping cannot reach the cutime reading there.
  if (gpu) {
    gpuJoules = gpu.totalJoules();
    gpuCount = gpu.gpuCount;
    gpu.stop();
  } else {
    gpuStart.abort();
    // Resolved with a sampler just after the race: stop that one too.
    void gpuPromise.then((late) => late?.stop());
  }

  const result: RunResult = {
    exitCode: outcome.signal ? signalExitCode(outcome.signal) : (outcome.code ?? 1),
    startMs,
    endMs,
    durationSeconds,
  };
  if (outcome.signal) result.signal = outcome.signal;
  if (tree) {
    const totals = tree.totals();
    result.cpuSeconds = totals.cpuSeconds;
    result.processesSeen = totals.processesSeen;
    if (totals.io) result.io = totals.io;
    const memory = tree.memory();
    if (memory) result.memory = memory;
    if (cpuEnergyAtStart && cpuEnergyAtEnd) {
      result.cpuJoules = attributeBetween(cpuEnergyAtStart, cpuEnergyAtEnd, totals.cpuSeconds);
    }
  }
  if (gpuJoules !== undefined) {
    result.gpuJoules = gpuJoules;
    result.gpuCount = gpuCount ?? 0;
  }
  return result;
}
