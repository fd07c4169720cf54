/**
 * Samples a whole process tree from `/proc`: CPU time of every descendant (including those that
 * exited), resident memory, storage I/O.
 *
 * Why the CPU figure is complete without counting anything twice (docs/run-and-window.md):
 * - A live process's `/proc/PID/stat` holds its own time (utime + stime) and, in cutime + cstime,
 *   the whole time of every child it has waited for. When a child is reaped its total moves from
 *   its own row into its parent's cutime: the sum over live processes of own + children's time
 *   is therefore the tree's total so far, each tick counted once.
 * - The root command is reaped by co2e itself, so its final total (with everything it reaped) is
 *   the growth of co2e's own cutime + cstime between spawn and exit (`selfChildBaseline`).
 * - A process whose parent died is re-parented outside the tree (init or a subreaper): its time
 *   will never reach any cutime we read. We remember every tree process by pid + start time, so
 *   such an orphan keeps being counted by its own row, and by its last seen value once it is gone.
 * The same holds for the I/O counters: the kernel adds a reaped child's I/O to its parent's.
 */
import { listPids, type ProcIo, type ProcStat, readIo, readStat, systemUnits } from "./procfs.ts";

interface Tracked {
  pid: number;
  startTicks: number;
  /** Last seen parent pid. */
  ppid: number;
  alive: boolean;
  ownTicks: number;
  childTicks: number;
  io?: ProcIo;
}

/**
 * Storage I/O of the tree (`read_bytes`/`write_bytes`), bytes. rchar/wchar are not reported: co2e's
 * own reads of `/proc` and of the nvidia-smi pipe would land in them through its own counters.
 */
export interface StorageIo {
  readBytes: number;
  writeBytes: number;
}

export interface TreeTotals {
  cpuSeconds: number;
  /** Absent when some tree process's `/proc/PID/io` was unreadable (another user's setuid binary). */
  io?: StorageIo;
  /** Processes of the tree seen so far (including exited ones). */
  processesSeen: number;
}

export interface MemoryStats {
  /** Time-weighted mean of the tree's summed RSS over the samples, bytes. */
  avgBytes: number;
  peakBytes: number;
  samples: number;
}

const ZERO_IO: ProcIo = { readChars: 0, writeChars: 0, readBytes: 0, writeBytes: 0 };

function addIo(a: ProcIo, b: ProcIo, sign = 1): ProcIo {
  return {
    readChars: a.readChars + sign * b.readChars,
    writeChars: a.writeChars + sign * b.writeChars,
    readBytes: a.readBytes + sign * b.readBytes,
    writeBytes: a.writeBytes + sign * b.writeBytes,
  };
}

export class ProcessTreeSampler {
  readonly #selfPid = process.pid;
  readonly #ticksPerSecond: number;
  readonly #pageSizeBytes: number;
  /** Every process of the tree ever seen, by `pid:startTicks` (pids get reused). */
  readonly #tracked = new Map<string, Tracked>();
  /** co2e's cutime + cstime and I/O just before the spawn. */
  readonly #selfChildBaseline: number;
  readonly #selfIoBaseline: ProcIo | undefined;
  #selfChildDelta = 0;
  #selfIoDelta: ProcIo = ZERO_IO;
  #ioComplete = true;
  #root = -1;
  readonly #memory: { tMs: number; bytes: number }[] = [];

  /**
   * Create right BEFORE spawning the command: the baseline of co2e's reaped-children time is
   * taken here. Then `attach(pid)`. co2e must not reap other children between the two (the
   * long-running nvidia-smi child is reaped only after `finish`).
   */
  constructor() {
    const units = systemUnits();
    this.#ticksPerSecond = units.ticksPerSecond;
    this.#pageSizeBytes = units.pageSizeBytes;
    this.#selfChildBaseline = readStat("self")?.childTicks ?? 0;
    this.#selfIoBaseline = readIo("self");
  }

  attach(rootPid: number): void {
    this.#root = rootPid;
  }

  /** One scan of `/proc` at `tMs` (epoch ms): a few ms for a few hundred processes. */
  sample(tMs: number = Date.now()): void {
    if (this.#root < 0) return;
    const stats = new Map<number, ProcStat>();
    const children = new Map<number, number[]>();
    for (const pid of listPids()) {
      const stat = readStat(pid);
      if (!stat) continue;
      stats.set(pid, stat);
      const siblings = children.get(stat.ppid);
      if (siblings) siblings.push(pid);
      else children.set(stat.ppid, [pid]);
    }
    // Roots of the walk: the command and every tracked process still alive (orphans included).
    const queue: number[] = [this.#root];
    for (const t of this.#tracked.values()) {
      if (stats.get(t.pid)?.startTicks === t.startTicks) queue.push(t.pid);
    }
    const seen = new Set<string>();
    let rssPages = 0;
    for (let i = 0; i < queue.length; i++) {
      const pid = queue[i]!;
      const stat = stats.get(pid);
      if (!stat || pid === this.#selfPid) continue;
      const key = `${pid}:${stat.startTicks}`;
      if (seen.has(key)) continue;
      seen.add(key);
      let t = this.#tracked.get(key);
      if (!t) {
        t = { pid, startTicks: stat.startTicks, ppid: stat.ppid, alive: true, ownTicks: 0, childTicks: 0 };
        this.#tracked.set(key, t);
      }
      t.ppid = stat.ppid;
      // Counters only grow; max() guards against a torn read.
      t.ownTicks = Math.max(t.ownTicks, stat.ownTicks);
      t.childTicks = Math.max(t.childTicks, stat.childTicks);
      const io = readIo(pid);
      if (io) t.io = io;
      else if (stat.state !== "Z" && readStat(pid)?.startTicks === stat.startTicks) this.#ioComplete = false;
      if (stat.state !== "Z") rssPages += stat.rssPages;
      for (const child of children.get(pid) ?? []) queue.push(child);
    }
    for (const [key, t] of this.#tracked) t.alive = seen.has(key);
    this.#memory.push({ tMs, bytes: rssPages * this.#pageSizeBytes });
  }

  /**
   * Call once the root has been reaped (its `exit` event): takes co2e's own cutime/cstime growth,
   * which now holds the root's whole total, and scans once more for processes left behind.
   */
  finish(tMs: number = Date.now()): void {
    const self = readStat("self");
    if (self) this.#selfChildDelta = Math.max(0, self.childTicks - this.#selfChildBaseline);
    const selfIo = readIo("self");
    if (selfIo && this.#selfIoBaseline) this.#selfIoDelta = addIo(selfIo, this.#selfIoBaseline, -1);
    this.sample(tMs);
  }

  /**
   * Tree totals so far: co2e's reaped-child growth + every live tree process's own and reaped
   * children's time + the last seen time of exited processes whose parent was outside the tree
   * (orphans re-parented to init: nobody in the tree reaped them). An exited process whose parent
   * was in the tree (or co2e) is not counted: its time is in that parent's cutime.
   */
  totals(): TreeTotals {
    const treePids = new Set<number>([this.#selfPid]);
    for (const t of this.#tracked.values()) treePids.add(t.pid);
    let ticks = this.#selfChildDelta;
    let io: ProcIo = this.#selfIoDelta;
    for (const t of this.#tracked.values()) {
      if (!t.alive && treePids.has(t.ppid)) continue;
      ticks += t.ownTicks + t.childTicks;
      if (t.io) io = addIo(io, t.io);
    }
    const result: TreeTotals = {
      cpuSeconds: ticks / this.#ticksPerSecond,
      processesSeen: this.#tracked.size,
    };
    if (this.#ioComplete && this.#selfIoBaseline)
      result.io = { readBytes: io.readBytes, writeBytes: io.writeBytes };
    return result;
  }

  memory(): MemoryStats | undefined {
    const m = this.#memory.filter((s) => s.bytes > 0);
    if (m.length === 0) return undefined;
    const peakBytes = Math.max(...m.map((s) => s.bytes));
    if (m.length === 1) return { avgBytes: m[0]!.bytes, peakBytes, samples: 1 };
    let area = 0;
    for (let i = 1; i < m.length; i++)
      area += ((m[i - 1]!.bytes + m[i]!.bytes) / 2) * (m[i]!.tMs - m[i - 1]!.tMs);
    const span = m.at(-1)!.tMs - m[0]!.tMs;
    return { avgBytes: span > 0 ? area / span : peakBytes, peakBytes, samples: m.length };
  }
}
