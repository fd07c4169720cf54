/**
 * The shared per-thread job meter: one sampler splits the thread's (or process's) CPU time, resident
 * memory and GPU energy among the jobs active in each interval.
 *
 * Attribution rule (documented in docs/jobs.md): every interval between two samples is split in
 * EQUAL shares among the jobs active during it. A sample is taken at every job start and end and
 * every `intervalMs` while at least one job runs, so the set of active jobs is constant inside an
 * interval. Because every active job receives the same share, the meter keeps one running sum per
 * counter ("share per job so far") and a job's usage is that sum at its end minus the sum at its
 * start: O(1) per sample and per job, whatever the number of concurrent jobs, and the shares of all
 * jobs add up exactly to the measured total over the same time. Wall time is split the same way
 * (`attributedSeconds`): four jobs sharing a minute are attributed a quarter-minute each, so the
 * time-based terms of the model (linear idle power, embodied carbon) are paid once, not 4×.
 *
 * Synchronous jobs: a job whose callback returns without yielding blocks the thread, so the other
 * "active" jobs cannot have run JavaScript meanwhile. When such a job ends and no job started during
 * it, it receives all the CPU of its window and the others none (the sum still adds up). Memory stays
 * split: the waiting jobs still hold theirs.
 */
import { isMainThread } from "node:worker_threads";
import { diag } from "@opentelemetry/api";
import { attributeBetween, type MachineCpuEnergy, type MachineCpuSnapshot } from "../power/attribution.ts";
import { type JobNetwork, NetworkTracker } from "./network.ts";

/** Cumulative GPU energy source (src/gpu/nvidia-smi.ts implements it). */
export interface GpuEnergySource {
  /** Joules since the source started. */
  totalJoules(): number;
}

/** Which CPU clock the meter reads. */
export type CpuClock = "process" | "thread";

export interface JobMeterOptions {
  /**
   * Sampling interval while jobs run, ms.
   * @default 1000
   */
  intervalMs?: number;
  /**
   * `process`: process.cpuUsage(), which includes libuv pool threads, GC helpers and every worker
   * thread. `thread`: process.threadCpuUsage() (Node ≥ 23.9), this thread only.
   * @default "process" in the main thread, "thread" in a worker when available
   */
  cpuClock?: CpuClock;
  /** Measured GPU energy, shared among overlapping jobs like CPU. */
  gpu?: GpuEnergySource;
  /**
   * Machine package energy + busy time (RAPL and /proc/stat, `rapl` CPU model): each job gets the
   * share of the package energy over its window that its CPU time is of the machine's busy time.
   */
  cpuEnergy?: MachineCpuEnergy;
  /**
   * An RSS reading younger than this is reused at job start/end (a reading costs ≈ 8 µs).
   * @default 10
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
   * @default 86400 (config `sampler.maxJobSeconds`)
   */
  maxJobSeconds?: number;
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
export interface JobMeasurement {
  /** Network attribution for sockets used inside this job's async context. */
  readonly network: JobNetwork;
  /**
   * Stops measuring and returns the counters. Idempotent: later calls return the same counters.
   * `synchronous`: the job ran start to end without yielding to the event loop (withJob knows this
   * when its callback returns a non-promise); see JobMeter's note on synchronous jobs.
   */
  finish(options?: { synchronous?: boolean }): JobCounters;
}

const threadCpuUsage = (process as { threadCpuUsage?: (prev?: NodeJS.CpuUsage) => NodeJS.CpuUsage })
  .threadCpuUsage;

function defaultCpuClock(): CpuClock {
  return !isMainThread && typeof threadCpuUsage === "function" ? "thread" : "process";
}

function cpuMicros(clock: CpuClock): number {
  const u = clock === "thread" && threadCpuUsage ? threadCpuUsage.call(process) : process.cpuUsage();
  return u.user + u.system;
}

interface Sums {
  /** Σ cpuSeconds / activeJobs over intervals. */
  cpu: number;
  /** Σ rss × dt / activeJobs, byte-seconds. */
  memory: number;
  /** Σ gpuJoules / activeJobs. */
  gpu: number;
  /** Σ dt / activeJobs, seconds of wall time. */
  wall: number;
}

class Measurement implements JobMeasurement {
  readonly network: JobNetwork;
  readonly #meter: JobMeter;
  readonly startSums: Sums;
  readonly startMs: number;
  readonly startSeq: number;
  readonly startsAtStart: number;
  readonly aloneAtStart: boolean;
  /** Raw clock reading at the start sample, µs. */
  readonly cpuMicrosAtStart: number;
  /** Package energy and machine busy time at the start (rapl model only). */
  cpuEnergyAtStart: MachineCpuSnapshot | undefined;
  /** Process CPU clock at the start, µs (rapl model only): floor of the machine's busy time. */
  processMicrosAtStart = 0;
  result: JobCounters | undefined;

  constructor(
    meter: JobMeter,
    sums: Sums,
    nowMs: number,
    seq: number,
    starts: number,
    alone: boolean,
    cpuMicrosAtStart: number,
  ) {
    this.#meter = meter;
    this.cpuMicrosAtStart = cpuMicrosAtStart;
    this.startSums = sums;
    this.startMs = nowMs;
    this.startSeq = seq;
    this.startsAtStart = starts;
    this.aloneAtStart = alone;
    this.network = meter.network.open();
  }

  finish(options?: { synchronous?: boolean }): JobCounters {
    if (!this.result) this.result = this.#meter.finishMeasurement(this, options?.synchronous === true);
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

const DEFAULT_MAX_JOB_SECONDS = 24 * 60 * 60;

function defaultReadRssBytes(): number {
  return process.memoryUsage.rss();
}

export class JobMeter {
  readonly network: NetworkTracker;
  #intervalMs: number;
  readonly #cpuClock: CpuClock;
  readonly #rssMaxAgeMs: number;
  readonly #readRssBytes: () => number;
  #maxJobMs: number;
  /** Warnings already sent to diag: each kind once per meter. */
  readonly #warned = new Set<string>();
  #gpu: GpuEnergySource | undefined;
  #cpuEnergy: MachineCpuEnergy | undefined;

  /** Jobs running, in start order (the first is the oldest, for peak pruning). */
  readonly #active = new Set<Measurement>();
  #sums: Sums = { cpu: 0, memory: 0, gpu: 0, wall: 0 };
  #lastMs = 0;
  #lastCpuMicros = 0;
  #lastGpuJoules = 0;
  #lastRss = 0;
  #lastRssMs = Number.NEGATIVE_INFINITY;
  /** Sequence number of the current RSS reading. */
  #rssSeq = 0;
  /** Jobs started so far; a job saw no other job iff it started alone and none started after it. */
  #starts = 0;
  readonly #peak = new PeakTracker();
  #timer: NodeJS.Timeout | undefined;

  constructor(options: JobMeterOptions = {}) {
    this.#intervalMs = options.intervalMs ?? 1000;
    this.#cpuClock = options.cpuClock ?? defaultCpuClock();
    this.#rssMaxAgeMs = options.rssMaxAgeMs ?? 10;
    this.#readRssBytes = options.readRssBytes ?? defaultReadRssBytes;
    this.#maxJobMs = (options.maxJobSeconds ?? DEFAULT_MAX_JOB_SECONDS) * 1000;
    this.#gpu = options.gpu;
    this.#cpuEnergy = options.cpuEnergy;
    this.network = new NetworkTracker();
  }

  get cpuClock(): CpuClock {
    return this.#cpuClock;
  }

  get activeJobs(): number {
    return this.#active.size;
  }

  get hasGpu(): boolean {
    return this.#gpu !== undefined;
  }

  /** Attaches (or detaches) the GPU source. Jobs already running report GPU energy from the next sample. */
  setGpu(gpu: GpuEnergySource | undefined): void {
    if (this.#active.size > 0) this.#sample(performance.now(), false);
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
    const now = performance.now();
    const alone = this.#active.size === 0;
    if (alone) this.#reset(now);
    else this.#sample(now, false);
    this.#starts++;
    const m = new Measurement(
      this,
      { ...this.#sums },
      now,
      this.#rssSeq,
      this.#starts,
      alone,
      this.#lastCpuMicros,
    );
    m.cpuEnergyAtStart = this.#cpuEnergy?.snapshot();
    if (m.cpuEnergyAtStart) m.processMicrosAtStart = this.#processMicros();
    this.#active.add(m);
    if (!this.#timer) this.#startTimer();
    return m;
  }

  /** @internal called by Measurement.finish */
  finishMeasurement(m: Measurement, synchronous: boolean): JobCounters {
    const now = performance.now();
    if (this.#active.has(m)) {
      try {
        this.#sample(now, false);
      } catch (error) {
        // A source failed (a GPU or energy reader): the job must still leave the active set, or
        // it would count as running forever.
        this.#drop(m);
        throw error;
      }
    }
    let cpuSeconds = Math.max(0, this.#sums.cpu - m.startSums.cpu);
    if (synchronous && this.#starts === m.startsAtStart && this.#active.size > 1) {
      // The job held the thread from its start to its end and no job started meanwhile, so the
      // jobs that were also "active" could not run: it gets the whole CPU of its window, and the
      // equal share every other active job received for that window (= this job's share) is
      // taken back from the running sum.
      this.#sums.cpu -= cpuSeconds;
      cpuSeconds = Math.max(0, (this.#lastCpuMicros - m.cpuMicrosAtStart) / 1e6);
    }
    const peak = Math.max(this.#peak.maxSince(m.startSeq), this.#lastRss);
    this.#active.delete(m);
    const elapsedSeconds = Math.max(0, (now - m.startMs) / 1000);
    const memoryByteSeconds = this.#sums.memory - m.startSums.memory;
    const net = m.network.close();
    const counters: JobCounters = {
      cpuSeconds,
      memoryAvgBytes: elapsedSeconds > 0 ? Math.max(0, memoryByteSeconds / elapsedSeconds) : this.#lastRss,
      memoryPeakBytes: peak,
      bytesSent: net.bytesSent,
      bytesReceived: net.bytesReceived,
      shared: !(m.aloneAtStart && this.#starts === m.startsAtStart),
      elapsedSeconds,
      // Wall time stays split equally even for a synchronous job: the waiting jobs still hold
      // their share of the machine (memory, reserved vCPUs) while it runs.
      attributedSeconds: Math.min(elapsedSeconds, Math.max(0, this.#sums.wall - m.startSums.wall)),
    };
    if (this.#gpu) counters.gpuJoules = Math.max(0, this.#sums.gpu - m.startSums.gpu);
    if (m.cpuEnergyAtStart) {
      // Over the job's own window: its CPU time (already its share of the process's) against the
      // machine's busy time, applied to the package energy of the same window. The process's own
      // CPU time over the window (µs resolution) is a floor of that busy time, which /proc/stat
      // counts in 10 ms ticks: see attributeBetween.
      const end = this.#cpuEnergy?.snapshot();
      if (end) {
        const processCpuSeconds = Math.max(0, this.#processMicros() - m.processMicrosAtStart) / 1e6;
        counters.cpuJoules = attributeBetween(m.cpuEnergyAtStart, end, cpuSeconds, processCpuSeconds);
      }
    }
    this.#afterRemoval();
    return counters;
  }

  /** Removes a job whose counters cannot be computed. */
  #drop(m: Measurement): void {
    if (!this.#active.delete(m)) return;
    try {
      m.network.close();
    } finally {
      this.#afterRemoval();
    }
  }

  #afterRemoval(): void {
    if (this.#active.size === 0) this.#stopTimer();
    else {
      const oldest = this.#active.values().next().value;
      if (oldest) this.#peak.prune(oldest.startSeq);
    }
  }

  /**
   * Called by the timer: a periodic sample with a fresh RSS reading, then jobs older than
   * maxJobSeconds are finished. Never throws: it runs in a timer, where a throw kills the process.
   */
  tick(): void {
    if (this.#active.size === 0) return;
    try {
      this.#sample(performance.now(), true);
      // Keeps the RAPL counters' wrap-around tracked during long jobs (one read per wrap is enough).
      this.#cpuEnergy?.snapshot();
    } catch (error) {
      this.#warnOnce("sample", "otel-co2e: job meter sample failed; jobs keep their earlier counters", error);
    }
    this.#expireOldJobs(performance.now());
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

  /**
   * The whole process's CPU clock, µs. With the process clock it is the meter's own last reading
   * (the same reading the jobs' shares come from); a worker's thread clock reads it separately so
   * that jobs in other threads count too.
   */
  #processMicros(): number {
    return this.#cpuClock === "process" ? this.#lastCpuMicros : cpuMicros("process");
  }

  #reset(now: number): void {
    this.#lastMs = now;
    this.#lastCpuMicros = cpuMicros(this.#cpuClock);
    if (this.#gpu) this.#lastGpuJoules = this.#gpu.totalJoules();
    // A reading younger than rssMaxAgeMs is reused: back-to-back short jobs do not pay ≈8 µs each.
    this.#readRss(now, false);
    this.#peak.prune(this.#rssSeq);
  }

  #readRss(now: number, force: boolean): void {
    if (!force && now - this.#lastRssMs < this.#rssMaxAgeMs) return;
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
  #sample(now: number, forceRss: boolean): void {
    const n = this.#active.size;
    const cpuNow = cpuMicros(this.#cpuClock);
    const rssBefore = this.#lastRss;
    this.#readRss(now, forceRss);
    const dtSeconds = Math.max(0, (now - this.#lastMs) / 1000);
    if (n > 0) {
      this.#sums.wall += dtSeconds / n;
      this.#sums.cpu += Math.max(0, cpuNow - this.#lastCpuMicros) / 1e6 / n;
      // Trapezoid between the readings at both ends of the interval.
      this.#sums.memory += (((rssBefore + this.#lastRss) / 2) * dtSeconds) / n;
    }
    if (this.#gpu) {
      const joules = this.#gpu.totalJoules();
      if (n > 0) this.#sums.gpu += Math.max(0, joules - this.#lastGpuJoules) / n;
      this.#lastGpuJoules = joules;
    }
    this.#lastCpuMicros = cpuNow;
    this.#lastMs = now;
  }

  #startTimer(): void {
    this.#timer = setInterval(() => this.tick(), this.#intervalMs);
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
