/**
 * GPU board energy from `nvidia-smi`: one long-running child
 * `nvidia-smi --query-gpu=index,power.draw --format=csv,noheader,nounits -lms <interval>` prints
 * one line per GPU per sample (`0, 71.23`); the power of each GPU is integrated over time with the
 * trapezoidal rule and the GPUs are summed. The `index` column tells where a new sample starts
 * when there are several GPUs. `[N/A]` / `[Not Supported]` readings are skipped: the interval
 * around them contributes nothing for that GPU.
 *
 * This is whole-board power: it includes other processes on the same GPU (per-process power is
 * not something nvidia-smi reports).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { accessSync, constants as fsConstants } from "node:fs";
import { delimiter, join } from "node:path";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";

export interface GpuSampler {
  /**
   * Energy of all GPUs since the first reading, joules (the last reading held until now, at most
   * one interval). Frozen once stopped.
   */
  totalJoules(): number;
  /** Number of GPUs that reported a power reading (one that only ever said `[N/A]` is not counted). */
  readonly gpuCount: number;
  stop(): void;
}

export interface GpuSamplerOptions {
  /** @default 1000 */
  intervalMs?: number;
  /** Executable to run. @default "nvidia-smi" (found on PATH) */
  command?: string;
  /** How long to wait for the first reading before giving up. @default 5000 */
  startTimeoutMs?: number;
  /**
   * Aborting before the first reading kills nvidia-smi at once and resolves `undefined` (a caller
   * that no longer waits must not leave it running until `startTimeoutMs`). After the first
   * reading it does nothing: call `stop()`.
   */
  signal?: AbortSignal;
  /**
   * Told nvidia-smi's pid right after the spawn (synchronously, inside this call), then once Node
   * has reaped it (from its `exit` event, synchronously). `co2e run` uses both to keep nvidia-smi's
   * CPU time, which reaches co2e's own cutime when reaped, out of the command's.
   */
  onChildSpawn?: (pid: number) => void;
  onChildExit?: (pid: number) => void;
}

/** One parsed output line: GPU index and watts, or undefined for a reading that is not a number. */
export function parsePowerLine(line: string): { index: number; watts: number | undefined } | undefined {
  const parts = line.split(",").map((p) => p.trim());
  if (parts.length < 2) return undefined;
  const index = Number(parts[0]);
  if (!Number.isInteger(index) || index < 0 || parts[0] === "") return undefined;
  const watts = Number(parts[1]);
  return { index, watts: parts[1] !== "" && Number.isFinite(watts) && watts >= 0 ? watts : undefined };
}

/** Trapezoidal integration per GPU; pure, fed with (time, index, watts) readings. */
export class PowerIntegrator {
  readonly #last = new Map<number, { tMs: number; watts: number }>();
  #joules = 0;
  readonly #maxHoldMs: number;

  constructor(maxHoldMs: number) {
    this.#maxHoldMs = maxHoldMs;
  }

  add(tMs: number, index: number, watts: number | undefined): void {
    if (watts === undefined) {
      this.#last.delete(index);
      return;
    }
    const prev = this.#last.get(index);
    if (prev && tMs > prev.tMs) this.#joules += ((prev.watts + watts) / 2) * ((tMs - prev.tMs) / 1000);
    this.#last.set(index, { tMs, watts });
  }

  /** Integrated energy, plus each GPU's last reading held until `nowMs` (at most one interval). */
  joules(nowMs: number): number {
    let tail = 0;
    for (const { tMs, watts } of this.#last.values()) {
      tail += watts * (Math.min(Math.max(0, nowMs - tMs), this.#maxHoldMs) / 1000);
    }
    return this.#joules + tail;
  }

  get gpuCount(): number {
    return this.#last.size;
  }
}

/**
 * Is the command executable, by path or on PATH? Checked before spawning so that a machine without
 * nvidia-smi does not fork at all (a reaped child would add to co2e's own children's CPU time,
 * which `co2e run` reads).
 */
export function findExecutable(command: string, path = process.env.PATH ?? ""): string | undefined {
  const candidates = command.includes("/")
    ? [command]
    : path
        .split(delimiter)
        .filter(Boolean)
        .map((d) => join(d, command));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {}
  }
  return undefined;
}

/**
 * Starts sampling; resolves once the first numeric reading arrived, or `undefined` when nvidia-smi
 * is not on PATH, exits, or gives no power reading within `startTimeoutMs`.
 */
export function createGpuSampler(options: GpuSamplerOptions = {}): Promise<GpuSampler | undefined> {
  const intervalMs = Math.max(10, Math.round(options.intervalMs ?? 1000));
  const command = options.command ?? "nvidia-smi";
  const integrator = new PowerIntegrator(intervalMs);
  const measured = new Set<number>();
  if (options.signal?.aborted) return Promise.resolve(undefined);
  const executable = findExecutable(command);
  if (!executable) return Promise.resolve(undefined);
  let child: ChildProcess;
  try {
    child = spawn(
      executable,
      ["--query-gpu=index,power.draw", "--format=csv,noheader,nounits", "-lms", String(intervalMs)],
      { stdio: ["ignore", "pipe", "ignore"] },
    );
  } catch {
    return Promise.resolve(undefined);
  }
  let stopped = false;
  let stoppedAtMs: number | undefined;
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    stoppedAtMs = performance.now();
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    child.stdout?.destroy();
  };
  const sampler: GpuSampler = {
    totalJoules: () => integrator.joules(stoppedAtMs ?? performance.now()),
    get gpuCount() {
      return measured.size;
    },
    stop,
  };
  return new Promise((resolve) => {
    let settled = false;
    const onAbort = (): void => settle(undefined);
    const settle = (value: GpuSampler | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // Only the start is abortable: the listener must not outlive it.
      options.signal?.removeEventListener("abort", onAbort);
      if (!value) stop();
      resolve(value);
    };
    const timer = setTimeout(() => settle(undefined), options.startTimeoutMs ?? 5000);
    const pid = child.pid;
    if (pid !== undefined) options.onChildSpawn?.(pid);
    child.on("error", () => settle(undefined));
    child.on("exit", () => {
      if (pid !== undefined) options.onChildExit?.(pid);
      settle(undefined);
    });
    options.signal?.addEventListener("abort", onAbort, { once: true });
    // Not waited for: a process that is done must not stay alive for nvidia-smi.
    child.unref();
    if (!child.stdout) return settle(undefined);
    (child.stdout as unknown as { unref?: () => void }).unref?.();
    const lines = createInterface({ input: child.stdout });
    lines.on("line", (line) => {
      if (stopped) return;
      const reading = parsePowerLine(line);
      if (!reading) return;
      if (reading.watts !== undefined) measured.add(reading.index);
      integrator.add(performance.now(), reading.index, reading.watts);
      // A GPU that only ever reports [N/A] is not a measurement: wait for a number.
      if (reading.watts !== undefined) settle(sampler);
    });
    lines.on("error", () => {});
  });
}
