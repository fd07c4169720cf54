/**
 * The shared per-thread job meter: one sampler splits the thread's (or process's) CPU time, resident
 * memory and GPU energy among the jobs active in each interval (rules in docs/jobs.md).
 *
 * CPU, `event-loop` mode (the default). While at least one job is active, async_hooks `before` and
 * `after` callbacks read one clock (performance.now(): ≈ 50 ns and no allocation, against ≈ 500 ns
 * and an object for threadCpuUsage) and charge the time spent running each callback to the job
 * whose async context it runs in (the innermost job, read from `jobContext`), or to no job
 * ("unattributed") when it runs outside every job. `run()` of a job enters and leaves the same way,
 * so a job's synchronous code counts too. Time outside any callback (waiting for I/O, GC between
 * callbacks) is nobody's on-thread time, but for a microtask checkpoint's bookkeeping before a
 * promise continuation, which counts for it (#beforeContinuation: one clock read, not two). Each
 * interval between two samples then closes: its measured CPU (the process or thread clock) is split
 * in proportion to the on-thread time of the jobs and of the unattributed work, so the job shares
 * plus the unattributed share equal the measured total; GC, libuv pool and helper-thread time are
 * spread in the same proportion.
 *
 * Between jobs. When the last active job ends, the hooks stay installed (switching them costs
 * ≈ 4 µs) but do nothing until the next job starts: no callback then belongs to a job, so timing
 * each one only to call it nobody's is wasted (in a node:http service where each request's job
 * runs alone, about a third of the hook calls). The pause's busy time, its wall time less the event
 * loop's idle time (libuv's, performance.nodeTiming.idleTime), counts as on-thread time of no job
 * when the next job starts, so the interval's CPU is still split in the same proportion. (Work
 * outside callbacks during the pause, such as libuv's own or a GC, counts as nobody's on-thread
 * time that way; while jobs run it is spread in proportion.)
 *
 * A job's on-thread time accumulates per interval ("epoch") and is settled lazily: the first time
 * the job runs in a later epoch, at its end, or at the next periodic tick (which settles every
 * active job and forgets the epoch ratios). Per callback: a clock read, additions and a comparison.
 *
 * A job span that was never entered through `run()` (started by other code with a `job.name`
 * attribute) has no known async context: it receives an equal share of the unattributed CPU of the
 * intervals it was active in, with the other such jobs (and says `equal`).
 *
 * CPU, `equal` mode (config `sampler.attribution: equal`, and wherever async_hooks are unusable):
 * every interval's CPU is split in equal shares among the jobs active in it. A job that held the
 * thread from start to end without yielding (withJob knows) gets all the CPU of its window instead.
 *
 * Memory, GPU energy and wall time are split equally among the active jobs in both modes: a sample
 * is taken at every job start and end (with the RSS reading the sampler last took) and every
 * `intervalMs`, so the set of active jobs is constant inside an interval; one running sum per
 * counter ("share per job so far") makes a job's share that sum at its end minus the sum at its
 * start, O(1) per sample and per job.
 */
import { type AsyncHook, createHook, executionAsyncId } from "node:async_hooks";
import { performance } from "node:perf_hooks";
import { promiseHooks } from "node:v8";
import { isMainThread } from "node:worker_threads";
import { diag } from "@opentelemetry/api";
import { type AttributionMode, SAMPLER_DEFAULTS } from "../defaults.ts";
import { attributeBetween, type MachineCpuEnergy, type MachineCpuSnapshot } from "../power/attribution.ts";
import * as sc from "../semconv.ts";
import { type JobScope, jobContext } from "./context.ts";
import { type JobNetwork, NetworkTracker } from "./network.ts";

export type { AttributionMode } from "../defaults.ts";

/** Cumulative GPU energy source (src/gpu/nvidia-smi.ts implements it). */
export interface GpuEnergySource {
  /** Joules since the source started. */
  totalJoules(): number;
}

/** Which CPU clock the meter reads. */
export type CpuClock = "process" | "thread";

/** The clocks the meter reads; tests inject their own. */
export interface MeterClocks {
  /** Monotonic wall clock, ms. @default performance.now */
  nowMs: () => number;
  /**
   * The clock the async_hooks callbacks read, ms. The default, performance.now() (≈ 50 ns, no
   * allocation), counts time the thread was preempted inside a callback as that callback's: right
   * when the process has its cores, noisy per job on an oversubscribed machine. A thread CPU clock
   * (threadCpuUsage: ≈ 500 ns and an object per read, twice per callback) stays right there.
   * @default nowMs
   */
  onThreadMs: () => number;
  /** The meter's CPU clock (see cpuClock), µs. */
  cpuMicros: () => number;
  /**
   * The event loop's idle time so far, ms (libuv's: time spent waiting for I/O), for the pauses
   * between jobs (see JobMeter, "Between jobs"); `undefined` turns that off: the hooks then time
   * every callback while they are installed.
   * @default performance.nodeTiming.idleTime with the default clocks; undefined when nowMs or
   * onThreadMs is replaced and this is not
   */
  loopIdleMs: (() => number) | undefined;
  /** The whole process's CPU clock, µs (rapl model only). @default process.cpuUsage */
  processCpuMicros: () => number;
}

export interface JobMeterOptions {
  /**
   * Sampling interval while jobs run, ms.
   * @default SAMPLER_DEFAULTS.intervalMs (config `sampler.intervalMs`)
   */
  intervalMs?: number;
  /**
   * `process`: process.cpuUsage(), which includes libuv pool threads, GC helpers and every worker
   * thread. `thread`: process.threadCpuUsage() (Node ≥ 23.9), this thread only.
   * @default "process" in the main thread, "thread" in a worker when available
   */
  cpuClock?: CpuClock;
  /**
   * How the CPU of an interval is split among overlapping jobs.
   * @default SAMPLER_DEFAULTS.attribution (config `sampler.attribution`)
   */
  attribution?: AttributionMode;
  /** Measured GPU energy, shared among overlapping jobs like memory. */
  gpu?: GpuEnergySource;
  /**
   * Machine package energy + busy time (RAPL and /proc/stat, `rapl` CPU model): each job gets the
   * share of the package energy over its window that its CPU time is of the machine's busy time.
   */
  cpuEnergy?: MachineCpuEnergy;
  /**
   * At a job's start or end the sampler's last RSS reading is used while it is younger than this;
   * an older one is read again (a reading costs ≈ 8 µs).
   * @default intervalMs
   */
  rssMaxAgeMs?: number;
  /**
   * Reads the process's resident set size, bytes. It can throw (`EMFILE` when file descriptors run
   * out: libuv opens /proc/self/stat); the meter then keeps its last reading.
   * @default process.memoryUsage.rss
   */
  readRssBytes?: () => number;
  /**
   * A job still running after this many seconds is finished by the next periodic sample (its
   * counters cover that long) and stops counting as active: a span that is never ended would
   * otherwise dilute every later job's shares forever.
   * @default SAMPLER_DEFAULTS.maxJobSeconds (config `sampler.maxJobSeconds`)
   */
  maxJobSeconds?: number;
  /**
   * Event-loop mode: a job ending less than this long after the last CPU reading is charged its
   * on-thread time at the last interval's CPU-per-on-thread-time ratio instead of reading the
   * clock again (the interval's close then takes the charge off, so totals still add up). 0 reads
   * the clock at every job end. 10 ms: getrusage sums every thread of the process, and a reading
   * took ≈ 0.7 µs back to back, ≈ 2.7 µs after 5 ms of work and ≈ 3–4 µs in a node:http service
   * under load by a CPU profile (≈ 15–35 µs timed around the call, preemption included; Node 24
   * on this project's machines): a large part of a short job's cost when read every millisecond.
   * 50 ms was tried (it saves under 0.1 µs per request in that service): more of a job is then
   * charged at an estimate, and an overcharge found after the last job ended cannot be taken
   * back; one CI run then saw a 300 ms test's totals 2.4 % apart (tolerance 2 %).
   * @default 10
   */
  minCpuReadMs?: number;
  /** Replaces the clocks (deterministic tests). Missing ones keep their default. */
  clocks?: Partial<MeterClocks>;
}

/** Counters of one finished job. */
export interface JobCounters {
  cpuSeconds: number;
  memoryAvgBytes: number;
  /** Highest process RSS sampled while the job ran (process-wide, not split). */
  memoryPeakBytes: number;
  bytesSent: number;
  bytesReceived: number;
  /** Present only when a GPU source is attached. */
  gpuJoules?: number;
  /** Measured CPU package energy attributed to the job, J; only with a readable cpuEnergy source. */
  cpuJoules?: number;
  /** true when another job was active at any time during this one. */
  shared: boolean;
  /**
   * `exclusive`: no other job was active at any time during this one; `event-loop`: its CPU is its
   * share of on-thread time; `equal`: an equal share of the CPU (equal mode, or a job never entered).
   */
  attribution: sc.Attribution;
  /** Wall time between the meter's start and end samples, s. */
  elapsedSeconds: number;
  /**
   * Wall time attributed to the job, s: Σ over the intervals it was active in of interval ÷ jobs
   * active. Equals elapsedSeconds for a job that ran alone; the attributed seconds of all jobs
   * add up to the time at least one job ran. Time-based terms (linear idle power, embodied) use it.
   */
  attributedSeconds: number;
}

/** One running job in the meter. */
export interface JobMeasurement extends JobScope {
  /** Network attribution for sockets used inside this job's async context. */
  readonly network: JobNetwork;
  /**
   * Runs fn inside the job's async context: its callbacks (and fn's own synchronous time) are
   * charged to this job, and sockets it claims count towards it.
   */
  run<T>(fn: () => T): T;
  /**
   * Stops measuring and returns the counters. Idempotent: later calls return the same counters.
   * `synchronous`: the job ran start to end without yielding to the event loop (withJob knows this
   * when its callback returns a non-promise); only the equal mode needs it.
   */
  finish(options?: { synchronous?: boolean }): JobCounters;
}

const threadCpuUsage = (process as { threadCpuUsage?: (prev?: NodeJS.CpuUsage) => NodeJS.CpuUsage })
  .threadCpuUsage;

function defaultCpuClock(): CpuClock {
  return !isMainThread && typeof threadCpuUsage === "function" ? "thread" : "process";
}

function processCpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

function threadCpuMicros(): number {
  const u = threadCpuUsage ? threadCpuUsage.call(process) : process.cpuUsage();
  return u.user + u.system;
}

/**
 * libuv's idle time of this thread's event loop, ms, or undefined where Node does not report it.
 * ≈ 25 ns a read (a getter on performance.nodeTiming; Node 24).
 */
function defaultLoopIdleMs(): (() => number) | undefined {
  const timing = performance.nodeTiming as { idleTime?: unknown } | undefined;
  if (typeof timing?.idleTime !== "number") return undefined;
  return () => timing.idleTime as number;
}

function defaultReadRssBytes(): number {
  return process.memoryUsage.rss();
}

/** Running sums, "share per job so far" (equal split among the jobs active in each interval). */
interface Sums {
  /** Σ cpuSeconds / activeJobs (equal mode). */
  cpu: number;
  /** Σ unattributed cpuSeconds / never-entered jobs (event-loop mode). */
  untracked: number;
  /** Σ rss × dt / activeJobs, byte-seconds. */
  memory: number;
  /** Σ gpuJoules / activeJobs. */
  gpu: number;
  /** Σ dt / activeJobs, seconds of wall time. */
  wall: number;
}

const NO_BYTES = { bytesSent: 0, bytesReceived: 0 } as const;

class Measurement implements JobMeasurement {
  readonly meter: JobMeter;
  /** Opened when a socket is first claimed in the job's context: most jobs open none. */
  #network: JobNetwork | undefined;
  // Sums at the start (plain fields: no object per job).
  readonly startCpu: number;
  readonly startMemory: number;
  readonly startGpu: number;
  readonly startWall: number;
  readonly startUntracked: number;
  /** Event-loop mode: the share of unattributed CPU it took while it was never entered. */
  untrackedCpu = 0;
  untrackedSettled = false;
  /** The epoch it started in, and the unattributed on-thread ms of that epoch then. */
  readonly startEpoch: number;
  readonly unattributedMsAtStart: number;
  readonly startMs: number;
  readonly startSeq: number;
  readonly startsAtStart: number;
  readonly aloneAtStart: boolean;
  /** Raw clock reading at the start sample, µs (equal mode's synchronous rule). */
  readonly cpuMicrosAtStart: number;
  /** Package energy and machine busy time at the start (rapl model only). */
  cpuEnergyAtStart: MachineCpuSnapshot | undefined;
  /** Process CPU clock at the start, µs (rapl model only): floor of the machine's busy time. */
  processMicrosAtStart = 0;
  /** Entered through run() at least once: its callbacks are known (event-loop mode). */
  entered = false;
  /** Stopped: later callbacks in its context are unattributed. */
  done = false;
  /** Event-loop mode: CPU seconds settled so far, on-thread ms of the open epoch, that epoch. */
  cpuSettled = 0;
  pendingMs = 0;
  epoch: number;
  result: JobCounters | undefined;

  constructor(meter: JobMeter, sums: Sums, nowMs: number, seq: number, starts: number, alone: boolean) {
    this.meter = meter;
    this.startCpu = sums.cpu;
    this.startMemory = sums.memory;
    this.startGpu = sums.gpu;
    this.startWall = sums.wall;
    this.startUntracked = sums.untracked;
    this.startMs = nowMs;
    this.startSeq = seq;
    this.startsAtStart = starts;
    this.aloneAtStart = alone;
    this.cpuMicrosAtStart = meter.lastCpuMicros;
    this.epoch = meter.epoch;
    this.startEpoch = meter.epoch;
    this.unattributedMsAtStart = meter.unattributedMs;
  }

  get network(): JobNetwork {
    if (!this.#network) {
      this.#network = this.meter.network.open();
      if (this.done) this.#network.close();
    }
    return this.#network;
  }

  /** Stops counting bytes; zero when no socket was claimed. */
  closeNetwork(): { bytesSent: number; bytesReceived: number } {
    return this.#network ? this.#network.close() : NO_BYTES;
  }

  run<T>(fn: () => T): T {
    this.meter.enter(this);
    try {
      return jobContext.run(this, fn);
    } finally {
      this.meter.leave();
    }
  }

  finish(options?: { synchronous?: boolean }): JobCounters {
    if (!this.result) this.result = this.meter.finishMeasurement(this, options?.synchronous === true);
    return this.result;
  }
}

/** Monotonic-decreasing list of RSS readings: max over [seq, now] is the first entry at or after seq. */
class PeakTracker {
  #seq: number[] = [];
  #rss: number[] = [];
  #head = 0;

  push(seq: number, rss: number): void {
    while (this.#rss.length > this.#head && (this.#rss.at(-1) ?? 0) <= rss) {
      this.#rss.pop();
      this.#seq.pop();
    }
    this.#seq.push(seq);
    this.#rss.push(rss);
  }

  /** Highest reading with sequence ≥ seq. */
  maxSince(seq: number): number {
    let lo = this.#head;
    let hi = this.#seq.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.#seq[mid] ?? 0) < seq) lo = mid + 1;
      else hi = mid;
    }
    return this.#rss[lo] ?? 0;
  }

  /** Drops readings older than any job still running. */
  prune(oldestSeq: number): void {
    while (this.#head < this.#seq.length - 1 && (this.#seq[this.#head] ?? 0) < oldestSeq) this.#head++;
    if (this.#head > 1024 && this.#head * 2 > this.#seq.length) {
      this.#seq = this.#seq.slice(this.#head);
      this.#rss = this.#rss.slice(this.#head);
      this.#head = 0;
    }
  }
}

/** The before/after callbacks of every callback the thread runs, switched on and off together. */
interface CallbackHooks {
  enable(): void;
  disable(): void;
}

/**
 * async_hooks for timers, I/O and other resources, and V8's promise hooks for promise continuations
 * (`await` resumptions, then-callbacks), or undefined where async_hooks cannot be used. An async
 * hook that tracks promises gives every promise an async id (an `init` hook per promise); the
 * promise hooks skip that: ≈ 1.3 µs instead of ≈ 2.1 µs for 20 awaits (Node 24, this machine).
 * `trackPromises: false` keeps the async hook off promises (in Node 24 since the option exists,
 * checked on 24.21); a Node without the option ignores it and both fire for a continuation, nested
 * with the same owner: counted once, only dearer.
 */
function tryCreateHooks(
  before: () => void,
  after: () => void,
  beforeContinuation: () => void,
): CallbackHooks | undefined {
  let hook: AsyncHook;
  try {
    hook = createHook({ before, after, trackPromises: false });
  } catch {
    return undefined;
  }
  let stops: ReturnType<typeof promiseHooks.onBefore>[] = [];
  return {
    enable() {
      hook.enable();
      stops = [promiseHooks.onBefore(beforeContinuation), promiseHooks.onAfter(after)];
    },
    disable() {
      hook.disable();
      for (const stop of stops) stop();
      stops = [];
    },
  };
}

export class JobMeter {
  readonly network: NetworkTracker;
  #intervalMs: number;
  readonly #cpuClock: CpuClock;
  #mode: AttributionMode;
  readonly #rssMaxAgeMs: number | undefined;
  readonly #readRssBytes: () => number;
  readonly #nowMs: () => number;
  readonly #hookClock: () => number;
  /** Both clocks are the default performance.now(): start and finish mark with their one reading. */
  readonly #sharedClock: boolean;
  readonly #cpuMicros: () => number;
  readonly #processCpuMicros: () => number;
  #maxJobMs: number;
  /** Warnings already sent to diag: each kind once per meter. */
  readonly #warned = new Set<string>();
  #gpu: GpuEnergySource | undefined;
  #cpuEnergy: MachineCpuEnergy | undefined;

  /** Jobs running, in start order (the first is the oldest, for peak pruning). */
  readonly #active = new Set<Measurement>();
  readonly #sums: Sums = { cpu: 0, untracked: 0, memory: 0, gpu: 0, wall: 0 };
  #lastMs = 0;
  /** @internal the CPU clock at the last sample, µs */
  lastCpuMicros = 0;
  #lastGpuJoules = 0;
  #lastRss = 0;
  #lastRssMs = Number.NEGATIVE_INFINITY;
  /** Sequence number of the current RSS reading. */
  #rssSeq = 0;
  /** Jobs started so far; a job saw no other job iff it started alone and none started after it. */
  #starts = 0;
  readonly #peak = new PeakTracker();
  #timer: NodeJS.Timeout | undefined;

  // Event-loop accounting.
  readonly #hook: CallbackHooks | undefined;
  #hooked = false;
  /** Owner of the callback running now (null: outside every job) and the owners it interrupted. */
  #owner: Measurement | null = null;
  readonly #stack: (Measurement | null)[] = [];
  #depth = 0;
  /**
   * The hooks were enabled where executionAsyncId() is 0: inside a promise continuation (whose
   * `after` will come) or in a script's top-level code (whose will not). The first `before` at depth
   * 1 tells: the top-level frame is then dropped.
   */
  #provisional = false;
  #lastMark = 0;
  /** The event loop's idle time, ms (undefined: no pause accounting, see loopIdleMs). */
  readonly #loopIdleMs: (() => number) | undefined;
  /**
   * No job is active and the hooks are installed: they return at once, and the pause since
   * #lastMark (a hook-clock reading; the loop's idle time then in #pauseIdleMs) is counted when
   * the next job starts (#wake).
   */
  #dormant = false;
  #pauseIdleMs = 0;
  /** On-thread ms of the open epoch: all callbacks, and those outside every job. */
  #onThreadMs = 0;
  #unattributedMs = 0;
  /** @internal the open epoch */
  epoch = 0;
  /** CPU seconds per on-thread ms of each closed epoch since #epochBase. */
  readonly #ratios: number[] = [];
  #epochBase = 0;
  /** Active jobs never entered through run(). */
  #untracked = 0;
  /** Ratio of the last closed interval (CPU s per on-thread ms), for estimated finishes. */
  #lastRatio = 0;
  /** Estimated charges of jobs finished in the open interval, CPU s and on-thread ms. */
  #chargedCpu = 0;
  #chargedMs = 0;
  /** Unattributed on-thread ms of the open interval already charged to never-entered jobs. */
  #chargedUnattributedMs = 0;
  /** An overcharge (≤ 0) carried into the next interval. */
  #carryCpu = 0;
  /** When the CPU clock was last read (wall ms), and how old a reading may be for an estimate. */
  #lastCpuReadMs = Number.NEGATIVE_INFINITY;
  readonly #minCpuReadMs: number;
  /** CPU seconds charged to no job (event-loop shares, and all CPU while no job was active). */
  #unattributedCpuSeconds = 0;
  /** Whether the CPU clock has been read once (the CPU before it is nobody's). */
  #cpuStarted = false;

  constructor(options: JobMeterOptions = {}) {
    this.#intervalMs = options.intervalMs ?? SAMPLER_DEFAULTS.intervalMs;
    this.#cpuClock = options.cpuClock ?? defaultCpuClock();
    this.#rssMaxAgeMs = options.rssMaxAgeMs;
    this.#readRssBytes = options.readRssBytes ?? defaultReadRssBytes;
    this.#maxJobMs = (options.maxJobSeconds ?? SAMPLER_DEFAULTS.maxJobSeconds) * 1000;
    this.#minCpuReadMs = options.minCpuReadMs ?? 10;
    this.#gpu = options.gpu;
    this.#cpuEnergy = options.cpuEnergy;
    const clocks = options.clocks ?? {};
    // performance from node:perf_hooks: the global one is a lazy accessor, ≈ 5 ns more per read
    // (the hooks read the clock twice per callback).
    this.#nowMs = clocks.nowMs ?? (() => performance.now());
    this.#hookClock = clocks.onThreadMs ?? clocks.nowMs ?? (() => performance.now());
    this.#sharedClock = clocks.onThreadMs === undefined && clocks.nowMs === undefined;
    this.#loopIdleMs =
      "loopIdleMs" in clocks ? clocks.loopIdleMs : this.#sharedClock ? defaultLoopIdleMs() : undefined;
    this.#cpuMicros = clocks.cpuMicros ?? (this.#cpuClock === "thread" ? threadCpuMicros : processCpuMicros);
    this.#processCpuMicros = clocks.processCpuMicros ?? processCpuMicros;
    this.network = new NetworkTracker();
    this.#hook = tryCreateHooks(
      () => this.#before(),
      () => this.leave(),
      () => this.#beforeContinuation(),
    );
    this.#mode = this.#hook ? (options.attribution ?? SAMPLER_DEFAULTS.attribution) : "equal";
  }

  /** @internal unattributed on-thread ms of the open epoch */
  get unattributedMs(): number {
    return this.#unattributedMs;
  }

  get cpuClock(): CpuClock {
    return this.#cpuClock;
  }

  /** The mode in use: `equal` when asked for, or when async_hooks are not available. */
  get attribution(): AttributionMode {
    return this.#mode;
  }

  get activeJobs(): number {
    return this.#active.size;
  }

  /** Whether the async_hooks callbacks are enabled now (only while jobs run, see tick()). */
  get hooksEnabled(): boolean {
    return this.#hooked;
  }

  get hasGpu(): boolean {
    return this.#gpu !== undefined;
  }

  /**
   * CPU seconds charged to no job so far: the unattributed share of every interval, and all the
   * CPU while no job was active (up to now). Monotonic.
   */
  unattributedCpuSeconds(): number {
    // While the hooks are on, the open interval is split when it closes: only closed ones count.
    if (this.#active.size > 0 || this.#hooked || !this.#cpuStarted) return this.#unattributedCpuSeconds;
    return this.#unattributedCpuSeconds + Math.max(0, this.#cpuMicros() - this.lastCpuMicros) / 1e6;
  }

  /** Switches the CPU split for jobs started from now on (a mode without hooks stays `equal`). */
  setAttribution(mode: AttributionMode): void {
    if (mode === this.#mode || (mode === "event-loop" && !this.#hook)) return;
    if (this.#active.size > 0) {
      this.#warnOnce("mode", "otel-co2e: sampler.attribution changes only while no job runs; kept");
      return;
    }
    this.#mode = mode;
    this.#disableHooks();
  }

  /** Attaches (or detaches) the GPU source. Jobs already running report GPU energy from the next sample. */
  setGpu(gpu: GpuEnergySource | undefined): void {
    if (this.#active.size > 0) this.#sample(this.#nowMs(), false);
    this.#gpu = gpu;
    this.#lastGpuJoules = gpu ? gpu.totalJoules() : 0;
  }

  get hasCpuEnergy(): boolean {
    return this.#cpuEnergy !== undefined;
  }

  /** Attaches (or detaches) the measured CPU energy source. Jobs already running report none. */
  setCpuEnergy(source: MachineCpuEnergy | undefined): void {
    this.#cpuEnergy = source;
    for (const m of this.#active) m.cpuEnergyAtStart = undefined;
  }

  setIntervalMs(intervalMs: number): void {
    if (!(intervalMs > 0) || intervalMs === this.#intervalMs) return;
    this.#intervalMs = intervalMs;
    if (this.#timer) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      this.#startTimer();
    }
  }

  /** Maximum age of a job before the sampler finishes it (see JobMeterOptions.maxJobSeconds). */
  setMaxJobSeconds(seconds: number): void {
    if (seconds > 0) this.#maxJobMs = seconds * 1000;
  }

  /** Starts measuring one job. */
  start(): JobMeasurement {
    const now = this.#nowMs();
    const alone = this.#active.size === 0;
    if (this.#dormant) this.#wake(now);
    if (alone && !this.#hooked) this.#reset(now);
    else {
      // Event-loop mode needs no CPU reading here: the open interval goes on, split by on-thread
      // time when it closes (the new job's time starts at 0). Only the first job after a pause
      // closes the pause's interval (all of it nobody's), unless the clock was read < minCpuReadMs ago.
      const readCpu = this.#mode === "equal" || (alone && now - this.#lastCpuReadMs >= this.#minCpuReadMs);
      this.#sample(now, false, readCpu);
      if (alone) this.#peak.prune(this.#rssSeq);
    }
    this.#starts++;
    if (this.#hooked) this.#markAt(now);
    this.network.subscribe();
    const m = new Measurement(this, this.#sums, now, this.#rssSeq, this.#starts, alone);
    if (this.#cpuEnergy) {
      m.cpuEnergyAtStart = this.#cpuEnergy.snapshot();
      if (m.cpuEnergyAtStart) m.processMicrosAtStart = this.#processCpuMicros();
    }
    this.#active.add(m);
    this.#untracked++;
    if (!this.#timer) this.#startTimer();
    if (this.#mode === "event-loop" && !this.#hooked) this.#enableHooks();
    return m;
  }

  /** @internal Measurement.run: the job's code starts running (a `before` of our own). */
  enter(m: Measurement): void {
    if (!m.entered) {
      m.entered = true;
      if (!m.done) this.#track(m);
    }
    if (!this.#hooked || this.#dormant) return;
    this.#mark();
    this.#stack[this.#depth++] = this.#owner;
    this.#owner = m.done ? null : m;
  }

  /** @internal the async_hooks `after`, and the end of Measurement.run. */
  leave(): void {
    if (this.#dormant) return;
    if (this.#depth === 0) {
      // An `after` whose `before` ran while the hooks were off: nothing to close.
      this.#lastMark = this.#hookClock();
      return;
    }
    this.#mark();
    this.#owner = this.#stack[--this.#depth] ?? null;
  }

  /** The async_hooks `before` (timers, I/O, nextTick, …): the wait before it is nobody's. */
  #before(): void {
    if (this.#dormant) return;
    this.#mark();
    this.#push();
  }

  /**
   * V8's promise `before`. Outside every callback (depth 0) a continuation runs in a microtask
   * checkpoint, right after the callback or continuation whose `after` took the last reading (for
   * fs.promises, timers/promises, sockets, … the settling callback is hooked too): the clock is not
   * read again, and the checkpoint's own bookkeeping since that `after` (≈ 0.1 µs) counts for this
   * continuation. One read per continuation instead of two (≈ 35 ns each). Where V8 settles a
   * promise from a task of its own with no hooked callback before it (WebAssembly compile or
   * instantiate, Atomics.waitAsync), the continuation is also charged the time since the last
   * callback ended, idle included (bounded by the interval's CPU, which is split in proportion).
   */
  #beforeContinuation(): void {
    if (this.#dormant) return;
    if (this.#depth !== 0) this.#mark();
    this.#push();
  }

  /** Opens a callback: its owner is the job of its async context, if any (this meter's, running). */
  #push(): void {
    if (this.#provisional) {
      this.#provisional = false;
      if (this.#depth === 1) this.#depth = 0;
    }
    // Only this meter's Measurements carry `meter === this`: no instanceof needed.
    const store = jobContext.getStore() as Measurement | undefined;
    this.#stack[this.#depth++] = this.#owner;
    this.#owner = store !== undefined && store.meter === this && store.entered && !store.done ? store : null;
  }

  /**
   * #mark with a wall-clock reading the caller already took (start, finish), when the hook clock is
   * that same clock: one performance.now() less. A reading older than the last mark (a mark taken
   * since, e.g. by an interval's close) has nothing left to charge.
   */
  #markAt(now: number): void {
    if (!this.#sharedClock) this.#mark();
    else if (now > this.#lastMark) this.#charge(now);
  }

  /** Charges the time since the last mark to the owner of the callback running (none at depth 0). */
  #mark(): void {
    this.#charge(this.#hookClock());
  }

  #charge(now: number): void {
    const dt = now - this.#lastMark;
    this.#lastMark = now;
    if (this.#depth === 0 || !(dt > 0)) return;
    this.#onThreadMs += dt;
    const owner = this.#owner;
    if (owner === null || owner.done) this.#unattributedMs += dt;
    else {
      if (owner.epoch !== this.epoch) this.#settle(owner);
      owner.pendingMs += dt;
    }
  }

  /** Moves a job's on-thread time of a closed epoch into CPU seconds. */
  #settle(m: Measurement): void {
    if (m.pendingMs > 0) m.cpuSettled += m.pendingMs * (this.#ratios[m.epoch - this.#epochBase] ?? 0);
    m.pendingMs = 0;
    m.epoch = this.epoch;
  }

  /**
   * A job leaves the never-entered group, keeping the unattributed share it took while in it. (For
   * the rest of the open interval the group's share is split among the others: no sample needed,
   * the totals still add up.)
   */
  #track(m: Measurement): void {
    if (!this.#active.has(m)) return;
    this.#untracked--;
    m.untrackedCpu = this.#sums.untracked - m.startUntracked;
  }

  #enableHooks(): void {
    this.#startTracking(this.#hookClock());
    this.#hook?.enable();
    this.#hooked = true;
  }

  /**
   * The hooks start (or resume) tracking from running code (a callback, a continuation or a
   * script's top level) outside every job so far: one frame deep, owned by no job.
   */
  #startTracking(hookNow: number): void {
    this.#dormant = false;
    this.#depth = 1;
    this.#stack[0] = null;
    this.#provisional = executionAsyncId() === 0;
    this.#owner = null;
    this.#lastMark = hookNow;
  }

  /**
   * The last active job ended: the hooks go quiet until the next start (see "Between jobs"). Its
   * time up to `now` is marked first; the pause is measured from there.
   */
  #sleep(now: number): void {
    if (!this.#hooked || this.#loopIdleMs === undefined || this.#mode !== "event-loop") return;
    this.#markAt(now);
    this.#pauseIdleMs = this.#loopIdleMs();
    this.#dormant = true;
  }

  /**
   * The first job after a quiet pause: its busy time is on-thread time of no job. (Only #sleep
   * makes the meter dormant, and only with a loop idle clock.)
   */
  #wake(now: number): void {
    const hookNow = this.#sharedClock ? Math.max(now, this.#lastMark) : this.#hookClock();
    const idleMs = (this.#loopIdleMs as () => number)() - this.#pauseIdleMs;
    const busyMs = Math.max(0, hookNow - this.#lastMark - Math.max(0, idleMs));
    this.#onThreadMs += busyMs;
    this.#unattributedMs += busyMs;
    this.#startTracking(hookNow);
  }

  #disableHooks(): void {
    if (!this.#hooked) return;
    this.#hook?.disable();
    this.#hooked = false;
    this.#dormant = false;
    this.#depth = 0;
    this.#owner = null;
    this.#stack.length = 0;
  }

  /** @internal called by Measurement.finish */
  finishMeasurement(m: Measurement, synchronous: boolean): JobCounters {
    const now = this.#nowMs();
    if (this.#active.has(m)) {
      try {
        // Time of closed epochs has its own ratio: settled first, so a job that lived through an
        // earlier CPU reading can still be estimated for the open epoch (no clock read).
        if (this.#mode === "event-loop" && m.entered && m.epoch !== this.epoch) this.#settle(m);
        if (this.#canEstimate(m, now)) {
          // A CPU reading less than minCpuReadMs old: the job's time in the open interval is
          // charged at the last interval's ratio, and the interval's close takes it off.
          this.#sample(now, false, false);
          this.#markAt(now);
          if (m.entered) {
            const charge = m.pendingMs * this.#lastRatio;
            m.cpuSettled += charge;
            this.#chargedCpu += charge;
            this.#chargedMs += m.pendingMs;
            m.pendingMs = 0;
          } else {
            // Its equal share of the unattributed time of the open interval since it started.
            const sinceMs =
              m.startEpoch === this.epoch
                ? this.#unattributedMs - m.unattributedMsAtStart
                : this.#unattributedMs;
            const ms = Math.max(0, sinceMs - this.#chargedUnattributedMs) / this.#untracked;
            const charge = ms * this.#lastRatio;
            this.#untracked--;
            m.untrackedCpu = this.#sums.untracked - m.startUntracked + charge;
            m.untrackedSettled = true;
            this.#chargedCpu += charge;
            this.#chargedUnattributedMs += ms;
          }
        } else this.#sample(now, false);
      } catch (error) {
        // A source failed (a GPU or energy reader): the job must still leave the active set, or
        // it would count as running forever.
        this.#drop(m);
        throw error;
      }
    }
    m.done = true;
    if (!m.entered && !m.untrackedSettled && this.#active.has(m)) {
      this.#untracked--;
      m.untrackedCpu = this.#sums.untracked - m.startUntracked;
    }
    const shared = !(m.aloneAtStart && this.#starts === m.startsAtStart);
    let cpuSeconds: number;
    let attribution: sc.Attribution;
    if (this.#mode === "event-loop") {
      this.#settle(m);
      // A job never entered took an equal share of the unattributed CPU with the others like it.
      cpuSeconds = Math.max(0, m.cpuSettled + m.untrackedCpu);
      attribution = m.entered ? sc.ATTRIBUTION.eventLoop : sc.ATTRIBUTION.equal;
    } else {
      cpuSeconds = Math.max(0, this.#sums.cpu - m.startCpu);
      if (synchronous && this.#starts === m.startsAtStart && this.#active.size > 1) {
        // The job held the thread from its start to its end and no job started meanwhile, so the
        // jobs that were also "active" could not run: it gets the whole CPU of its window, and the
        // equal share every other active job received for that window (= this job's share) is
        // taken back from the running sum.
        this.#sums.cpu -= cpuSeconds;
        cpuSeconds = Math.max(0, (this.lastCpuMicros - m.cpuMicrosAtStart) / 1e6);
      }
      attribution = sc.ATTRIBUTION.equal;
    }
    if (!shared) attribution = sc.ATTRIBUTION.exclusive;
    const peak = Math.max(this.#peak.maxSince(m.startSeq), this.#lastRss);
    if (this.#active.delete(m) && this.#active.size === 0) this.#sleep(now);
    const elapsedSeconds = Math.max(0, (now - m.startMs) / 1000);
    const memoryByteSeconds = this.#sums.memory - m.startMemory;
    const net = m.closeNetwork();
    const counters: JobCounters = {
      cpuSeconds,
      memoryAvgBytes: elapsedSeconds > 0 ? Math.max(0, memoryByteSeconds / elapsedSeconds) : this.#lastRss,
      memoryPeakBytes: peak,
      bytesSent: net.bytesSent,
      bytesReceived: net.bytesReceived,
      shared,
      attribution,
      elapsedSeconds,
      // Wall time stays split equally even for a synchronous job: the waiting jobs still hold
      // their share of the machine (memory, reserved vCPUs) while it runs.
      attributedSeconds: Math.min(elapsedSeconds, Math.max(0, this.#sums.wall - m.startWall)),
    };
    if (this.#gpu) counters.gpuJoules = Math.max(0, this.#sums.gpu - m.startGpu);
    if (m.cpuEnergyAtStart) {
      // Over the job's own window: its CPU time (already its share of the process's) against the
      // machine's busy time, applied to the package energy of the same window. The process's own
      // CPU time over the window (µs resolution) is a floor of that busy time, which /proc/stat
      // counts in 10 ms ticks: see attributeBetween.
      const end = this.#cpuEnergy?.snapshot();
      if (end) {
        const processCpuSeconds = Math.max(0, this.#processCpuMicros() - m.processMicrosAtStart) / 1e6;
        counters.cpuJoules = attributeBetween(m.cpuEnergyAtStart, end, cpuSeconds, processCpuSeconds);
      }
    }
    // The timer and the hooks stay on until a tick finds no job: back-to-back jobs do not pay for
    // switching them (enable + disable ≈ 4 µs). Old RSS readings are dropped by the tick too.
    return counters;
  }

  /** Removes a job whose counters cannot be computed. */
  #drop(m: Measurement): void {
    if (!this.#active.delete(m)) return;
    if (this.#active.size === 0) this.#sleep(this.#nowMs());
    m.done = true;
    if (!m.entered) this.#untracked--;
    m.closeNetwork();
  }

  /**
   * Drops the RSS readings older than the oldest running job: at each tick (readings come at most
   * every rssMaxAgeMs, one forced per tick) and at a start with no job running, not per finish.
   */
  #prunePeaks(): void {
    const oldest = this.#active.values().next().value;
    if (oldest) this.#peak.prune(oldest.startSeq);
  }

  /**
   * Called by the timer: a periodic sample with a fresh RSS reading, then jobs older than
   * maxJobSeconds are finished. With no job active it switches the hooks and the timer off. Never
   * throws: it runs in a timer, where a throw kills the process.
   */
  tick(): void {
    if (this.#active.size === 0) {
      try {
        // Closes the interval since the last job ended: all of it is nobody's.
        if (this.#hooked) this.#sample(this.#nowMs(), false, true);
      } catch (error) {
        this.#warnOnce("sample", "otel-co2e: job meter sample failed", error);
      }
      this.#disableHooks();
      this.#stopTimer();
      return;
    }
    try {
      this.#sample(this.#nowMs(), true);
      // Keeps the RAPL counters' wrap-around tracked during long jobs (one read per wrap is enough).
      this.#cpuEnergy?.snapshot();
    } catch (error) {
      this.#warnOnce("sample", "otel-co2e: job meter sample failed; jobs keep their earlier counters", error);
    }
    // Every running job's on-thread time into CPU seconds: the epoch ratios can be forgotten.
    for (const m of this.#active) this.#settle(m);
    this.#ratios.length = 0;
    this.#epochBase = this.epoch;
    this.#expireOldJobs(this.#nowMs());
    this.#prunePeaks();
  }

  /**
   * Finishes the jobs measured longer than maxJobSeconds (the set is in start order, so the oldest
   * come first). Their counters are kept: a span that ends later still gets them.
   */
  #expireOldJobs(now: number): void {
    for (const m of this.#active) {
      if (now - m.startMs <= this.#maxJobMs) break;
      this.#warnOnce(
        "maxAge",
        `otel-co2e: a job ran longer than sampler.maxJobSeconds (${this.#maxJobMs / 1000} s) and was finished by the sampler; was a span never ended?`,
      );
      try {
        m.finish();
      } catch {
        this.#drop(m);
      }
    }
  }

  #warnOnce(kind: string, message: string, error?: unknown): void {
    if (this.#warned.has(kind)) return;
    this.#warned.add(kind);
    if (error === undefined) diag.warn(message);
    else diag.warn(message, error);
  }

  /** First job after a pause: the CPU since the last sample was nobody's. */
  #reset(now: number): void {
    const cpu = this.#cpuMicros();
    if (this.#cpuStarted) this.#unattributedCpuSeconds += Math.max(0, cpu - this.lastCpuMicros) / 1e6;
    this.#cpuStarted = true;
    this.lastCpuMicros = cpu;
    this.#lastCpuReadMs = now;
    this.#chargedCpu = 0;
    this.#chargedMs = 0;
    this.#chargedUnattributedMs = 0;
    this.#carryCpu = 0;
    this.#lastMs = now;
    // On-thread time before the first job is outside every interval.
    this.#lastMark = this.#hookClock();
    this.#onThreadMs = 0;
    this.#unattributedMs = 0;
    if (this.#gpu) this.#lastGpuJoules = this.#gpu.totalJoules();
    this.#readRss(now, false);
    this.#peak.prune(this.#rssSeq);
  }

  #readRss(now: number, force: boolean): void {
    if (!force && now - this.#lastRssMs < (this.#rssMaxAgeMs ?? this.#intervalMs)) return;
    let rss: number;
    try {
      rss = this.#readRssBytes();
    } catch (error) {
      // process.memoryUsage.rss() throws EMFILE when the process is out of file descriptors. A
      // job must not fail for that: the last reading stands in until a reading works again.
      this.#warnOnce("rss", "otel-co2e: cannot read RSS; using the last reading", error);
      return;
    }
    this.#lastRss = rss;
    this.#lastRssMs = now;
    this.#rssSeq++;
    this.#peak.push(this.#rssSeq, this.#lastRss);
  }

  /** Closes the interval since the last sample, splitting it among the jobs active during it. */
  #sample(now: number, forceRss: boolean, readCpu = true): void {
    const n = this.#active.size;
    const rssBefore = this.#lastRss;
    this.#readRss(now, forceRss);
    const dtSeconds = Math.max(0, (now - this.#lastMs) / 1000);
    if (n > 0) {
      this.#sums.wall += dtSeconds / n;
      // Trapezoid between the readings at both ends of the interval.
      this.#sums.memory += (((rssBefore + this.#lastRss) / 2) * dtSeconds) / n;
    }
    if (this.#gpu) {
      const joules = this.#gpu.totalJoules();
      if (n > 0) this.#sums.gpu += Math.max(0, joules - this.#lastGpuJoules) / n;
      this.#lastGpuJoules = joules;
    }
    this.#lastMs = now;
    if (!readCpu) return;
    const cpuNow = this.#cpuMicros();
    const cpuSeconds = Math.max(0, cpuNow - this.lastCpuMicros) / 1e6;
    this.lastCpuMicros = cpuNow;
    this.#lastCpuReadMs = now;
    if (n === 0) {
      if (this.#hooked) this.#mark(); // the time up to now belongs to the interval closing
      this.#unattributedCpuSeconds += Math.max(0, cpuSeconds - this.#chargedCpu + this.#carryCpu);
      this.#chargedCpu = 0;
      this.#chargedMs = 0;
      this.#chargedUnattributedMs = 0;
      this.#carryCpu = 0;
      this.#onThreadMs = 0;
      this.#unattributedMs = 0;
    } else if (this.#mode === "equal") this.#sums.cpu += cpuSeconds / n;
    else this.#closeEpoch(cpuSeconds);
  }

  /**
   * Whether a finishing job can be charged without reading the CPU clock (≈ 1 µs, the largest part
   * of a short job's cost): event-loop mode, a job entered through run() with its time in the open
   * interval only, a ratio known from an earlier interval, and a reading younger than minCpuReadMs.
   */
  #canEstimate(m: Measurement, now: number): boolean {
    return (
      this.#mode === "event-loop" &&
      this.#hooked &&
      (m.entered ? m.epoch === this.epoch : this.#untracked > 0) &&
      this.#lastRatio > 0 &&
      now - this.#lastCpuReadMs < this.#minCpuReadMs
    );
  }

  /** Event-loop mode: splits the interval's CPU by on-thread time and opens the next epoch. */
  #closeEpoch(measuredSeconds: number): void {
    if (this.#hooked) this.#mark();
    // Jobs finished in this interval at the estimated ratio already took #chargedCpu of it; an
    // overcharge is carried into the next interval, so the totals still add up.
    const cpuSeconds = measuredSeconds - this.#chargedCpu + this.#carryCpu;
    const onThreadMs = this.#onThreadMs - this.#chargedMs - this.#chargedUnattributedMs;
    const unattributedMs = this.#unattributedMs - this.#chargedUnattributedMs;
    if (this.#onThreadMs > 0 && measuredSeconds > 0) this.#lastRatio = measuredSeconds / this.#onThreadMs;
    this.#carryCpu = Math.min(0, cpuSeconds);
    const available = Math.max(0, cpuSeconds);
    this.#chargedCpu = 0;
    this.#chargedMs = 0;
    this.#chargedUnattributedMs = 0;
    let unattributed: number;
    if (onThreadMs > 0) {
      const ratio = available / onThreadMs;
      this.#ratios.push(ratio);
      unattributed = unattributedMs * ratio;
    } else {
      // No callback ran (the CPU was GC, pool threads, the meter itself): nobody's on-thread time.
      this.#ratios.push(0);
      unattributed = available;
    }
    if (this.#untracked > 0) this.#sums.untracked += unattributed / this.#untracked;
    else this.#unattributedCpuSeconds += unattributed;
    this.epoch++;
    this.#onThreadMs = 0;
    this.#unattributedMs = 0;
  }

  #startTimer(): void {
    // Outside every job's context: the sampler's own callbacks are nobody's.
    this.#timer = jobContext.exit(() =>
      setInterval(() => {
        // A timer callback runs straight from the event loop: exactly one frame deep. Anything
        // else is drift (a callback that threw past its `after`): start again from here.
        if (this.#hooked && this.#depth !== 1) {
          this.#depth = 1;
          this.#stack[0] = null;
        }
        this.tick();
      }, this.#intervalMs),
    );
    // Never keeps the process alive on its own.
    this.#timer.unref();
  }

  #stopTimer(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

let shared: JobMeter | undefined;

/** The meter of this thread, shared by the job API and every CarbonSpanProcessor in it. */
export function defaultJobMeter(): JobMeter {
  shared ??= new JobMeter();
  return shared;
}
